/**
 * cluster.yml: who the cluster's members are and how it is tuned. `loadClusterConfig` reads and
 * validates the whole file and reports every problem with its file, line and column; a node
 * refuses to start on any of them. docs/configuration.md lists every setting and its default.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Node } from 'yaml';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import type { RaftConfig } from '../raft/config.js';
import { defaultRaftLimits } from '../raft/config.js';
import type { NodeId } from '../raft/types.js';
import { isValidNodeId } from '../raft/types.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import type { ConfigProblem } from './config-reader.js';
import {
  ProblemList,
  readBoolean,
  readDurationMs,
  readFields,
  readInteger,
  readSequence,
  readSizeBytes,
  readString,
} from './config-reader.js';

import type { HostPort } from '../node/server-views.js';

export type { HostPort };

export interface NodeConfig {
  readonly id: NodeId;
  /** Where peers reach this node's Raft transport. */
  readonly peer: HostPort;
  /** Where clients reach this node. */
  readonly client: HostPort;
  /** Where this node serves the HTTP/JSON API (docs/http.md); absent: no HTTP server. */
  readonly http?: HostPort;
  /** Absolute path of the node's data directory. */
  readonly dataDir: string;
  /**
   * `join: true`: not a member of the brand-new cluster. The node starts empty and waits to be
   * added (`members addLearner`, then `promote`); the others know its addresses from this file.
   */
  readonly join: boolean;
}

/**
 * How a node takes its snapshots (`snapshot.mode`). `background`: a copy of the state machine on a
 * worker thread encodes them while the node serves; `inline`: the event loop encodes them.
 */
export type SnapshotModeSetting = 'background' | 'inline';

export interface ClusterConfig {
  /** Absolute path of the file this was loaded from. */
  readonly file: string;
  readonly cluster: { readonly name: string; readonly id: string };
  readonly nodes: readonly NodeConfig[];
  readonly timing: {
    readonly tickMs: number;
    readonly heartbeatTicks: number;
    readonly electionTicks: number;
  };
  readonly snapshot: {
    readonly entries: number;
    readonly bytes: number;
    readonly mode: SnapshotModeSetting;
  };
  readonly limits: ClusterLimits;
  readonly sessions: {
    readonly ttlMs: number;
    readonly keepaliveIntervalMs: number;
    readonly ttlMinMs: number;
    readonly ttlMaxMs: number;
  };
  readonly security: SecurityConfig;
  /** Legal but questionable choices (an even node count, ...), for the launcher to print. */
  readonly warnings: readonly ConfigProblem[];
}

/** The `security:` section (docs/configuration.md, docs/security.md). */
export interface SecurityConfig {
  /**
   * Absolute path of the cluster's PKI directory: `ca.crt`, `nodes/<id>.crt|key` (and, made by
   * `raftlock up`, `users/root.crt|key`). A relative `pki` resolves against the file's directory.
   */
  readonly pkiDir: string;
  /** Plaintext, no authentication; loopback listen addresses only unless `insecureNonLoopback`. */
  readonly insecure: boolean;
  /** With `insecure`: also non-loopback addresses (the operator said it twice). */
  readonly insecureNonLoopback: boolean;
  /** Largest step forward in log time between consecutive entries a node stamps or accepts. */
  readonly logTimeJumpMaxMs: number;
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
  /** Client connections one node serves at once; a connection beyond it is refused. */
  readonly connectionsMax: number;
  /** Client connections from one source address at once, in any state. */
  readonly connectionsPerSourceMax: number;
  /** Client connections that have not authenticated yet, apart from `connectionsMax`. */
  readonly connectionsUnauthenticatedMax: number;
  /** A client connection that sent no frame for this long after its Welcome is closed. */
  readonly connectionIdleTimeoutMs: number;
  /** Once a frame's first byte arrived (client or peer connection), the whole frame within this. */
  readonly frameDeadlineMs: number;
}

