/**
 * Running raftlock inside a Node.js process: `startNode` runs one node of a cluster.yml (what
 * `raftlock start` does), `startCluster` runs a whole cluster on 127.0.0.1 with ports chosen by
 * the OS and data in a temporary directory (for tests and for trying the service out). Both return
 * handles with the endpoints and a `close()` that stops gracefully.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeId as toNodeId } from '../raft/types.js';
import type { NodeId } from '../raft/types.js';
import type { LockMachineConfig } from '../statemachine/config.js';
import { defaultLockMachineConfig } from '../statemachine/config.js';
import type { ClusterConfig, HostPort, NodeConfig, SnapshotModeSetting } from './cluster-config.js';
import { clusterDefaults, raftConfigFor } from './cluster-config.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';
import type { NodeServerOptions } from './node-server.js';
import { NodeServer } from './node-server.js';

/** The lock state machine limits a cluster.yml implies (identical on every replica). */
export function machineConfigFor(config: ClusterConfig): LockMachineConfig {
  const { ttlMinMs, ttlMaxMs } = config.sessions;
  return { ...defaultLockMachineConfig, ttlMsMin: ttlMinMs, ttlMsMax: ttlMaxMs };
}

/**
 * The idle leader's time-advance entry: a quarter of the shortest TTL allowed, so a session expires
 * at most ttlMin/4 late on an idle cluster, bounded to [one tick, one second] so an idle cluster
 * writes about one small entry per second.
 */
export function logTimeTickMsFor(config: ClusterConfig): number {
  return Math.min(1000, Math.max(config.timing.tickMs, Math.floor(config.sessions.ttlMinMs / 4)));
}

export interface StartNodeOptions {
  readonly config: ClusterConfig;
  readonly nodeId: NodeId;
  readonly logger?: Logger;
  /** Listen here instead of the file's addresses (port 0 = any free port). */
  readonly peerListen?: HostPort;
  readonly clientListen?: HostPort;
  readonly onFatal?: (error: unknown) => void;
  readonly overrides?: Partial<NodeServerOptions>;
}

/** The node server options for one node of a cluster.yml. */
export function nodeServerOptions(options: StartNodeOptions): NodeServerOptions {
  const { config, nodeId } = options;
  const self = config.nodes.find((n) => n.id === nodeId);
  if (self === undefined) {
    const known = config.nodes.map((n) => n.id).join(', ');
    throw new Error(`node ${nodeId} is not in ${config.file} (nodes: ${known})`);
  }
  const base: NodeServerOptions = {
    clusterId: config.cluster.id,
    nodeId,
    dataDir: self.dataDir,
    peerListen: options.peerListen ?? self.peer,
    clientListen: options.clientListen ?? self.client,
    members: config.nodes
      .filter((n) => n.id !== nodeId)
      .map((n) => ({ id: n.id, peer: n.peer, client: n.client })),
    raft: raftConfigFor(config, nodeId),
    tickMs: config.timing.tickMs,
    snapshotEntries: config.snapshot.entries,
    snapshotBytes: config.snapshot.bytes,
    snapshotMode: config.snapshot.mode,
    keepaliveIntervalMs: config.sessions.keepaliveIntervalMs,
    logTimeTickMs: logTimeTickMsFor(config),
    limits: config.limits,
    machine: machineConfigFor(config),
    clientLimits: { frameBytesMax: config.limits.frameBytesMax },
    connectionsMax: config.limits.connectionsMax,
    logger: options.logger ?? silentLogger,
    ...(options.onFatal === undefined ? {} : { onFatal: options.onFatal }),
  };
  return { ...base, ...options.overrides };
}

/** Runs one node in this process until `close()`. */
export function startNode(options: StartNodeOptions): Promise<NodeServer> {
  return NodeServer.start(nodeServerOptions(options));
}

export interface ClusterEndpoint {
  readonly id: NodeId;
  /** `host:port` where clients connect. */
  readonly client: string;
  readonly peer: string;
}

export interface StartClusterOptions {
  /** Number of nodes (default 3). */
  readonly nodes?: number;
  readonly clusterId?: string;
  /** Parent of the data directories; default a fresh temporary directory, removed on close. */
  readonly dataDir?: string;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly snapshotEntries?: number;
  /** Default `background` (see docs/configuration.md, `snapshot.mode`). */
  readonly snapshotMode?: SnapshotModeSetting;
  readonly logger?: Logger;
}

