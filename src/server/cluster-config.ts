/**
 * cluster.yml: who the cluster's members are and how it is tuned. `loadClusterConfig` reads and
 * validates the whole file and reports every problem with its file, line and column; a node
 * refuses to start on any of them. docs/configuration.md lists every setting and its default.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Node } from 'yaml';
import { isMap, LineCounter, parseDocument } from 'yaml';
import type { RaftConfig } from '../raft/config.js';
import { defaultRaftLimits } from '../raft/config.js';
import type { NodeId } from '../raft/types.js';
import { isValidNodeId } from '../raft/types.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import type { ConfigProblem } from './config-reader.js';
import {
  ProblemList,
  readDurationMs,
  readFields,
  readInteger,
  readSequence,
  readSizeBytes,
  readString,
} from './config-reader.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface NodeConfig {
  readonly id: NodeId;
  /** Where peers reach this node's Raft transport. */
  readonly peer: HostPort;
  /** Where clients reach this node. */
  readonly client: HostPort;
  /** Absolute path of the node's data directory. */
  readonly dataDir: string;
}

export interface ClusterConfig {
  /** Absolute path of the file this was loaded from. */
  readonly file: string;
  readonly cluster: { readonly name: string; readonly id: string };
  readonly nodes: readonly NodeConfig[];
  readonly timing: { readonly tickMs: number; readonly heartbeatTicks: number; readonly electionTicks: number };
  readonly snapshot: { readonly entries: number; readonly bytes: number };
  readonly limits: ClusterLimits;
  readonly sessions: {
    readonly ttlMs: number;
    readonly keepaliveIntervalMs: number;
    readonly ttlMinMs: number;
    readonly ttlMaxMs: number;
  };
  /** Legal but questionable choices (an even node count, ...), for the launcher to print. */
  readonly warnings: readonly ConfigProblem[];
}

export interface ClusterLimits {
  readonly frameBytesMax: number;
  readonly appendEntriesMax: number;
  readonly appendBytesMax: number;
  readonly inflightAppendsMax: number;
  readonly uncommittedBytesMax: number;
  readonly snapshotChunkBytes: number;
  readonly sendQueueFramesMax: number;
  readonly sendQueueBytesMax: number;
}

/** Every default, in one place; docs/configuration.md mirrors this table. */
export const clusterDefaults = {
  clusterName: 'raftlock',
  tickMs: 50,
  heartbeatTicks: defaultRaftLimits.heartbeatTicks,
  electionTicks: defaultRaftLimits.electionTicks,
  snapshotEntries: 10_000,
  snapshotBytes: 64 * 1024 * 1024,
  limits: {
    frameBytesMax: 4 * 1024 * 1024,
    appendEntriesMax: defaultRaftLimits.appendEntriesMax,
    appendBytesMax: defaultRaftLimits.appendBytesMax,
    inflightAppendsMax: defaultRaftLimits.inflightAppendsMax,
    uncommittedBytesMax: defaultRaftLimits.uncommittedBytesMax,
    snapshotChunkBytes: defaultRaftLimits.snapshotChunkBytes,
    sendQueueFramesMax: 4096,
    sendQueueBytesMax: 16 * 1024 * 1024,
  } satisfies ClusterLimits,
  ttlMs: 15_000,
  keepaliveIntervalMs: 250,
  ttlMinMs: 1_000,
  ttlMaxMs: 24 * 3_600_000,
} as const;

/** Why a cluster.yml was refused. `message` is the printable form: one `file:line:col: what` per line. */
export interface ConfigError {
  readonly code: 'CONFIG_UNREADABLE' | 'CONFIG_INVALID';
  readonly file: string;
  readonly problems: readonly ConfigProblem[];
  readonly message: string;
}

export function formatProblem(file: string, problem: ConfigProblem): string {
  const where = problem.line === 0 ? file : `${file}:${problem.line}:${problem.column}`;
  return `${where}: ${problem.message}`;
}

function configError(code: ConfigError['code'], file: string, problems: readonly ConfigProblem[]): ConfigError {
  return { code, file, problems, message: problems.map((p) => formatProblem(file, p)).join('\n') };
}

