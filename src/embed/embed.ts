/**
 * Running raftlock inside a Node.js process: `startNode` runs one node of a cluster.yml (what
 * `raftlock start` does), `startCluster` runs a whole cluster on 127.0.0.1 with ports chosen by
 * the OS and data in a temporary directory (for tests and for trying the service out). Both return
 * handles with the endpoints and a `close()` that stops gracefully. Both are secure unless told
 * `insecure`: startNode reads its TLS material from the cluster file's PKI directory (or is given
 * it), startCluster makes a throwaway CA and certificates in memory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeId as toNodeId } from '../raft/types.js';
import type { NodeId } from '../raft/types.js';
import type { ConnectOptions } from '../client/options.js';
import type { Credentials } from '../client/client-pki.js';
import type { CertKeyPem } from '../security/pki.js';
import { createNodeCert, createThrowawayPki } from '../security/pki.js';
import { TlsMaterial } from '../security/tls-material.js';
import { loopbackClusterConfig, loopbackNode } from './loopback-config.js';
import { introduceNodes } from './introduce.js';
import { runningLeader, waitForAgreedLeader } from './leader-wait.js';
import type { LockMachineConfig } from '../statemachine/config.js';
import { defaultLockMachineConfig } from '../statemachine/config.js';
import type { ClusterConfig, HostPort, SnapshotModeSetting } from '../config/cluster-config.js';
import { raftConfigFor } from '../config/cluster-config.js';
import type { Logger } from '../util/logger.js';
import { silentLogger } from '../util/logger.js';
import type { NodeServerOptions } from '../server/node-server.js';
import { NodeServer } from '../server/node-server.js';
import { nodeSecurityFor } from '../server/node-security.js';

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
  /**
   * This node's TLS material. Absent: startNode reads it from the cluster file's PKI directory
   * (`<pki>/ca.crt`, `<pki>/nodes/<id>.crt|key`), unless the node is insecure.
   */
  readonly tls?: TlsMaterial;
  /**
   * Plaintext, no authentication, as `security.insecure: true` in the file (loopback addresses
   * only, unless the file also says `insecureNonLoopback: true`).
   */
  readonly insecure?: boolean;
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
    ...(self.http === undefined ? {} : { httpListen: self.http }),
    members: config.nodes
      .filter((n) => n.id !== nodeId)
      .map((n) => ({ id: n.id, peer: n.peer, client: n.client, ...(n.http === undefined ? {} : { http: n.http }) })),
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
    connectionLimits: {
      perSourceMax: config.limits.connectionsPerSourceMax,
      unauthenticatedMax: config.limits.connectionsUnauthenticatedMax,
      idleTimeoutMs: config.limits.connectionIdleTimeoutMs,
      frameDeadlineMs: config.limits.frameDeadlineMs,
    },
    logTimeJumpMaxMs: config.security.logTimeJumpMaxMs,
    logger: options.logger ?? silentLogger,
    ...(options.onFatal === undefined ? {} : { onFatal: options.onFatal }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
  };
  return { ...base, ...options.overrides };
}

/**
 * Runs one node in this process until `close()`. Refuses (throws, saying what is missing and the
 * ways out) when it has no usable TLS material and is not insecure, and when it is insecure on a
 * non-loopback address without `insecureNonLoopback`.
 */
export function startNode(options: StartNodeOptions): Promise<NodeServer> {
  if (options.tls !== undefined) {
    if (options.insecure === true) {
      return Promise.reject(new Error('startNode: give tls or insecure: true, not both'));
    }
    return NodeServer.start(nodeServerOptions(options));
  }
  const { config, nodeId } = options;
  const self = config.nodes.find((n) => n.id === nodeId);
  if (self === undefined) return NodeServer.start(nodeServerOptions(options)); // throws: unknown node
  const listen = { peer: options.peerListen ?? self.peer, client: options.clientListen ?? self.client };
  const insecure = options.insecure === true;
  const security = nodeSecurityFor(config, nodeId, { insecure, listen, nowMs: Date.now() });
  if (!security.ok) return Promise.reject(new Error(security.error));
  const tls = security.value.mode === 'tls' ? { tls: security.value.material } : {};
  return NodeServer.start(nodeServerOptions({ ...options, ...tls }));
}

