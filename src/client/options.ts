import type { BackoffPolicy } from '../transport/backoff.js';
import type { ClientClock } from './clock.js';
import { systemClock } from './clock.js';
import { turnsMax } from '../statemachine/commands.js';
import { defaultLockMachineConfig } from '../statemachine/config.js';
import { RaftlockError } from './errors.js';
import { laneSuffixBytesMax, lanesMaxLimit } from './lanes.js';
import type { ClientTls, Credentials } from './client-pki.js';
import { clientSecurity } from './client-pki.js';

/** Options of `connect()`. Durations are milliseconds; every field but `endpoints` is optional. */
export interface ConnectOptions {
  /** Client addresses (`host:port`) of one or more members; the rest are learned. */
  readonly endpoints: readonly string[];
  /** The cluster to join; '' or absent accepts whichever cluster the first node belongs to. */
  readonly clusterId?: string;
  /**
   * Identity for exactly-once; must be unique among live clients. Default: a random UUID. At most
   * 124 UTF-8 bytes: concurrent commands go out under lane ids, the id plus `#k` (see lanes.ts).
   */
  readonly clientId?: string;
  /**
   * Commands one client keeps in flight at once, each on its own lane (default 32). Calls beyond
   * it wait their turn in call order. Each lane is one entry in the cluster's exactly-once table
   * while its session lives. 1 sends one command at a time.
   */
  readonly commandsInFlightMax?: number;
  /**
   * Callers of this client queued for one mutex that a single grant may serve, one after another
   * (default 1: every caller is its own grant). Above 1, a caller handing the mutex on asks for a
   * run of turns, one per caller queued behind it at that moment (at most this many), and the client
   * passes the hold from caller to caller under the run's consecutive fencing tokens without a
   * commit each (docs/client.md, "Runs of turns"). Sessions queued before the run are still
   * granted first; those queued after it wait for the whole run.
   */
  readonly turnsPerGrant?: number;
  /**
   * Move to the leader named in a node's Welcome (default true). false keeps the connection on the
   * node reached (which forwards writes to the leader): spreads clients, costs one hop per write.
   */
  readonly followLeader?: boolean;
  /** Session TTL. Default 15 000. */
  readonly ttlMs?: number;
  /** Keepalive period. Default ttlMs / 3. */
  readonly keepAliveIntervalMs?: number;
  /** Clock-rate drift bound used by the session safety margin. Default 0.01 (1%). */
  readonly driftMax?: number;
  /** How long a call keeps retrying before UNAVAILABLE. Default 30 000. */
  readonly requestTimeoutMs?: number;
  /** How long one attempt waits for an answer before the connection is presumed dead (5 000). */
  readonly attemptTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly backoff?: BackoffPolicy;
  readonly frameBytesMax?: number;
  /**
   * TLS towards the nodes: the cluster's CA and optionally a client certificate (its user is the
   * principal). `false`: plaintext, for an insecure cluster. Absent: the CA (and, without
   * `credentials`, root's certificate) from `$RAFTLOCK_PKI` or `./data/pki`; plaintext when that
   * directory has no `ca.crt`.
   */
  readonly tls?: ClientTls | false;
  /**
   * A user and password, proved in every Hello (the node then hands out a token, reused when
   * reconnecting to that node). Needs TLS.
   */
  readonly credentials?: Credentials;
  /** Injected monotonic clock (tests). */
  readonly clock?: ClientClock;
  /** Uniform [0, 1) source for backoff jitter (tests). */
  readonly random?: () => number;
}

export type ResolvedOptions = Required<Omit<ConnectOptions, 'tls' | 'credentials'>> & {
  /** null: plaintext. */
  readonly tls: ClientTls | null;
  readonly credentials: Credentials | null;
};

export function resolveOptions(options: ConnectOptions, randomId: () => string): ResolvedOptions {
  const ttlMs = options.ttlMs ?? 15_000;
  const security = clientSecurity(options.tls, options.credentials);
  const resolved: ResolvedOptions = {
    ...security,
    endpoints: options.endpoints,
    clusterId: options.clusterId ?? '',
    clientId: options.clientId ?? randomId(),
    commandsInFlightMax: options.commandsInFlightMax ?? 32,
    turnsPerGrant: options.turnsPerGrant ?? 1,
    followLeader: options.followLeader ?? true,
    ttlMs,
    keepAliveIntervalMs: options.keepAliveIntervalMs ?? Math.max(1, Math.floor(ttlMs / 3)),
    driftMax: options.driftMax ?? 0.01,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    attemptTimeoutMs: options.attemptTimeoutMs ?? 5_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    backoff: options.backoff ?? { baseMs: 50, maxMs: 2_000 },
    frameBytesMax: options.frameBytesMax ?? 4 * 1024 * 1024,
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
  };
  const problems: string[] = [];
  if (resolved.endpoints.length === 0) problems.push('endpoints must name at least one host:port');
  const { driftMax, ttlMs: ttl, keepAliveIntervalMs: interval } = resolved;
  if (!(driftMax >= 0 && driftMax < 0.5)) problems.push('driftMax must be in [0, 0.5)');
  if (!(ttl > 0)) problems.push('ttlMs must be positive');
  if (!(interval > 0 && interval < ttl * (1 - 2 * driftMax))) {
    problems.push('keepAliveIntervalMs must be positive and shorter than the safe part of ttlMs');
  }
  if (resolved.clientId === '') problems.push('clientId must not be empty');
  const idBytesMax = defaultLockMachineConfig.clientIdBytesMax - laneSuffixBytesMax;
  if (Buffer.byteLength(resolved.clientId, 'utf8') > idBytesMax) {
    problems.push(`clientId must be at most ${idBytesMax} UTF-8 bytes (lane ids append up to ${laneSuffixBytesMax})`);
  }
  const inFlight = resolved.commandsInFlightMax;
  if (!Number.isSafeInteger(inFlight) || inFlight < 1 || inFlight > lanesMaxLimit) {
    problems.push(`commandsInFlightMax must be an integer in [1, ${lanesMaxLimit}]`);
  }
  const turns = resolved.turnsPerGrant;
  if (!Number.isSafeInteger(turns) || turns < 1 || turns > turnsMax) {
    problems.push(`turnsPerGrant must be an integer in [1, ${turnsMax}]`);
  }
  if (problems.length > 0) throw new RaftlockError('INVALID_ARGUMENT', problems.join('; '));
  return resolved;
}