/** Reads and validates `path`; relative data directories resolve against the file's directory. */
export async function loadClusterConfig(path: string): Promise<Result<ClusterConfig, ConfigError>> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    return err(configError('CONFIG_UNREADABLE', file, [{ line: 0, column: 0, message: `cannot read: ${reason}` }]));
  }
  return parseClusterConfig(text, file);
}

const topKeys = ['cluster', 'nodes', 'timing', 'snapshot', 'limits', 'sessions'] as const;
const nodeKeys = ['id', 'peer', 'client', 'data'] as const;
const limitKeys = Object.keys(clusterDefaults.limits) as (keyof ClusterLimits)[];

/** Parses cluster.yml text; `file` (absolute) names it in errors and anchors relative paths. */
export function parseClusterConfig(text: string, file: string): Result<ClusterConfig, ConfigError> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems = new ProblemList(lines);
  for (const error of doc.errors) problems.add(error.pos[0], `YAML: ${error.message}`);
  if (problems.items.length > 0) return err(configError('CONFIG_INVALID', file, problems.items));

  const warnings = new ProblemList(lines);
  const top = readFields(doc.contents as Node | null, 'the file', topKeys, problems) ?? new Map<string, Node | null>();
  const config = readSections(top, file, problems, warnings);
  checkCrossField(config, top, problems, warnings);
  if (problems.items.length > 0) return err(configError('CONFIG_INVALID', file, problems.items));
  return ok({ ...config, warnings: warnings.items });
}

function readSections(
  top: ReadonlyMap<string, Node | null>,
  file: string,
  problems: ProblemList,
  warnings: ProblemList,
): Omit<ClusterConfig, 'warnings'> {
  const cluster = readFields(top.get('cluster'), 'cluster', ['name', 'id'], problems) ?? new Map();
  const name = readString(cluster.get('name'), 'cluster.name', clusterDefaults.clusterName, problems) ?? '';
  const id = readString(cluster.get('id'), 'cluster.id', name, problems) ?? '';
  if (id.length > 128) problems.add(cluster.get('id'), 'cluster.id must be at most 128 characters');

  const timing = readFields(top.get('timing'), 'timing', ['tick', 'heartbeat', 'election'], problems) ?? new Map();
  const snapshot = readFields(top.get('snapshot'), 'snapshot', ['entries', 'bytes'], problems) ?? new Map();
  const limits = readFields(top.get('limits'), 'limits', limitKeys, problems) ?? new Map();
  const sessions = readFields(top.get('sessions'), 'sessions', ['ttl', 'keepaliveInterval', 'ttlMin', 'ttlMax'], problems) ?? new Map();
  const d = clusterDefaults;
  const day = 24 * 3_600_000;
  const gib = 1024 ** 3;
  return {
    file,
    cluster: { name, id },
    nodes: readNodes(top.get('nodes'), dirname(file), problems, warnings),
    timing: {
      tickMs: readDurationMs(timing.get('tick'), 'timing.tick', d.tickMs, 1, 60_000, problems),
      heartbeatTicks: readInteger(timing.get('heartbeat'), 'timing.heartbeat', d.heartbeatTicks, 1, 1000, problems),
      electionTicks: readInteger(timing.get('election'), 'timing.election', d.electionTicks, 2, 10_000, problems),
    },
    snapshot: {
      entries: readInteger(snapshot.get('entries'), 'snapshot.entries', d.snapshotEntries, 1, Number.MAX_SAFE_INTEGER, problems),
      bytes: readSizeBytes(snapshot.get('bytes'), 'snapshot.bytes', d.snapshotBytes, 1024, Number.MAX_SAFE_INTEGER, problems),
    },
    limits: {
      frameBytesMax: readSizeBytes(limits.get('frameBytesMax'), 'limits.frameBytesMax', d.limits.frameBytesMax, 64 * 1024, gib, problems),
      appendEntriesMax: readInteger(limits.get('appendEntriesMax'), 'limits.appendEntriesMax', d.limits.appendEntriesMax, 1, 1_000_000, problems),
      appendBytesMax: readSizeBytes(limits.get('appendBytesMax'), 'limits.appendBytesMax', d.limits.appendBytesMax, 1024, gib, problems),
      inflightAppendsMax: readInteger(limits.get('inflightAppendsMax'), 'limits.inflightAppendsMax', d.limits.inflightAppendsMax, 1, 10_000, problems),
      uncommittedBytesMax: readSizeBytes(limits.get('uncommittedBytesMax'), 'limits.uncommittedBytesMax', d.limits.uncommittedBytesMax, 1024, Number.MAX_SAFE_INTEGER, problems),
      snapshotChunkBytes: readSizeBytes(limits.get('snapshotChunkBytes'), 'limits.snapshotChunkBytes', d.limits.snapshotChunkBytes, 1024, gib, problems),
      sendQueueFramesMax: readInteger(limits.get('sendQueueFramesMax'), 'limits.sendQueueFramesMax', d.limits.sendQueueFramesMax, 1, 1_000_000, problems),
      sendQueueBytesMax: readSizeBytes(limits.get('sendQueueBytesMax'), 'limits.sendQueueBytesMax', d.limits.sendQueueBytesMax, 64 * 1024, Number.MAX_SAFE_INTEGER, problems),
    },
    sessions: {
      ttlMs: readDurationMs(sessions.get('ttl'), 'sessions.ttl', d.ttlMs, 1, day, problems),
      keepaliveIntervalMs: readDurationMs(sessions.get('keepaliveInterval'), 'sessions.keepaliveInterval', d.keepaliveIntervalMs, 1, day, problems),
      ttlMinMs: readDurationMs(sessions.get('ttlMin'), 'sessions.ttlMin', d.ttlMinMs, 1, day, problems),
      ttlMaxMs: readDurationMs(sessions.get('ttlMax'), 'sessions.ttlMax', d.ttlMaxMs, 1, 30 * day, problems),
    },
  };
}