export interface ClusterEndpoint {
  readonly id: NodeId;
  /** `host:port` where clients connect. */
  readonly client: string;
  readonly peer: string;
  /** `host:port` of the HTTP API, when the node serves it. */
  readonly http?: string;
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
  /**
   * Plaintext, no authentication. Default false: the cluster makes a throwaway CA, node
   * certificates and root's certificate in memory, and `connectOptions()` carries root's.
   */
  readonly insecure?: boolean;
  /** Every node also serves the HTTP/JSON API (docs/http.md) on a port the OS picks. */
  readonly http?: boolean;
}

export interface ClusterHandle {
  readonly clusterId: string;
  readonly endpoints: readonly ClusterEndpoint[];
  readonly nodes: readonly NodeServer[];
  /** The throwaway CA (to make more certificates in tests); null when insecure. */
  readonly ca: CertKeyPem | null;
  /**
   * What `connect()` needs to reach this cluster: every client endpoint, the cluster id, and the
   * TLS material (the CA, and root's certificate unless `credentials` are given; `false` when
   * insecure). `connect({ ...cluster.connectOptions(), ttlMs: 5000 })`.
   */
  connectOptions(credentials?: Credentials): ConnectOptions & { readonly clusterId: string };
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
  // Made before anything else: no temporary directory to clean up if it fails.
  const ids = Array.from({ length: count }, (_, i) => toNodeId(`n${i + 1}`));
  const pki = options.insecure === true ? null : await createThrowawayPki(ids);
  const ownDir = options.dataDir === undefined;
  const root = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'raftlock-')));
  const http = options.http === true;
  const config = loopbackClusterConfig({
    root,
    clusterId,
    ids,
    insecure: options.insecure === true,
    http,
    tickMs: options.tickMs,
    electionTicks: options.electionTicks,
    snapshotEntries: options.snapshotEntries,
    snapshotMode: options.snapshotMode,
  });
  const tlsOf = (id: NodeId): { readonly tls?: TlsMaterial } => {
    const pem = pki?.nodes.get(id);
    return pem === undefined ? {} : { tls: TlsMaterial.fromPem(pem) };
  };
  const servers: NodeServer[] = [];
  try {
    for (const node of config.nodes) {
      const logger = options.logger ?? silentLogger;
      const serverOptions = nodeServerOptions({ config, nodeId: node.id, logger, ...tlsOf(node.id) });
      servers.push(await NodeServer.start({ ...serverOptions, members: [] }));
    }
  } catch (error) {
    await Promise.all(servers.map((s) => s.close()));
    if (ownDir) await rm(root, { recursive: true, force: true });
    throw error;
  }
  introduceNodes(servers);
  const endpoints = servers.map((s) => s.endpoint);
  // Taken while every node listens: a stopped node's address still belongs in a client's list.
  const clientAddresses = endpoints.map((e) => e.client);
  const leader = (): NodeServer | null => runningLeader(servers);
  let closed: Promise<void> | null = null;
  const rootUser = pki?.users.get('root');
  return {
    clusterId,
    endpoints,
    nodes: servers,
    ca: pki?.ca ?? null,
    connectOptions: (credentials) => {
      const base = { endpoints: [...clientAddresses], clusterId };
      if (pki === null || rootUser === undefined) return { ...base, tls: false };
      if (credentials !== undefined) return { ...base, tls: { ca: pki.ca.cert }, credentials };
      return { ...base, tls: { ca: rootUser.ca, cert: rootUser.cert, key: rootUser.key } };
    },
    leader,
    startJoiner: async () => {
      const id = toNodeId(`n${servers.length + 1}`);
      const joiner = loopbackNode(root, id, true, http);
      const grown: ClusterConfig = { ...config, nodes: [...config.nodes, joiner] };
      const logger = options.logger ?? silentLogger;
      const tls =
        pki === null
          ? {}
          : {
              tls: TlsMaterial.fromPem({
                ca: pki.ca.cert,
                ...(await createNodeCert(pki.ca, { nodeId: id, hosts: ['127.0.0.1', '::1', 'localhost'] })),
              }),
            };
      const serverOptions = nodeServerOptions({ config: grown, nodeId: id, logger, ...tls });
      const server = await NodeServer.start({ ...serverOptions, members: [] });
      servers.push(server);
      clientAddresses.push(server.endpoint.client);
      introduceNodes(servers);
      return server;
    },
    waitForLeader: (timeoutMs = 10_000) => waitForAgreedLeader(servers, timeoutMs),
    close: () => {
      closed ??= (async () => {
        await Promise.all(servers.map((s) => s.close()));
        if (ownDir) await rm(root, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}
