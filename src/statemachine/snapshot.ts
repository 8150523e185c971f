import { Packr } from 'msgpackr';
import type { Result } from '../util/result.js';
import { HolderSet } from './holders.js';
import { err, ok } from '../util/result.js';
import type { AuthStore } from './auth-store.js';
import { sortedRoles } from './auth-store.js';
import type { Permission, Right } from './auth-types.js';
import { isRight } from './auth-validate.js';
import type { LockMachineConfig } from './config.js';
import { turnsMax } from './commands.js';
import type { FencingToken, SessionId } from './ids.js';
import { fencingToken, sessionId } from './ids.js';
import { checkInvariants } from './invariants.js';
import { enqueue, waitersOf } from './queue.js';
import type { CommandResult, LockKind, ResultCode, WatchEvent } from './results.js';
import { resultCodes } from './results.js';
import type { Hold, HoldMode, LockRecord, LockState, Session, Waiter } from './state.js';
import { createLockState, sessionDeadlineMs } from './state.js';

// Snapshot format 2: one MessagePack array of positional tuples. Every collection is sorted
// (sessions by id, locks/keys/clients/users/roles by name, holders by token, waiters in queue
// order, events in log order, permissions by prefix), and objects are built in one fixed field
// order, so equal states give equal bytes. Format 1 (before users and roles existed: no auth
// store, no session owners, no client principals) is still read: a cluster upgraded from it
// restores with the built-in users only and every session and client id unowned.
// A run's hold (docs/statemachine.md, "Runs of turns") adds two fields to its holder tuple, turns
// and fenced, and a run's waiter adds turns; every other holder and waiter is written as before, so
// a state without runs gives the bytes it always gave, and older snapshots read unchanged.

const magic = 'raftlock-sm';
const formatVersion = 2;
const packr = new Packr({ useRecords: false });

const kinds: readonly LockKind[] = ['mutex', 'semaphore', 'rwlock', 'election'];
const modes: readonly HoldMode[] = ['exclusive', 'shared'];

/** Canonical bytes of the whole state (the timer heaps are derived and rebuilt on restore). */
export function encodeSnapshot(state: LockState): Uint8Array {
  const sessions = [...state.sessions.values()]
    .sort((a, b) => a.id - b.id)
    .map((s) => [s.id, s.clientId, s.ttlMs, s.lastSeenMs, s.owner]);
  // Default sort is UTF-16 code unit order, the same as compareStrings, and much faster.
  const locks = [...state.locks.keys()].sort().map((name) => {
    const lock = state.locks.get(name) as LockRecord;
    // Holders are kept in grant order, which is token order.
    const holders: unknown[] = [];
    for (const h of lock.holders.values()) {
      const holder = [h.session, h.token, modes.indexOf(h.mode), h.grantedAtMs, h.lockDelayMs, h.value];
      if (h.turns > 1) holder.push(h.turns, h.fenced);
      holders.push(holder);
    }
    const waiters = waitersOf(lock).map((w) => {
      const waiter = [
        w.id,
        w.session,
        modes.indexOf(w.mode),
        w.clientId,
        w.seq,
        w.enqueuedAtMs,
        w.deadlineMs,
        w.lockDelayMs,
        w.value,
      ];
      if (w.turns > 1) waiter.push(w.turns);
      return waiter;
    });
    return [name, kinds.indexOf(lock.kind), lock.permits, lock.delayUntilMs, holders, waiters];
  });
  const keys = [...state.keys.keys()].sort().map((key) => {
    const k = state.keys.get(key);
    return [key, k?.value, k?.version, k?.createIndex, k?.modifyIndex, k?.session ?? 0];
  });
  const clients = [...state.clients.keys()].sort().map((clientId) => {
    const c = state.clients.get(clientId);
    return [clientId, c?.seq, c?.session, c?.result, c?.principal];
  });
  const events = [state.events.capacity, state.events.evictedThroughIndex, state.events.toArray()];
  return packr.pack([
    magic,
    formatVersion,
    state.appliedIndex,
    state.logTimeMs,
    state.lastToken,
    sessions,
    locks,
    keys,
    clients,
    events,
    encodeAuth(state.auth),
  ]);
}

/** `[revision, users, roles]`: users `[name, hash|null, roles]`, roles `[name, [[prefix, rights]]]`. */
function encodeAuth(auth: AuthStore): unknown[] {
  const users = [...auth.users.keys()].sort().map((name) => {
    const user = auth.users.get(name);
    return [name, user?.passwordHash ?? null, user === undefined ? [] : sortedRoles(user)];
  });
  const roles = [...auth.roles.keys()]
    .sort()
    .map((name) => [name, (auth.roles.get(name) ?? []).map((p) => [p.prefix, p.rights])]);
  return [auth.revision, users, roles];
}

