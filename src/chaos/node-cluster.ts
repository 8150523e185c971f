/**
 * The chaos cluster: node processes on 127.0.0.1 whose peer links all run through a `ProxyMesh`,
 * controlled by PID (`ManagedProcess`) and by admin calls (leader, transfer, membership). Each
 * node gets its own cluster file in which the other nodes' peer addresses are the proxy ports of
 * its outgoing links, so a directed link a->b carries exactly what a sends to b.
 *
 * A node re-added after removal starts empty with `join: true` and is added as a learner, then
 * promoted once it has caught up. The membership change names the node only: every node keeps
 * dialling the address in its own cluster file, so links to and from a re-added node still run
 * through the proxies (test/chaos/node-cluster.test.ts cuts them and watches its log stop).
 *
 * The cluster is secure, as a real one: its PKI (`<dir>/pki`, made as `raftlock up` makes it) gives
 * every node a certificate that proves its node id, and every link is TLS through the proxies,
 * which relay bytes and cannot read them. A node checks the node id its peer's certificate proves,
 * never the address it dialled, so a proxy's port in between changes nothing. Admin calls act as
 * root (its certificate); the workload acts as users of its own (principals.ts).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { connect } from '../client/client.js';
import type { RaftlockClient } from '../client/client.js';
import { nodeId } from '../raft/types.js';
import { ensureLocalClusterPki, writeLocalClusterFile } from '../config/local-cluster-file.js';
import type { LocalRootTls } from '../config/local-cluster-file.js';
import { probeStatus } from '../server/server-probe.js';
import type { NodeStatusView } from '../protocol/client-protocol.js';
import type { FinalRead } from './final-state.js';
import type { ChaosCluster } from './nemesis.js';
import { ManagedProcess } from './processes.js';
import { nodeStartCommand } from '../server/node-process.js';
import { ProxyMesh } from './proxy.js';

export type ChaosNode = { readonly id: string; readonly peerPort: number; readonly clientPort: number };

export type NodeClusterOptions = {
  readonly dir: string;
  readonly count: number;
  readonly clusterId: string;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly sessionTtlMinMs: number;
  readonly logLevel: string;
};

/**
 * `count` ports the OS hands out on 127.0.0.1, each held by a listener until `release`: the proxy
 * mesh starts meanwhile, and its own listeners (port 0) must not be handed a port a node is about
 * to bind (that collision made a node refuse its cluster file).
 */