const hostPattern = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** `host:port` or `[ipv6]:port`, port 1–65535. */
export function parseHostPort(text: string): HostPort | null {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (match === null) return null;
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (port < 1 || port > 65_535) return null;
  if (match[1] === undefined && !hostPattern.test(host)) return null;
  return { host, port };
}

function readAddress(node: Node | null | undefined, where: string, problems: ProblemList): HostPort | null {
  const text = readString(node, where, null, problems);
  if (text === null) {
    if (node === undefined) problems.add(null, `${where} is missing`);
    return null;
  }
  const address = parseHostPort(text);
  if (address === null) problems.add(node, `${where} must be host:port with a port from 1 to 65535, got ${JSON.stringify(text)}`);
  return address;
}

function readNodes(node: Node | null | undefined, baseDir: string, problems: ProblemList, warnings: ProblemList): NodeConfig[] {
  const items = readSequence(node, 'nodes', problems);
  if (items === null) return [];
  if (items.length === 0) {
    problems.add(node ?? null, 'nodes must list at least one node');
    return [];
  }
  const nodes: NodeConfig[] = [];
  const seenIds = new Map<string, number>();
  const seenAddresses = new Map<string, string>();
  const seenDirs = new Map<string, string>();
  items.forEach((item, i) => {
    const where = `nodes[${i}]`;
    const fields = readFields(item, where, nodeKeys, problems);
    if (fields === null) return;
    const idNode = fields.get('id');
    const id = readString(idNode, `${where}.id`, null, problems);
    if (id === null) {
      if (idNode === undefined) problems.add(item, `${where}.id is missing`);
      return;
    }
    if (!isValidNodeId(id)) {
      problems.add(idNode, `${where}.id ${JSON.stringify(id)} must be 1–64 letters, digits, '_', '.' or '-', starting with a letter or digit`);
      return;
    }
    const firstIndex = seenIds.get(id);
    if (firstIndex !== undefined) {
      problems.add(idNode, `duplicate node id ${JSON.stringify(id)} (also nodes[${firstIndex}])`);
      return;
    }
    seenIds.set(id, i);
    const peer = readAddress(fields.get('peer'), `${where}.peer`, problems);
    const client = readAddress(fields.get('client'), `${where}.client`, problems);
    for (const [role, address] of [['peer', peer], ['client', client]] as const) {
      if (address === null) continue;
      const key = `${address.host.toLowerCase()}:${address.port}`;
      const owner = seenAddresses.get(key);
      if (owner !== undefined) problems.add(fields.get(role), `address ${key} is used twice (${owner} and ${id}.${role})`);
      else seenAddresses.set(key, `${id}.${role}`);
    }
    const dataText = readString(fields.get('data'), `${where}.data`, `./data/${id}`, problems);
    if (dataText === null) return;
    const dataDir = isAbsolute(dataText) ? dataText : resolve(baseDir, dataText);
    const dirOwner = seenDirs.get(dataDir);
    if (dirOwner !== undefined) problems.add(fields.get('data') ?? item, `data directory ${dataDir} is shared by ${dirOwner} and ${id}`);
    seenDirs.set(dataDir, id);
    if (peer !== null && client !== null) nodes.push({ id: id as NodeId, peer, client, dataDir });
  });
  if (items.length % 2 === 0) {
    warnings.add(node ?? null, `${items.length} nodes tolerate no more failures than ${items.length - 1}; an odd count is usually better`);
  }
  return nodes;
}