class SnapshotFailure {
  constructor(readonly message: string) {}
}

function fail(message: string): never {
  throw new SnapshotFailure(message);
}

function list(value: unknown, what: string): readonly unknown[] {
  if (!Array.isArray(value)) fail(`${what} must be an array`);
  return value;
}

function tuple(value: unknown, length: number, what: string): readonly unknown[] {
  const items = list(value, what);
  if (items.length !== length) fail(`${what} must have ${length} fields`);
  return items;
}

/** A tuple of `length` fields, or of `length + extra` when it carries the optional tail. */
function tupleWithTail(value: unknown, length: number, extra: number, what: string): readonly unknown[] {
  const items = list(value, what);
  if (items.length !== length && items.length !== length + extra) {
    fail(`${what} must have ${length} or ${length + extra} fields`);
  }
  return items;
}

/**
 * A run's turns from an optional tail field, bounded as the handoff command bounds them (2 to
 * turnsMax); 1 when the tuple has none.
 */
function turnsField(value: unknown, what: string): number {
  if (value === undefined) return 1;
  const turns = num(value, what);
  if (turns < 2) fail(`${what} must be at least 2 when present`);
  if (turns > turnsMax) fail(`${what} must be at most ${turnsMax}`);
  return turns;
}

function num(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(`${what} must be a natural number`);
  return value;
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string') fail(`${what} must be a string`);
  return value;
}

function bin(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) fail(`${what} must be binary`);
  // A copy, so the restored state does not keep the whole snapshot buffer alive.
  return new Uint8Array(value);
}

function pick<T>(options: readonly T[], value: unknown, what: string): T {
  const index = num(value, what);
  const option = options[index];
  if (option === undefined) fail(`${what} ${index} is unknown`);
  return option;
}

function fields(value: unknown, what: string): Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    fail(`${what} must be a map`);
  }
  return value as Readonly<Record<string, unknown>>;
}

function result(value: unknown): CommandResult {
  const f = fields(value, 'client result');
  if (!resultCodes.includes(f['code'] as ResultCode)) fail('client result has an unknown code');
  if (f['code'] === 'OK') {
    if (typeof fields(f['value'], 'client result value')['kind'] !== 'string') fail('client result value has no kind');
  } else {
    str(f['message'], 'client result message');
  }
  return value as CommandResult;
}

type EventFields = Readonly<Record<string, unknown>>;

// A field means the same in every event type that has it, so each is decoded in one place.
const eventKey = (f: EventFields): string => str(f['key'], 'event key');
const eventValue = (f: EventFields): Uint8Array => bin(f['value'], 'event value');
const eventLock = (f: EventFields): string => str(f['lock'], 'event lock');
const eventSession = (f: EventFields): SessionId => sessionId(num(f['session'], 'event session'));
const eventToken = (f: EventFields): FencingToken => fencingToken(num(f['token'], 'event token'));

/** Rebuilds an event field by field, in the field order apply() creates it (so bytes re-encode). */
function event(value: unknown): WatchEvent {
  const f = fields(value, 'event');
  const index = num(f['index'], 'event index');
  switch (f['type']) {
    case 'put':
      return {
        type: 'put',
        index,
        key: eventKey(f),
        version: num(f['version'], 'event version'),
        value: eventValue(f),
      };
    case 'delete':
      return { type: 'delete', index, key: eventKey(f) };
    case 'grant':
      return { type: 'grant', index, lock: eventLock(f), session: eventSession(f), token: eventToken(f) };
    case 'release':
      return { type: 'release', index, lock: eventLock(f), session: eventSession(f) };
    case 'leader':
      return {
        type: 'leader',
        index,
        lock: eventLock(f),
        session: eventSession(f),
        token: eventToken(f),
        value: eventValue(f),
      };
    default:
      return fail('event has an unknown type');
  }
}

function nullableStr(value: unknown, what: string): string | null {
  return value === null ? null : str(value, what);
}

function restoreSession(state: LockState, value: unknown, format: number): void {
  const [id, clientId, ttlMs, lastSeenMs, owner] = tuple(value, format === 1 ? 4 : 5, 'session');
  const session: Session = {
    id: sessionId(num(id, 'session id')),
    clientId: str(clientId, 'session client'),
    owner: format === 1 ? null : nullableStr(owner, 'session owner'),
    ttlMs: num(ttlMs, 'session ttlMs'),
    lastSeenMs: num(lastSeenMs, 'session lastSeenMs'),
    holds: new Set(),
    waits: new Map(),
    keys: new Set(),
    clients: new Set(),
  };
  if (state.sessions.has(session.id)) fail(`session ${session.id} appears twice`);
  state.sessions.set(session.id, session);
  state.sessionTimers.push(sessionDeadlineMs(session), session.id);
}

