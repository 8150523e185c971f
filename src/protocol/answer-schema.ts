/**
 * The shapes of what a node sends a client after the Welcome: a Response's result (every
 * `WireResult` code and, for OK, every `WireValue` kind) and a Push's event (every `PushEvent`
 * kind). `decodeServerFrame` (client-protocol.ts) runs these, so a client, a forwarding node and a
 * test server read answers as the typed unions and never as untyped maps.
 *
 * Objects are checked for the fields their type names; fields beyond those are ignored, so a
 * newer node may add one without cutting older clients off. Two absences are read as defaults
 * by `normalisedResult`: NOT_LEADER without its leader fields (unknown: null) and a `whoami`
 * without `permissions` (a node from before they were part of the answer: none).
 */
import { allRights } from '../statemachine/auth-types.js';
import { resultCodes, revokeReasons } from '../statemachine/results.js';
import type { Check } from './schema.js';
import {
  arrayOf,
  boolean,
  bytes,
  describeValue,
  isPlainObject,
  nodeId,
  nullable,
  objectWith,
  uint,
  violation,
  within,
} from './schema.js';

/** A union tagged by `tag`, each variant with its own field table (see `objectWith`). */
function variants(tag: string, table: Readonly<Record<string, Readonly<Record<string, Check>>>>): Check {
  const checks = new Map<string, Check>();
  for (const [name, shape] of Object.entries(table)) checks.set(name, objectWith(shape));
  return (value) => {
    if (!isPlainObject(value)) return violation(`expected an object, got ${describeValue(value)}`);
    const kind = value[tag];
    const check = typeof kind === 'string' ? checks.get(kind) : undefined;
    if (check === undefined) return within(`.${tag}`, violation(`unknown ${tag} ${describeValue(kind)}`));
    return check(value);
  };
}

function oneOf(names: readonly string[]): Check {
  return (value) =>
    typeof value === 'string' && names.includes(value)
      ? null
      : violation(`expected one of ${names.join(', ')}, got ${describeValue(value)}`);
}

/** Any string: the node bounds what it stores; the frame limit bounds what arrives. */
const text: Check = (value) =>
  typeof value === 'string' ? null : violation(`expected a string, got ${describeValue(value)}`);

/** Log-time milliseconds and the like: any finite number. */
const ms: Check = (value) =>
  typeof value === 'number' && Number.isFinite(value)
    ? null
    : violation(`expected a number, got ${describeValue(value)}`);

const texts = arrayOf(text);
const sessions = arrayOf(uint);

const keyView = objectWith({
  key: text,
  value: bytes,
  version: uint,
  createIndex: uint,
  modifyIndex: uint,
  ephemeralSession: nullable(uint),
});
const leaderView = objectWith({ session: uint, token: uint, value: bytes });
const lockView = objectWith({
  name: text,
  kind: oneOf(['mutex', 'semaphore', 'rwlock', 'election']),
  permits: uint,
  holders: arrayOf(objectWith({ session: uint, token: uint, mode: text })),
  waiters: arrayOf(objectWith({ session: uint, mode: text, deadlineMs: ms })),
  delayUntilMs: ms,
});
const sessionView = objectWith({
  session: uint,
  clientId: text,
  owner: nullable(text),
  ttlMs: ms,
  lastSeenMs: ms,
  deadlineMs: ms,
  holds: texts,
  waits: texts,
  ephemeralKeys: texts,
});
const permission = objectWith({ prefix: text, rights: arrayOf(oneOf(allRights)) });
const statusView = objectWith({
  nodeId,
  clusterId: text,
  role: oneOf(['follower', 'preCandidate', 'candidate', 'leader']),
  term: uint,
  leader: nullable(nodeId),
  commit: uint,
  applied: uint,
  lastIndex: uint,
  snapshotIndex: uint,
  voters: arrayOf(nodeId),
  learners: arrayOf(nodeId),
  lag: arrayOf(objectWith({ id: nodeId, behind: uint })),
  sessions: uint,
  locks: uint,
  waiters: uint,
  connections: uint,
});
const memberView = objectWith({ id: nodeId, role: oneOf(['voter', 'learner']), peer: text, client: text });