/** Every default, in one place; docs/configuration.md mirrors this table. */
export const clusterDefaults = {
  clusterName: 'raftlock',
  tickMs: 50,
  heartbeatTicks: defaultRaftLimits.heartbeatTicks,
  electionTicks: defaultRaftLimits.electionTicks,
  snapshotEntries: 10_000,
  snapshotBytes: 64 * 1024 * 1024,
  snapshotMode: 'background' as SnapshotModeSetting,
  limits: {
    frameBytesMax: 4 * 1024 * 1024,
    appendEntriesMax: defaultRaftLimits.appendEntriesMax,
    appendBytesMax: defaultRaftLimits.appendBytesMax,
    inflightAppendsMax: defaultRaftLimits.inflightAppendsMax,
    uncommittedBytesMax: defaultRaftLimits.uncommittedBytesMax,
    snapshotChunkBytes: defaultRaftLimits.snapshotChunkBytes,
    sendQueueFramesMax: 4096,
    sendQueueBytesMax: 16 * 1024 * 1024,
    connectionsMax: 1024,
    // As a node started without a cluster file has them (defaultConnectionLimits, server-connection.ts).
    connectionsPerSourceMax: 64,
    connectionsUnauthenticatedMax: 64,
    connectionIdleTimeoutMs: 5 * 60_000,
    frameDeadlineMs: 10_000,
  } satisfies ClusterLimits,
  ttlMs: 15_000,
  keepaliveIntervalMs: 250,
  ttlMinMs: 1_000,
  ttlMaxMs: 24 * 3_600_000,
  pki: './data/pki',
  logTimeJumpMaxMs: 60_000,
} as const;

/** Why a cluster.yml was refused. `message` is printable: one `file:line:col: what` per line. */
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
    const problem = { line: 0, column: 0, message: `cannot read: ${reason}` };
    return err(configError('CONFIG_UNREADABLE', file, [problem]));
  }
  return parseClusterConfig(text, file);
}

const topKeys = ['cluster', 'nodes', 'timing', 'snapshot', 'limits', 'sessions', 'security'] as const;
const securityKeys = ['pki', 'insecure', 'insecureNonLoopback', 'logTimeJumpMax'] as const;
const nodeKeys = ['id', 'peer', 'client', 'http', 'data', 'join'] as const;
/** The `limits` keys of cluster.yml: the ClusterLimits fields, durations without their `Ms`. */
const limitKeys = Object.keys(clusterDefaults.limits).map((key) => key.replace(/Ms$/, ''));