async function holdPorts(
  count: number,
): Promise<{ readonly ports: readonly number[]; readonly release: () => Promise<void> }> {
  const servers: Server[] = [];
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    servers.push(server);
    ports.push((server.address() as AddressInfo).port);
  }
  const release = async (): Promise<void> => {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  };
  return { ports, release };
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class NodeCluster implements ChaosCluster {
  private readonly processes = new Map<string, ManagedProcess>();

  private constructor(
    private readonly options: NodeClusterOptions,
    readonly nodes: readonly ChaosNode[],
    readonly mesh: ProxyMesh,
    /** The CA and root's certificate: what an admin client of this cluster presents. */
    readonly rootTls: LocalRootTls,
  ) {}

  /** The cluster's PKI directory (the CA's key included, to make more certificates). */
  static pkiDir(dir: string): string {
    return join(dir, 'pki');
  }

  static async start(options: NodeClusterOptions): Promise<NodeCluster> {
    const held = await holdPorts(2 * options.count);
    const nodes: ChaosNode[] = [];
    for (let i = 1; i <= options.count; i++) {
      nodes.push({
        id: `n${i}`,
        peerPort: held.ports[2 * i - 2] as number,
        clientPort: held.ports[2 * i - 1] as number,
      });
    }
    const targets = new Map(nodes.map((n) => [n.id, { host: '127.0.0.1', port: n.peerPort }] as const));
    let mesh: ProxyMesh;
    try {
      mesh = await ProxyMesh.start(targets);
    } finally {
      await held.release();
    }
    let rootTls: LocalRootTls;
    try {
      rootTls = await ensureLocalClusterPki(
        NodeCluster.pkiDir(options.dir),
        nodes.map((n) => n.id),
      );
    } catch (error) {
      await mesh.close();
      throw error;
    }
    const cluster = new NodeCluster(options, nodes, mesh, rootTls);
    mkdirSync(join(options.dir, 'logs'), { recursive: true });
    for (const n of nodes) cluster.spawn(n.id, false);
    await cluster.waitReady(
      nodes.map((n) => n.id),
      60_000,
    );
    return cluster;
  }

  get endpoints(): string[] {
    return this.nodes.map((n) => `127.0.0.1:${n.clientPort}`);
  }

  private node(id: string): ChaosNode {
    const n = this.nodes.find((x) => x.id === id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /** The cluster file `id` reads: its own real addresses, the others' behind its outgoing proxies. */
  private writeConfig(id: string, joining: boolean): string {
    const book = this.mesh.addressesFor(id);
    const o = this.options;
    const seen = this.nodes.map((n) => {
      const proxied = book.get(n.id);
      const peerPort = n.id === id || proxied === undefined ? n.peerPort : proxied.port;
      return { ...n, peerPort, join: joining && n.id === id };
    });
    return writeLocalClusterFile(o.dir, seen, {
      clusterId: o.clusterId,
      tick: `${o.tickMs}ms`,
      election: o.electionTicks,
      snapshotEntries: 2000,
      ttlMin: `${o.sessionTtlMinMs}ms`,
      fileName: `cluster-${id}.yml`,
      security: { pki: NodeCluster.pkiDir(o.dir) },
    });
  }

  private spawn(id: string, joining: boolean): void {
    const file = this.writeConfig(id, joining);
    const process = new ManagedProcess(id, {
      ...nodeStartCommand({ node: id, configFile: file, logLevel: this.options.logLevel }, false),
      logPath: join(this.options.dir, 'logs', `${id}.log`),
    });
    this.processes.set(id, process);
    process.start();
  }

  private async waitReady(ids: readonly string[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const id of ids) {
      while ((await this.status(id)) === null) {
        if (Date.now() > deadline) throw new Error(`${id} did not answer within ${timeoutMs} ms`);
        await pause(100);
      }
    }
  }

  /** One node's own report, or null if it does not answer. */
  status(id: string): Promise<NodeStatusView | null> {
    const proc = this.processes.get(id);
    if (proc === undefined || proc.state !== 'running') return Promise.resolve(null);
    return probeStatus(
      { host: '127.0.0.1', port: this.node(id).clientPort },
      this.options.clusterId,
      500,
      this.rootTls,
    );
  }

  /** The leader named by the running node with the highest term that names one. */
  async leader(): Promise<string | null> {
    const views = await Promise.all(this.nodes.map((n) => this.status(n.id)));
    let best: NodeStatusView | null = null;
    for (const v of views) if (v !== null && v.leader !== null && (best === null || v.term > best.term)) best = v;
    return best?.leader ?? null;
  }

  async waitForLeader(timeoutMs: number): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const leader = await this.leader();
      if (leader !== null) return leader;
      await pause(100);
    }
    return null;
  }

  async kill(id: string): Promise<void> {
    await this.processes.get(id)?.kill();
  }

  async restart(id: string): Promise<void> {
    const proc = this.processes.get(id);
    if (proc === undefined) throw new Error(`no process ${id}`);
    await proc.kill();
    proc.start();
    await this.waitReady([id], 30_000);
  }

  pause(id: string): void {
    this.processes.get(id)?.pause();
  }

  resume(id: string): void {
    this.processes.get(id)?.resume();
  }

  /** An admin client on the running nodes (it follows the leader). */
  private async admin<T>(what: (client: RaftlockClient) => Promise<T>): Promise<T> {
    const up = this.nodes
      .filter((n) => this.processes.get(n.id)?.state === 'running')
      .map((n) => `127.0.0.1:${n.clientPort}`);
    const client = await connect({
      endpoints: up,
      clusterId: this.options.clusterId,
      tls: this.rootTls,
      requestTimeoutMs: 5000,
      attemptTimeoutMs: 1000,
    });
    try {
      return await what(client);
    } finally {
      await client.close().catch(() => undefined);
    }
  }

  async transferLeadership(to: string): Promise<void> {
    await this.admin((c) => c.transferLeader(nodeId(to)));
  }

  async removeMember(id: string): Promise<void> {
    try {
      await this.admin((c) => c.members('remove', { node: nodeId(id) }));
    } catch (error) {
      // A lost answer is retried, and the retry is refused once the first try has removed the
      // node: the member list says what happened.
      const members = await this.admin((c) => c.members('list'));
      if (members.some((m) => m.id === id)) throw error;
    }
    await this.kill(id);
  }

  async addMember(id: string): Promise<void> {
    await this.kill(id);
    rmSync(join(this.options.dir, 'data', id), { recursive: true, force: true });
    this.spawn(id, true);
    await this.waitReady([id], 30_000);
    // No addresses: each node reaches `id` through the proxy its own cluster file names.
    await this.admin((c) => c.members('addLearner', { node: nodeId(id) }));
    // Promote once the learner has caught up; the leader refuses a promotion before that.
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await this.admin((c) => c.members('promote', { node: nodeId(id) }));
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await pause(500);
      }
    }
  }

  /** The ids in the current membership (voters and learners), as the leader reports it. */
  async memberIds(): Promise<string[]> {
    return (await this.admin((c) => c.members('list'))).map((m) => m.id).sort();
  }

  /** Waits until every member has applied the same index (the cluster is quiet). */
  async waitConverged(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const ids = await this.memberIds().catch(() => this.nodes.map((n) => n.id));
      const views = await Promise.all(ids.map((id) => this.status(id)));
      const applied = new Set(views.map((v) => v?.applied ?? -1));
      if (applied.size === 1 && !applied.has(-1)) return true;
      await pause(250);
    }
    return false;
  }

  /** Every key read through each member in turn (a client pinned to that node). */
  async finalReads(keys: readonly string[]): Promise<FinalRead[]> {
    const reads: FinalRead[] = [];
    const ids = await this.memberIds();
    for (const n of this.nodes.filter((x) => ids.includes(x.id))) {
      const endpoints = [`127.0.0.1:${n.clientPort}`];
      const client = await connect({
        endpoints,
        clusterId: this.options.clusterId,
        tls: this.rootTls,
        followLeader: false,
        requestTimeoutMs: 10_000,
      });
      try {
        for (const key of keys) {
          const view = await client.kv.get(key);
          reads.push({
            node: n.id,
            key,
            value: view === null ? null : Buffer.from(view.value).toString('utf8'),
            version: view === null ? 0 : view.version,
          });
        }
      } finally {
        await client.close().catch(() => undefined);
      }
    }
    return reads;
  }

  /** The membership as the leader reports it, for the final summary. */
  async members(): Promise<string> {
    const list = await this.admin((c) => c.members('list'));
    return list.map((m) => `${m.id}(${m.role})`).join(' ');
  }

  async stop(): Promise<void> {
    for (const proc of this.processes.values()) {
      proc.resume();
      await proc.kill();
    }
    await this.mesh.close();
  }
}
