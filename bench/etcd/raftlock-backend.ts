// raftlock in the side-by-side benchmark: a local 3-node cluster of real node processes (fsync on,
// 127.0.0.1, data in a temp directory) started through the Launcher, and the `LockBackend` over the
// client library: one `RaftlockClient` per benchmark client (or one shared by every worker), its
// blocking `lock()` (the mutex's FIFO queue on the server, never a retry loop) and `release()`.
// The cluster runs in one of the two modes a raftlock cluster has: secure (mutual TLS on the peer
// ports, TLS on the client ports, clients authenticated by root's certificate, as `raftlock up`
// sets it up) or insecure (plaintext, said out loud in cluster.yml).
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '../../src/client/client.js';
import type { RaftlockClient } from '../../src/client/client.js';
import type { ConnectOptions } from '../../src/client/options.js';
import type { Lock } from '../../src/client/lock.js';
import type { NodeId } from '../../src/raft/types.js';
import { nodeId } from '../../src/raft/types.js';
import { loadClusterConfig } from '../../src/config/cluster-config.js';
import { Launcher } from '../../src/server/launcher.js';
import { allocateLocalNodes, writeLocalClusterFile } from '../../src/config/local-cluster-file.js';
import type { LocalNode } from '../../src/config/local-cluster-file.js';
import { ensureLocalPki, pkiLayout } from '../../src/security/pki.js';
import type { BackendFactory, LockBackend } from './backend.js';
import { killCurrentLeader } from './workloads.js';
import type { FailoverControl } from './workloads.js';
import { sharedClientFactory } from './shared.js';
import { residentBytes } from '../resident-memory.js';

/** The cluster id of the benchmarks' clusters (clients check it on connecting). */
export const benchClusterId = 'bench';

/** What every client of a bench cluster connects with: its cluster id and its transport. */
export type ClusterConnectOptions = Pick<ConnectOptions, 'clusterId' | 'tls'>;

/** A running local cluster; `stop` SIGTERMs (then SIGKILLs) every node and removes the data. */
export class RaftlockCluster {
  private constructor(
    readonly dir: string,
    readonly nodes: readonly LocalNode[],
    private readonly launcher: Launcher,
    /** The cluster id, and root's certificate in secure mode or `tls: false` in insecure mode. */
    readonly connectOptions: ClusterConnectOptions,
  ) {}

