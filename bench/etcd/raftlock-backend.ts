// raftlock in the side-by-side benchmark: a local 3-node cluster of real node processes (fsync on,
// 127.0.0.1, data in a temp directory) started through the Launcher, and the `LockBackend` over the
// client library: one `RaftlockClient` per benchmark client (or one shared by every worker), its
// blocking `lock()` (the mutex's FIFO queue on the server, never a retry loop) and `release()`.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '../../src/client/client.js';
import type { RaftlockClient } from '../../src/client/client.js';
import type { Lock } from '../../src/client/lock.js';
import type { NodeId } from '../../src/raft/types.js';
import { nodeId } from '../../src/raft/types.js';
import { loadClusterConfig } from '../../src/server/cluster-config.js';
import { Launcher } from '../../src/server/launcher.js';
import { allocateLocalNodes, writeLocalClusterFile } from '../../src/server/local-cluster-file.js';
import type { LocalNode } from '../../src/server/local-cluster-file.js';
import type { BackendFactory, LockBackend } from './backend.js';
import { killCurrentLeader } from './workloads.js';
import type { FailoverControl } from './workloads.js';
import { sharedClientFactory } from './shared.js';

/** The cluster id of the benchmarks' clusters (clients check it on connecting). */
export const benchClusterId = 'bench';

/** A running local cluster; `stop` SIGTERMs (then SIGKILLs) every node and removes the data. */
export class RaftlockCluster {
  private constructor(
    readonly dir: string,
    readonly nodes: readonly LocalNode[],
    private readonly launcher: Launcher,
  ) {}

  /**
   * Starts `count` nodes (tick 50 ms, election 10 ticks, fsync on) and waits for a leader.
   * `connectionsMax` sets cluster.yml's `limits.connectionsMax` (client connections per node).
   */
  static async start(count: number, parentDir: string, connectionsMax?: number): Promise<RaftlockCluster> {
    const dir = mkdtempSync(join(parentDir, 'raftlock-bench-'));
    const nodes = await allocateLocalNodes(count);
    const file = writeLocalClusterFile(dir, nodes, { clusterId: benchClusterId, tick: '50ms', election: 10, snapshotEntries: 100_000, security: 'insecure' });
    if (connectionsMax !== undefined) appendFileSync(file, `limits:\n  connectionsMax: ${connectionsMax}\n`);
    const config = await loadClusterConfig(file);
    if (!config.ok) throw new Error(config.error.message);
    const launcher = new Launcher({ config: config.value, logLevel: 'warn', includeJoining: false, out: () => undefined, stopTimeoutMs: 5000 });
    const cluster = new RaftlockCluster(dir, nodes, launcher);
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
    if ((await launcher.waitForLeader(30_000)) === null) throw new Error('the raftlock cluster elected no leader within 30 s');
    return cluster;
  }

  get endpoints(): string[] {
    return this.nodes.map((n) => `127.0.0.1:${n.clientPort}`);
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
    if ((await this.launcher.waitForLeader(30_000)) === null) throw new Error(`no leader within 30 s after restarting ${id}`);
  }

  /** Resident memory of each running node, from /proc (Linux). */
  rssBytes(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, pid] of this.launcher.pids) {
      try {
        const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (kb !== null) out.set(id, Number(kb[1]) * 1024);
      } catch {
        // The node exited; it has no memory to report.
      }
    }
    return out;
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
export function raftlockFactory(endpoints: readonly string[], options: RaftlockClientOptions = {}): BackendFactory<Lock> {
  return {
    name: 'raftlock',
    open: async (index) => {
      const rotated = [...endpoints.slice(index % endpoints.length), ...endpoints.slice(0, index % endpoints.length)];
      const client = await connect({
        endpoints: rotated,
        clusterId: benchClusterId,
        followLeader: options.spread !== true,
        ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
        ...(options.attemptTimeoutMs === undefined ? {} : { attemptTimeoutMs: options.attemptTimeoutMs }),
      });
      await client.session();
      return new RaftlockLockClient(client);
    },
  };
}

/** Workers sharing one client: one connection (to the leader) and one session, commands on lanes. */
export function raftlockSharedFactory(endpoints: readonly string[]): BackendFactory<Lock> {
  return sharedClientFactory('raftlock', async () => {
    const client = await connect({ endpoints: [...endpoints], clusterId: benchClusterId });
    return new RaftlockLockClient(client);
  });
}

export function raftlockControl(cluster: RaftlockCluster): FailoverControl {
  return {
    killLeader: () => killCurrentLeader('raftlock', () => cluster.leader(), (id) => cluster.kill(id)),
    restart: (name) => cluster.restart(nodeId(name)),
  };
}