/** Parses cluster.yml text; `file` (absolute) names it in errors and anchors relative paths. */
export function parseClusterConfig(text: string, file: string): Result<ClusterConfig, ConfigError> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems = new ProblemList(lines);
  for (const error of doc.errors) problems.add(error.pos[0], `YAML: ${error.message}`);
  if (problems.items.length > 0) return err(configError('CONFIG_INVALID', file, problems.items));

  const warnings = new ProblemList(lines);
  const contents = doc.contents as Node | null;
  const top = readFields(contents, 'the file', topKeys, problems) ?? new Map<string, Node | null>();
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
  const d = clusterDefaults;
  const section = (name: string, keys: readonly string[]): ReadonlyMap<string, Node | null> =>
    readFields(top.get(name), name, keys, problems) ?? new Map<string, Node | null>();
  const cluster = section('cluster', ['name', 'id']);
  const name = readString(cluster.get('name'), 'cluster.name', d.clusterName, problems) ?? '';
  const id = readString(cluster.get('id'), 'cluster.id', name, problems) ?? '';
  if (id.length > 128) problems.add(cluster.get('id'), 'cluster.id must be at most 128 characters');

  const timing = section('timing', ['tick', 'heartbeat', 'election']);
  const snapshot = section('snapshot', ['entries', 'bytes', 'mode']);
  const limits = section('limits', limitKeys);
  const sessions = section('sessions', ['ttl', 'keepaliveInterval', 'ttlMin', 'ttlMax']);
  const security = section('security', securityKeys);
  type Section = ReadonlyMap<string, Node | null>;
  // `where` is `section.key`: the key looked up and the name used in messages.
  const keyOf = (where: string): string => where.slice(where.indexOf('.') + 1);
  const integer = (map: Section, where: string, fallback: number, min: number, max: number) =>
    readInteger(map.get(keyOf(where)), where, { fallback, min, max }, problems);
  const size = (map: Section, where: string, fallback: number, min: number, max: number) =>
    readSizeBytes(map.get(keyOf(where)), where, { fallback, min, max }, problems);
  const duration = (map: Section, where: string, fallback: number, max: number) =>
    readDurationMs(map.get(keyOf(where)), where, { fallback, min: 1, max }, problems);
  const day = 24 * 3_600_000;
  const kib = 1024;
  const gib = 1024 ** 3;
  const max = Number.MAX_SAFE_INTEGER;
  const limitSize = (key: keyof ClusterLimits, min: number, most: number): number =>
    size(limits, `limits.${key}`, d.limits[key], min, most);
  const limitCount = (key: keyof ClusterLimits, most: number): number =>
    integer(limits, `limits.${key}`, d.limits[key], 1, most);
  return {
    file,
    cluster: { name, id },
    nodes: readNodes(top.get('nodes'), dirname(file), problems, warnings),
    timing: {
      tickMs: duration(timing, 'timing.tick', d.tickMs, 60_000),
      heartbeatTicks: integer(timing, 'timing.heartbeat', d.heartbeatTicks, 1, 1000),
      electionTicks: integer(timing, 'timing.election', d.electionTicks, 2, 10_000),
    },
    snapshot: {
      entries: integer(snapshot, 'snapshot.entries', d.snapshotEntries, 1, max),
      bytes: size(snapshot, 'snapshot.bytes', d.snapshotBytes, kib, max),
      mode: readSnapshotMode(snapshot.get('mode'), d.snapshotMode, problems),
    },
    limits: {
      frameBytesMax: limitSize('frameBytesMax', 64 * kib, gib),
      appendEntriesMax: limitCount('appendEntriesMax', 1e6),
      appendBytesMax: limitSize('appendBytesMax', kib, gib),
      inflightAppendsMax: limitCount('inflightAppendsMax', 1e4),
      uncommittedBytesMax: limitSize('uncommittedBytesMax', kib, max),
      snapshotChunkBytes: limitSize('snapshotChunkBytes', kib, gib),
      sendQueueFramesMax: limitCount('sendQueueFramesMax', 1e6),
      sendQueueBytesMax: limitSize('sendQueueBytesMax', 64 * kib, max),
      connectionsMax: limitCount('connectionsMax', 1e6),
      connectionsPerSourceMax: limitCount('connectionsPerSourceMax', 1e6),
      connectionsUnauthenticatedMax: limitCount('connectionsUnauthenticatedMax', 1e6),
      // At least twice the client library's idle ping (idlePingMs, src/client/connection.ts): a
      // waiting client must never be closed for idleness.
      connectionIdleTimeoutMs: readDurationMs(
        limits.get('connectionIdleTimeout'),
        'limits.connectionIdleTimeout',
        { fallback: d.limits.connectionIdleTimeoutMs, min: 60_000, max: day },
        problems,
      ),
      frameDeadlineMs: readDurationMs(
        limits.get('frameDeadline'),
        'limits.frameDeadline',
        { fallback: d.limits.frameDeadlineMs, min: 100, max: 10 * 60_000 },
        problems,
      ),
    },
    sessions: {
      ttlMs: duration(sessions, 'sessions.ttl', d.ttlMs, day),
      keepaliveIntervalMs: duration(sessions, 'sessions.keepaliveInterval', d.keepaliveIntervalMs, day),
      ttlMinMs: duration(sessions, 'sessions.ttlMin', d.ttlMinMs, day),
      ttlMaxMs: duration(sessions, 'sessions.ttlMax', d.ttlMaxMs, 30 * day),
    },
    security: readSecurity(security, dirname(file), problems),
  };
}