/** Every OK value: the state machine's `OkValue` kinds, then the node's own answers. */
const wireValue = variants('kind', {
  tick: {},
  session: { session: uint, ttlMs: uint },
  kept: { session: uint, deadlineMs: ms },
  keptBatch: { alive: sessions, expired: sessions },
  closed: { session: uint },
  granted: { name: text, token: uint },
  queued: { name: text, waiter: uint },
  released: { name: text },
  proclaimed: { name: text, token: uint },
  put: { key: text, version: uint, createIndex: uint, modifyIndex: uint },
  deleted: { key: text, existed: boolean },
  admin: { done: text },
  users: { users: arrayOf(objectWith({ name: text, roles: texts, password: boolean })) },
  roles: { roles: arrayOf(objectWith({ name: text, permissions: arrayOf(permission) })) },
  whoami: { principal: nullable(text), roles: texts, admin: boolean, permissions: arrayOf(permission) },
  key: { key: nullable(keyView) },
  fence: { lock: text, token: uint },
  leader: { name: text, leader: nullable(leaderView) },
  locks: { locks: arrayOf(lockView) },
  keys: { keys: arrayOf(keyView), next: nullable(text) },
  sessionInfo: { session: nullable(sessionView) },
  watching: { watchId: uint, fromIndex: uint },
  unwatched: { watchId: uint },
  status: { status: statusView },
  members: { members: arrayOf(memberView) },
  snapshotTaken: { index: uint },
  backupChunk: { backup: uint, offset: uint, total: uint, bytes },
  accepted: {},
});

const refusalCodes = [...resultCodes.filter((code) => code !== 'OK'), 'UNAVAILABLE'];

/** A Response's result: OK with a known value, or a known refusal code with its facts. */
export const resultShape: Check = (value) => {
  if (!isPlainObject(value)) return violation(`expected an object, got ${describeValue(value)}`);
  const code = value['code'];
  if (code === 'OK') {
    const bad = wireValue(value['value']);
    return bad === null ? null : within('.value', bad);
  }
  if (typeof code !== 'string' || !refusalCodes.includes(code)) {
    return within('.code', violation(`unknown result code ${describeValue(code)}`));
  }
  const message = text(value['message']);
  if (message !== null) return within('.message', message);
  switch (code) {
    case 'DEADLOCK':
      return objectWith({ cycle: arrayOf(objectWith({ session: uint, lock: text })) })(value);
    case 'VERSION_MISMATCH':
      return objectWith({ version: uint })(value);
    case 'NOT_LEADER':
      return objectWith({ leader: nullable(nodeId), leaderClient: nullable(text) })(value);
    default:
      return null;
  }
};

/** A watch event (results.ts `WatchEvent`), tagged by `type`. */
const watchEvent = variants('type', {
  put: { index: uint, key: text, version: uint, value: bytes },
  delete: { index: uint, key: text },
  grant: { index: uint, lock: text, session: uint, token: uint },
  release: { index: uint, lock: text, session: uint },
  leader: { index: uint, lock: text, session: uint, token: uint, value: bytes },
});

/** A Push's event: the state machine's notifications for this client, and watch traffic. */
export const pushEventShape: Check = variants('kind', {
  granted: { session: uint, clientId: text, seq: uint, name: text, token: uint },
  timeout: { session: uint, clientId: text, seq: uint, name: text },
  sessionExpired: { session: uint, clientId: text },
  revoked: { session: uint, clientId: text, name: text, token: uint, by: nullable(text), reason: oneOf(revokeReasons) },
  event: { watchId: uint, event: watchEvent },
  watchCancelled: {
    watchId: uint,
    code: oneOf(['COMPACTED', 'UNAVAILABLE', 'PERMISSION_DENIED']),
    message: text,
  },
});

/**
 * A result with the two tolerated absences filled in (see the file comment); run before
 * `resultShape`. Anything that is not such a result is returned as it is, for the check to refuse.
 */
export function normalisedResult(result: unknown): unknown {
  if (!isPlainObject(result)) return result;
  if (result['code'] === 'NOT_LEADER') {
    return { ...result, leader: result['leader'] ?? null, leaderClient: result['leaderClient'] ?? null };
  }
  const value = result['value'];
  const whoami = result['code'] === 'OK' && isPlainObject(value) && value['kind'] === 'whoami';
  if (whoami && !Object.hasOwn(value, 'permissions')) {
    return { ...result, value: { ...value, permissions: [] } };
  }
  return result;
}