function checkCrossField(
  config: Omit<ClusterConfig, 'warnings'>,
  top: ReadonlyMap<string, Node | null>,
  problems: ProblemList,
  warnings: ProblemList,
): void {
  const { timing, limits, sessions } = config;
  const at = (section: string, key: string): Node | null => {
    const map = top.get(section) ?? null;
    if (!isMap(map)) return map;
    const value: unknown = map.get(key, true);
    return (value ?? map) as Node;
  };
  // Raft needs heartbeats well inside the election timeout, or followers start needless elections.
  if (timing.heartbeatTicks >= timing.electionTicks) {
    problems.add(at('timing', 'heartbeat'), `timing.heartbeat (${timing.heartbeatTicks}) must be below timing.election (${timing.electionTicks})`);
  }
  // An append and a snapshot chunk must each fit in one frame, with room for the message envelope.
  const envelopeBytes = 64 * 1024;
  if (limits.appendBytesMax + envelopeBytes > limits.frameBytesMax) {
    problems.add(at('limits', 'appendBytesMax'), 'limits.appendBytesMax plus 64KiB of envelope must fit in limits.frameBytesMax');
  }
  if (limits.snapshotChunkBytes + envelopeBytes > limits.frameBytesMax) {
    problems.add(at('limits', 'snapshotChunkBytes'), 'limits.snapshotChunkBytes plus 64KiB of envelope must fit in limits.frameBytesMax');
  }
  if (limits.sendQueueBytesMax < limits.frameBytesMax) {
    problems.add(at('limits', 'sendQueueBytesMax'), 'limits.sendQueueBytesMax must hold at least one frame of limits.frameBytesMax');
  }
  // A client must get several keepalives through within one TTL to ride out a lost one.
  if (sessions.keepaliveIntervalMs * 3 > sessions.ttlMs) {
    problems.add(at('sessions', 'keepaliveInterval'), 'sessions.keepaliveInterval must be at most a third of sessions.ttl');
  }
  if (sessions.ttlMinMs > sessions.ttlMaxMs) {
    problems.add(at('sessions', 'ttlMin'), 'sessions.ttlMin must not exceed sessions.ttlMax');
  } else if (sessions.ttlMs < sessions.ttlMinMs || sessions.ttlMs > sessions.ttlMaxMs) {
    problems.add(at('sessions', 'ttl'), 'sessions.ttl must lie between sessions.ttlMin and sessions.ttlMax');
  }
  const electionMaxMs = 2 * timing.electionTicks * timing.tickMs;
  if (sessions.ttlMinMs < electionMaxMs) {
    warnings.add(at('sessions', 'ttlMin'), `sessions.ttlMin (${sessions.ttlMinMs}ms) is shorter than one worst-case election timeout (${electionMaxMs}ms)`);
  }
}

/** The Raft settings of node `id` under this configuration (a brand-new cluster of all nodes). */
export function raftConfigFor(config: ClusterConfig, id: NodeId): RaftConfig {
  return {
    id,
    initialVoters: config.nodes.map((n) => n.id),
    electionTicks: config.timing.electionTicks,
    heartbeatTicks: config.timing.heartbeatTicks,
    preVote: defaultRaftLimits.preVote,
    checkQuorum: defaultRaftLimits.checkQuorum,
    appendEntriesMax: config.limits.appendEntriesMax,
    appendBytesMax: config.limits.appendBytesMax,
    inflightAppendsMax: config.limits.inflightAppendsMax,
    uncommittedBytesMax: config.limits.uncommittedBytesMax,
    snapshotChunkBytes: config.limits.snapshotChunkBytes,
  };
}