function readSecurity(
  fields: ReadonlyMap<string, Node | null>,
  baseDir: string,
  problems: ProblemList,
): SecurityConfig {
  const d = clusterDefaults;
  const pkiText = readString(fields.get('pki'), 'security.pki', d.pki, problems) ?? d.pki;
  const bounds = { fallback: d.logTimeJumpMaxMs, min: 1_000, max: 24 * 3_600_000 };
  const jump = fields.get('logTimeJumpMax');
  return {
    pkiDir: isAbsolute(pkiText) ? pkiText : resolve(baseDir, pkiText),
    insecure: readBoolean(fields.get('insecure'), 'security.insecure', false, problems),
    insecureNonLoopback: readBoolean(
      fields.get('insecureNonLoopback'),
      'security.insecureNonLoopback',
      false,
      problems,
    ),
    logTimeJumpMaxMs: readDurationMs(jump, 'security.logTimeJumpMax', bounds, problems),
  };
}

const snapshotModes: readonly SnapshotModeSetting[] = ['background', 'inline'];

function readSnapshotMode(
  node: Node | null | undefined,
  fallback: SnapshotModeSetting,
  problems: ProblemList,
): SnapshotModeSetting {
  const text = readString(node, 'snapshot.mode', fallback, problems);
  const mode = snapshotModes.find((m) => m === text);
  if (mode !== undefined) return mode;
  if (text !== null) problems.add(node, `snapshot.mode must be background or inline, got "${text}"`);
  return fallback;
}

/** A DNS name or IPv4 address: dot-separated labels of letters, digits and inner hyphens. */
const hostLabel = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const hostPattern = new RegExp(`^${hostLabel}(?:\\.${hostLabel})*$`);

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

function readAddress(node: Node | null | undefined, where: string, problems: ProblemList) {
  const text = readString(node, where, null, problems);
  if (text === null) {
    if (node === undefined) problems.add(null, `${where} is missing`);
    return null;
  }
  const address = parseHostPort(text);
  if (address === null) {
    const got = JSON.stringify(text);
    problems.add(node, `${where} must be host:port with a port from 1 to 65535, got ${got}`);
  }
  return address;
}