  /**
   * Starts `count` nodes (tick 50 ms, election 10 ticks, fsync on) and waits for a leader.
   * `connectionsMax` sets cluster.yml's `limits.connectionsMax` (client connections per node), and
   * the per-address and unauthenticated limits to the same.
   * With `tls`, the cluster is secure: `ensureLocalPki` makes a CA, every node's certificate and
   * root's client certificate under `<dir>/pki` (what `raftlock up` does on a first start), and
   * cluster.yml's `security.pki` points there; without it, cluster.yml says `insecure: true`.
   */
  static async start(
    count: number,
    parentDir: string,
    options: { readonly connectionsMax?: number; readonly tls: boolean },
  ): Promise<RaftlockCluster> {
    const dir = mkdtempSync(join(parentDir, 'raftlock-bench-'));
    const nodes = await allocateLocalNodes(count);
    const pki = join(dir, 'pki');
    if (options.tls)
      await ensureLocalPki(
        pki,
        nodes.map((n) => ({ id: n.id, hosts: ['127.0.0.1'] })),
      );
    const file = writeLocalClusterFile(dir, nodes, {
      clusterId: benchClusterId,
      tick: '50ms',
      election: 10,
      snapshotEntries: 100_000,
      security: options.tls ? { pki } : 'insecure',
    });
    if (options.connectionsMax !== undefined) {
      // Every benchmark client comes from 127.0.0.1, and up to 256 open at once: the per-address
      // and not-yet-authenticated budgets, meant for strangers, get the same room as the total.
      const n = options.connectionsMax;
      appendFileSync(
        file,
        `limits:\n  connectionsMax: ${n}\n  connectionsPerSourceMax: ${n}\n  connectionsUnauthenticatedMax: ${n}\n`,
      );
    }
    const root = pkiLayout.user(pki, 'root');
    const rootTls = options.tls
      ? { ca: readFileSync(root.ca), cert: readFileSync(root.cert), key: readFileSync(root.key) }
      : null;
    const connectOptions: ClusterConnectOptions = { clusterId: benchClusterId, tls: rootTls ?? false };
    const config = await loadClusterConfig(file);
    if (!config.ok) throw new Error(config.error.message);
    const launcher = new Launcher({
      config: config.value,
      logLevel: 'warn',
      includeJoining: false,
      out: () => undefined,
      stopTimeoutMs: 5000,
      // The launcher asks the nodes who leads over their client port: with root's certificate.
      ...(rootTls === null ? {} : { clientTls: rootTls }),
    });
    const cluster = new RaftlockCluster(dir, nodes, launcher, connectOptions);
    // Whatever ends this process, the nodes go with it (their stdin lifeline closes too).
    process.once('exit', () => {
      for (const pid of launcher.pids.values()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    });
    await launcher.start();
    if ((await launcher.waitForLeader(30_000)) === null)
      throw new Error('the raftlock cluster elected no leader within 30 s');
    await cluster.checkMode(options.tls);
    return cluster;
  }

  /**
   * The rows are labelled by transport, so the label is checked rather than assumed: over TLS the
   * cluster must know the client as root (its certificate authenticated it); in plaintext, as no
   * principal (an insecure cluster).
   */
  private async checkMode(tls: boolean): Promise<void> {
    const client = await connect({ ...this.connectOptions, endpoints: this.endpoints });
    try {
      const { principal } = await client.whoami();
      const expected = tls ? 'root' : null;
      if (principal !== expected)
        throw new Error(
          `the ${tls ? 'secure' : 'insecure'} bench cluster sees its client as ${String(principal)}, not ${String(expected)}`,
        );
    } finally {
      await client.close();
    }
  }

  get endpoints(): string[] {
    return this.nodes.map((n) => `127.0.0.1:${n.clientPort}`);
  }

  /** The PIDs of the running node processes (for their CPU). */
  get pids(): number[] {
    return [...this.launcher.pids.values()];
  }

  /** The PID of each running node, by node id. */
  get nodePids(): ReadonlyMap<NodeId, number> {
    return this.launcher.pids;
  }

  leader(): Promise<NodeId | null> {
    return this.launcher.leader();
  }

  kill(id: NodeId): void {
    const pid = this.launcher.pids.get(id);
    if (pid === undefined) throw new Error(`no pid for ${id}`);
    process.kill(pid, 'SIGKILL');
  }

  async restart(id: NodeId): Promise<void> {
    await this.launcher.restart(id);
    if ((await this.launcher.waitForLeader(30_000)) === null)
      throw new Error(`no leader within 30 s after restarting ${id}`);
  }

  /** Resident memory of each running node, from /proc (Linux). */
  rssBytes(): Map<string, number> {
    return residentBytes(this.launcher.pids);
  }

  async stop(): Promise<void> {
    await this.launcher.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export type RaftlockClientOptions = {
  /** Session TTL; long for the queue, so thousands of idle waiters cost few keepalives. */
  readonly ttlMs?: number;
  /** How long one attempt waits before presuming the connection dead (failover: short). */
  readonly attemptTimeoutMs?: number;
  /**
   * Stay on the node first reached (it forwards to the leader) instead of following the leader.
   * A node serves at most 1,024 client connections, so more clients than that must spread.
   */
  readonly spread?: boolean;
};

class RaftlockLockClient implements LockBackend<Lock> {
  constructor(private readonly client: RaftlockClient) {}

  acquire(name: string): Promise<Lock> {
    return this.client.lock(name, { waitMs: 600_000 });
  }

  release(handle: Lock): Promise<void> {
    return handle.release();
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** Clients spread their first connection over the endpoints; each then follows the leader. */
export function raftlockFactory(cluster: RaftlockCluster, options: RaftlockClientOptions = {}): BackendFactory<Lock> {
  const endpoints = cluster.endpoints;
  return {
    name: 'raftlock',
    open: async (index) => {
      const rotated = [...endpoints.slice(index % endpoints.length), ...endpoints.slice(0, index % endpoints.length)];
      const client = await connect({
        ...cluster.connectOptions,
        endpoints: rotated,
        followLeader: options.spread !== true,
        ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
        ...(options.attemptTimeoutMs === undefined ? {} : { attemptTimeoutMs: options.attemptTimeoutMs }),
      });
      await client.session();
      return new RaftlockLockClient(client);
    },
  };
}

/**
 * Workers sharing one client: one connection (to the leader) and one session, commands on lanes;
 * `turnsPerGrant` above 1 lets one grant serve the workers queued for a lock in turn.
 */
export function raftlockSharedFactory(
  cluster: RaftlockCluster,
  options: { readonly turnsPerGrant?: number } = {},
): BackendFactory<Lock> {
  return sharedClientFactory('raftlock', async () => {
    const client = await connect({ ...cluster.connectOptions, endpoints: cluster.endpoints, ...options });
    return new RaftlockLockClient(client);
  });
}

export function raftlockControl(cluster: RaftlockCluster): FailoverControl {
  return {
    killLeader: () => killCurrentLeader('raftlock', cluster),
    restart: (name) => cluster.restart(nodeId(name)),
  };
}