export interface ClusterHandle {
  readonly clusterId: string;
  readonly endpoints: readonly ClusterEndpoint[];
  readonly nodes: readonly NodeServer[];
  /** The current leader's node, once one is elected. */
  leader(): NodeServer | null;
  /**
   * Starts one more node that is not a member yet (it waits to be added with `members
   * addLearner`, then `promote`); every node learns its addresses.
   */
  startJoiner(): Promise<NodeServer>;
  /** Resolves with the leader once every running voter knows it (or rejects after timeoutMs). */
  waitForLeader(timeoutMs?: number): Promise<NodeServer>;
  close(): Promise<void>;
}

/**
 * Runs a whole cluster in this process on 127.0.0.1, every port chosen by the OS: each node binds
 * port 0, then learns the others' addresses (an election can only start once peers are known).
 */
export async function startCluster(options: StartClusterOptions = {}): Promise<ClusterHandle> {
  const count = options.nodes ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > 15) {
    throw new RangeError(`nodes must be 1–15, got ${count}`);
  }
  const clusterId = options.clusterId ?? 'embedded';
  const ownDir = options.dataDir === undefined;
  const root = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'raftlock-')));
  const loopback = { host: '127.0.0.1', port: 0 };
  const nodes: NodeConfig[] = [];
  for (let i = 1; i <= count; i++) {
    const id = toNodeId(`n${i}`);
    nodes.push({ id, peer: loopback, client: loopback, dataDir: join(root, id), join: false });
  }
  const config: ClusterConfig = {
    file: join(root, 'cluster.yml'),
    cluster: { name: clusterId, id: clusterId },
    nodes,
    timing: {
      tickMs: options.tickMs ?? 20,
      heartbeatTicks: 1,
      electionTicks: options.electionTicks ?? 10,
    },
    snapshot: {
      entries: options.snapshotEntries ?? clusterDefaults.snapshotEntries,
      bytes: clusterDefaults.snapshotBytes,
      mode: options.snapshotMode ?? clusterDefaults.snapshotMode,
    },
    limits: clusterDefaults.limits,
    sessions: {
      ttlMs: clusterDefaults.ttlMs,
      keepaliveIntervalMs: 100,
      ttlMinMs: clusterDefaults.ttlMinMs,
      ttlMaxMs: clusterDefaults.ttlMaxMs,
    },
    warnings: [],
  };
  const servers: NodeServer[] = [];
  const introduce = (): void => {
    for (const a of servers) {
      for (const b of servers) {
        a.setMember({ id: b.nodeId, peer: b.peerAddress, client: b.clientAddress });
      }
    }
  };
  try {
    for (const node of nodes) {
      const logger = options.logger ?? silentLogger;
      const serverOptions = nodeServerOptions({ config, nodeId: node.id, logger });
      servers.push(await NodeServer.start({ ...serverOptions, members: [] }));
    }
  } catch (error) {
    await Promise.all(servers.map((s) => s.close()));
    if (ownDir) await rm(root, { recursive: true, force: true });
    throw error;
  }
  introduce();
  const endpoints = servers.map((s) => s.endpoint);
  const leader = (): NodeServer | null => {
    const running = servers.filter((s) => !s.isStopped);
    const id = running.find((s) => s.leader !== null && s.leader === s.nodeId)?.nodeId;
    return running.find((s) => s.nodeId === id) ?? null;
  };
  let closed: Promise<void> | null = null;
  return {
    clusterId,
    endpoints,
    nodes: servers,
    leader,
    startJoiner: async () => {
      const id = toNodeId(`n${servers.length + 1}`);
      const dataDir = join(root, id);
      const joiner: NodeConfig = { id, peer: loopback, client: loopback, dataDir, join: true };
      const grown: ClusterConfig = { ...config, nodes: [...config.nodes, joiner] };
      const logger = options.logger ?? silentLogger;
      const serverOptions = nodeServerOptions({ config: grown, nodeId: id, logger });
      const server = await NodeServer.start({ ...serverOptions, members: [] });
      servers.push(server);
      introduce();
      return server;
    },
    waitForLeader: async (timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = leader();
        const voters = found?.statusView().voters ?? [];
        const agree = (s: NodeServer): boolean =>
          s.isStopped || !voters.includes(s.nodeId) || s.leader === found?.nodeId;
        if (found !== null && servers.every(agree)) return found;
        if (Date.now() > deadline) throw new Error(`no leader within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    close: () => {
      closed ??= (async () => {
        await Promise.all(servers.map((s) => s.close()));
        if (ownDir) await rm(root, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}