function liveSession(state: LockState, value: unknown, what: string): Session {
  const id = sessionId(num(value, what));
  const session = state.sessions.get(id);
  if (session === undefined) fail(`${what} ${id} is not a live session`);
  return session;
}

interface HeldBy {
  readonly hold: Hold;
  readonly lock: string;
}

function restoreLock(state: LockState, value: unknown, holds: HeldBy[], waits: Waiter[]): void {
  const [name, kind, permits, delayUntilMs, holders, waiters] = tuple(value, 6, 'lock');
  const lock: LockRecord = {
    name: str(name, 'lock name'),
    kind: pick(kinds, kind, 'lock kind'),
    permits: num(permits, 'lock permits'),
    holders: new HolderSet(),
    head: null,
    tail: null,
    waiting: 0,
    delayUntilMs: num(delayUntilMs, 'lock delayUntilMs'),
  };
  if (state.locks.has(lock.name)) fail(`lock ${lock.name} appears twice`);
  state.locks.set(lock.name, lock);
  if (lock.delayUntilMs !== 0) state.delayTimers.push(lock.delayUntilMs, lock.name);
  for (const h of list(holders, 'holders')) {
    const [s, token, mode, grantedAtMs, lockDelayMs, v, turns, fenced] = tupleWithTail(h, 6, 2, 'holder');
    const session = liveSession(state, s, 'holder');
    const first = fencingToken(num(token, 'token'));
    const hold: Hold = {
      session: session.id,
      token: first,
      mode: pick(modes, mode, 'holder mode'),
      grantedAtMs: num(grantedAtMs, 'grantedAtMs'),
      lockDelayMs: num(lockDelayMs, 'holder lockDelayMs'),
      value: bin(v, 'holder value'),
      turns: turnsField(turns, 'holder turns'),
      fenced: fenced === undefined ? first : num(fenced, 'holder fenced'),
    };
    if (hold.fenced < first || hold.fenced > first + hold.turns - 1) {
      fail(`holder fenced ${hold.fenced} is outside its tokens ${first}..${first + hold.turns - 1}`);
    }
    if (lock.holders.has(session.id)) fail(`session ${session.id} holds ${lock.name} twice`);
    lock.holders.set(session.id, hold);
    holds.push({ hold, lock: lock.name });
  }
  for (const w of list(waiters, 'waiters')) {
    const [id, s, mode, clientId, seq, enqueuedAtMs, deadlineMs, lockDelayMs, v, turns] = tupleWithTail(
      w,
      9,
      1,
      'waiter',
    );
    const session = liveSession(state, s, 'waiter');
    const waiter: Waiter = {
      id: num(id, 'waiter id'),
      session: session.id,
      lock: lock.name,
      mode: pick(modes, mode, 'waiter mode'),
      clientId: str(clientId, 'waiter client'),
      seq: num(seq, 'waiter seq'),
      enqueuedAtMs: num(enqueuedAtMs, 'waiter enqueuedAtMs'),
      deadlineMs: num(deadlineMs, 'waiter deadlineMs'),
      lockDelayMs: num(lockDelayMs, 'waiter lockDelayMs'),
      value: bin(v, 'waiter value'),
      turns: turnsField(turns, 'waiter turns'),
      prev: null,
      next: null,
      queued: true,
    };
    enqueue(lock, waiter);
    state.waiterCount++;
    state.waitTimers.push(waiter.deadlineMs, waiter);
    waits.push(waiter);
  }
}

function restoreKey(state: LockState, value: unknown): void {
  const [key, v, version, createIndex, modifyIndex, owner] = tuple(value, 6, 'key');
  const name = str(key, 'key name');
  const ownerId = num(owner, 'key session');
  const session = ownerId === 0 ? null : liveSession(state, ownerId, 'key owner');
  state.keys.set(name, {
    value: bin(v, 'key value'),
    version: num(version, 'key version'),
    createIndex: num(createIndex, 'key createIndex'),
    modifyIndex: num(modifyIndex, 'key modifyIndex'),
    session: session === null ? null : session.id,
  });
  session?.keys.add(name);
}