function readNodes(
  node: Node | null | undefined,
  baseDir: string,
  problems: ProblemList,
  warnings: ProblemList,
): NodeConfig[] {
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
      const rule = "1–64 letters, digits, '_', '.' or '-', starting with a letter or digit";
      problems.add(idNode, `${where}.id ${JSON.stringify(id)} must be ${rule}`);
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
    const http = fields.has('http') ? readAddress(fields.get('http'), `${where}.http`, problems) : null;
    for (const [role, address] of [
      ['peer', peer],
      ['client', client],
      ['http', http],
    ] as const) {
      if (address === null) continue;
      const key = `${address.host.toLowerCase()}:${address.port}`;
      const owner = seenAddresses.get(key);
      if (owner === undefined) {
        seenAddresses.set(key, `${id}.${role}`);
      } else {
        problems.add(fields.get(role), `address ${key} is used twice (${owner} and ${id}.${role})`);
      }
    }
    const dataText = readString(fields.get('data'), `${where}.data`, `./data/${id}`, problems);
    if (dataText === null) return;
    const dataDir = isAbsolute(dataText) ? dataText : resolve(baseDir, dataText);
    const dirOwner = seenDirs.get(dataDir);
    if (dirOwner !== undefined) {
      const message = `data directory ${dataDir} is shared by ${dirOwner} and ${id}`;
      problems.add(fields.get('data') ?? item, message);
    }
    seenDirs.set(dataDir, id);
    const joinNode = fields.get('join');
    const joinValue = joinNode === undefined ? false : isScalar(joinNode) ? joinNode.value : undefined;
    if (typeof joinValue !== 'boolean') {
      problems.add(joinNode ?? item, `${where}.join must be true or false`);
      return;
    }
    if (peer !== null && client !== null) {
      nodes.push({ id: id as NodeId, peer, client, dataDir, join: joinValue, ...(http === null ? {} : { http }) });
    }
  });
  if (nodes.length > 0 && nodes.every((n) => n.join)) {
    problems.add(node ?? null, 'at least one node must not have join: true (someone has to start the cluster)');
  }
  if (items.length % 2 === 0) {
    const count = items.length;
    const fewer = count - 1;
    const message = `${count} nodes tolerate no more failures than ${fewer}; prefer odd counts`;
    warnings.add(node ?? null, message);
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
    const { heartbeatTicks, electionTicks } = timing;
    const heartbeat = `timing.heartbeat (${heartbeatTicks})`;
    const message = `${heartbeat} must be below timing.election (${electionTicks})`;
    problems.add(at('timing', 'heartbeat'), message);
  }
  // An append and a snapshot chunk must each fit in one frame, with room for the message envelope.
  const envelopeBytes = 64 * 1024;
  if (limits.appendBytesMax + envelopeBytes > limits.frameBytesMax) {
    const message = 'limits.appendBytesMax plus 64KiB of envelope must fit in limits.frameBytesMax';
    problems.add(at('limits', 'appendBytesMax'), message);
  }
  if (limits.snapshotChunkBytes + envelopeBytes > limits.frameBytesMax) {
    const message = 'limits.snapshotChunkBytes plus 64KiB of envelope must fit in limits.frameBytesMax';
    problems.add(at('limits', 'snapshotChunkBytes'), message);
  }
  if (limits.sendQueueBytesMax < limits.frameBytesMax) {
    const message = 'limits.sendQueueBytesMax must hold at least one frame of limits.frameBytesMax';
    problems.add(at('limits', 'sendQueueBytesMax'), message);
  }
  // A client must get several keepalives through within one TTL to ride out a lost one.
  if (sessions.keepaliveIntervalMs * 3 > sessions.ttlMs) {
    const message = 'sessions.keepaliveInterval must be at most a third of sessions.ttl';
    problems.add(at('sessions', 'keepaliveInterval'), message);
  }
  if (sessions.ttlMinMs > sessions.ttlMaxMs) {
    problems.add(at('sessions', 'ttlMin'), 'sessions.ttlMin must not exceed sessions.ttlMax');
  } else if (sessions.ttlMs < sessions.ttlMinMs || sessions.ttlMs > sessions.ttlMaxMs) {
    const message = 'sessions.ttl must lie between sessions.ttlMin and sessions.ttlMax';
    problems.add(at('sessions', 'ttl'), message);
  }
  // "Told twice" means both: the second setting alone must not look as if it did something.
  if (config.security.insecureNonLoopback && !config.security.insecure) {
    const message = 'security.insecureNonLoopback has no effect without security.insecure: true (or --insecure)';
    warnings.add(at('security', 'insecureNonLoopback'), message);
  }
  const electionMaxMs = 2 * timing.electionTicks * timing.tickMs;
  if (sessions.ttlMinMs < electionMaxMs) {
    const ttlMin = `sessions.ttlMin (${sessions.ttlMinMs}ms)`;
    const message = `${ttlMin} is shorter than a worst-case election timeout (${electionMaxMs}ms)`;
    warnings.add(at('sessions', 'ttlMin'), message);
  }
}

/**
 * The Raft settings of node `id` under this configuration: a brand-new cluster of every node
 * without `join: true`; a joining node starts with no voters and learns its membership from the
 * leader once it is added.
 */
export function raftConfigFor(config: ClusterConfig, id: NodeId): RaftConfig {
  const joining = config.nodes.find((n) => n.id === id)?.join === true;
  return {
    id,
    initialVoters: joining ? [] : config.nodes.filter((n) => !n.join).map((n) => n.id),
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