function restoreClient(state: LockState, value: unknown, format: number): void {
  const [clientId, seq, s, r, principal] = tuple(value, format === 1 ? 4 : 5, 'client');
  const id = str(clientId, 'client id');
  const session = liveSession(state, s, 'client session');
  state.clients.set(id, {
    seq: num(seq, 'client seq'),
    result: result(r),
    session: session.id as SessionId,
    principal: format === 1 ? null : nullableStr(principal, 'client principal'),
  });
  session.clients.add(id);
}

function decodeState(bytes: Uint8Array, config: LockMachineConfig): LockState {
  let decoded: unknown;
  try {
    decoded = packr.unpack(bytes);
  } catch {
    return fail('snapshot is not MessagePack');
  }
  const top = list(decoded, 'snapshot');
  const format = top[1];
  if (top[0] !== magic || (format !== 1 && format !== formatVersion)) {
    fail(`not a raftlock state machine snapshot of format 1 or ${formatVersion}`);
  }
  if (top.length !== (format === 1 ? 10 : 11))
    fail(`a format ${format} snapshot must have ${format === 1 ? 10 : 11} fields`);
  const state = createLockState(config);
  state.appliedIndex = num(top[2], 'appliedIndex');
  state.logTimeMs = num(top[3], 'logTimeMs');
  state.lastToken = num(top[4], 'lastToken');
  for (const s of list(top[5], 'sessions')) restoreSession(state, s, format);
  const holds: HeldBy[] = [];
  const waits: Waiter[] = [];
  for (const l of list(top[6], 'locks')) restoreLock(state, l, holds, waits);
  // Per-session sets in grant and enqueue order, as a replica that never restarted has them.
  holds.sort((a, b) => a.hold.token - b.hold.token);
  for (const { hold, lock } of holds) state.sessions.get(hold.session)?.holds.add(lock);
  waits.sort((a, b) => a.id - b.id);
  for (const waiter of waits) state.sessions.get(waiter.session)?.waits.set(waiter.lock, waiter);
  for (const k of list(top[7], 'keys')) restoreKey(state, k);
  for (const c of list(top[8], 'clients')) restoreClient(state, c, format);
  const [capacity, evicted, events] = tuple(top[9], 3, 'events');
  num(capacity, 'event capacity');
  for (const e of list(events, 'event list')) state.events.append(event(e));
  state.events.evictedThroughIndex = Math.max(state.events.evictedThroughIndex, num(evicted, 'evictedThroughIndex'));
  if (format !== 1) restoreAuth(state.auth, top[10]);
  return state;
}

function rights(value: unknown, what: string): Right[] {
  return list(value, what).map((right) => {
    if (!isRight(right)) fail(`${what} holds an unknown right`);
    return right;
  });
}

/**
 * Replaces the built-in store with the snapshot's (which holds the built-ins too). Field types are
 * checked here; names, hashes, order and the built-ins by the invariants after the restore.
 */
function restoreAuth(auth: AuthStore, value: unknown): void {
  const [revision, users, roles] = tuple(value, 3, 'auth store');
  auth.revision = num(revision, 'auth revision');
  auth.users.clear();
  auth.roles.clear();
  for (const u of list(users, 'users')) {
    const [name, hash, held] = tuple(u, 3, 'user');
    const user = str(name, 'user name');
    if (auth.users.has(user)) fail(`user ${user} appears twice`);
    const roleSet = new Set(list(held, `roles of ${user}`).map((role) => str(role, `role of ${user}`)));
    auth.users.set(user, { passwordHash: nullableStr(hash, `password hash of ${user}`), roles: roleSet });
  }
  for (const r of list(roles, 'roles')) {
    const [name, permissions] = tuple(r, 2, 'role');
    const role = str(name, 'role name');
    if (auth.roles.has(role)) fail(`role ${role} appears twice`);
    const decoded: Permission[] = list(permissions, `permissions of ${role}`).map((p) => {
      const [prefix, granted] = tuple(p, 2, `permission of ${role}`);
      return { prefix: str(prefix, `prefix of ${role}`), rights: rights(granted, `rights of ${role}`) };
    });
    auth.roles.set(role, decoded);
  }
}

/**
 * Rebuilds a state from snapshot bytes, or says what is wrong with them. The result re-encodes to
 * the same bytes, and its invariants are checked before it is accepted. Never throws.
 */
export function decodeSnapshot(bytes: Uint8Array, config: LockMachineConfig): Result<LockState, string> {
  try {
    const state = decodeState(bytes, config);
    const problems = checkInvariants(state);
    if (problems.length > 0) return err(`snapshot breaks invariants: ${problems.slice(0, 3).join('; ')}`);
    return ok(state);
  } catch (error: unknown) {
    if (error instanceof SnapshotFailure) return err(`bad snapshot: ${error.message}`);
    throw error;
  }
}
