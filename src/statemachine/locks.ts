import { assert } from '../util/assert.js';
import { HolderSet } from './holders.js';
import type { ApplyContext } from './context.js';
import { emitEvent } from './context.js';
import { updateResult } from './dedup.js';
import { findCycle } from './deadlock.js';
import { fencingToken } from './ids.js';
import { enqueue, unlink } from './queue.js';
import type { CommandResult, LockKind, OkValue, RevokeReason } from './results.js';
import { failure, okResult } from './results.js';
import type { Hold, HoldMode, LockRecord, Session, Waiter } from './state.js';

/**
 * Who asks for a lock and on what terms: the part of a request that is the same for every kind,
 * taken from the command as it is (src/statemachine/apply.ts builds it once for all of them).
 */
export interface LockAsk {
  readonly session: Session;
  readonly clientId: string;
  readonly seq: number;
  readonly name: string;
  readonly waitMs: number;
  readonly lockDelayMs: number;
  /** Tokens the grant reserves: 1, or more for a run of one client's callers (a mutex handoff). */
  readonly turns: number;
}

/**
 * What the kind-specific modules (mutex, rwlock, semaphore, election) add to a LockAsk. Passed
 * beside the ask, not spread into a copy of it: a `{ ...ask, kind }` per command cost the whole
 * acquire/release path about two thirds of its rate (docs/statemachine.md, "Performance").
 */
export interface LockTerms {
  readonly kind: LockKind;
  readonly mode: HoldMode;
  /** Semaphore capacity; 1 for mutex/election; 0 for rwlock. */
  readonly permits: number;
  readonly value: Uint8Array;
}

const empty = new Uint8Array(0);

/** Whether a request in `mode` could be granted now, ignoring the queue and lock-delay. */
export function compatible(lock: LockRecord, mode: HoldMode): boolean {
  switch (lock.kind) {
    case 'mutex':
    case 'election':
      return lock.holders.size === 0;
    case 'semaphore':
      return lock.holders.size < lock.permits;
    case 'rwlock': {
      if (lock.holders.size === 0) return true;
      if (mode === 'exclusive') return false;
      return lock.holders.first()?.mode === 'shared';
    }
  }
}

/** Creates the record for a name that has none. */
function createLock(ctx: ApplyContext, name: string, kind: LockKind, permits: number): LockRecord {
  const lock: LockRecord = {
    name,
    kind,
    permits,
    holders: new HolderSet(),
    head: null,
    tail: null,
    waiting: 0,
    delayUntilMs: 0,
  };
  ctx.state.locks.set(name, lock);
  return lock;
}

/** Deletes the record of a lock with no holders, no waiters and no running lock-delay. */
export function dropIfIdle(ctx: ApplyContext, lock: LockRecord): void {
  if (lock.holders.size === 0 && lock.waiting === 0 && lock.delayUntilMs === 0) {
    ctx.state.locks.delete(lock.name);
  }
}

/**
 * Grants the lock. The token is `max(index, lastToken + 1)`: the granting entry's index, kept
 * strictly increasing when one entry grants several times. A grant of `turns` > 1 reserves the
 * tokens after it too, up to `token + turns - 1`, and the next grant of any lock comes after them.
 */
function grant(
  ctx: ApplyContext,
  lock: LockRecord,
  session: Session,
  mode: HoldMode,
  lockDelayMs: number,
  value: Uint8Array,
  turns: number,
): Hold {
  const state = ctx.state;
  if (state.sessions.get(session.id) !== session) assert(false, `grant of ${lock.name} to dead session ${session.id}`);
  if (!compatible(lock, mode)) assert(false, `grant of ${lock.name} while incompatible`);
  // The seeded bug 'reuse-fencing-token' drops the guard for an entry that grants several times.
  const token = fencingToken(
    ctx.mutations.has('reuse-fencing-token') ? ctx.index : Math.max(ctx.index, state.lastToken + 1),
  );
  state.lastToken = token + turns - 1;
  const hold: Hold = {
    session: session.id,
    token,
    mode,
    grantedAtMs: ctx.nowMs,
    lockDelayMs,
    value,
    turns,
    fenced: token,
  };
  lock.holders.set(session.id, hold);
  session.holds.add(lock.name);
  if (lock.kind === 'election') {
    emitEvent(ctx, { type: 'leader', index: ctx.index, lock: lock.name, session: session.id, token, value });
  } else {
    emitEvent(ctx, { type: 'grant', index: ctx.index, lock: lock.name, session: session.id, token });
  }
  return hold;
}

/**
 * The answer to the request that was granted `hold` on `name`: a run's names its turns, a single
 * grant's keeps the shape it always had.
 */
function grantedValue(name: string, hold: Hold): OkValue {
  const { token, turns } = hold;
  return turns > 1 ? { kind: 'granted', name, token, turns } : { kind: 'granted', name, token };
}

/**
 * Grants queued requests in FIFO order while the head is compatible and no lock-delay runs. Only
 * the head is ever considered (no thundering herd); readers behind a waiting writer stay queued.
 */
export function promote(ctx: ApplyContext, lock: LockRecord): void {
  if (lock.delayUntilMs !== 0) return;
  for (let head = lock.head; head !== null && compatible(lock, head.mode); head = lock.head) {
    unlink(lock, head);
    ctx.state.waiterCount--;
    const session = ctx.state.sessions.get(head.session);
    if (session === undefined) return assert(false, `waiter ${head.id} of a dead session in ${lock.name}`);
    session.waits.delete(lock.name);
    const hold = grant(ctx, lock, session, head.mode, head.lockDelayMs, head.value, head.turns);
    const { clientId, seq } = head;
    const { token, turns } = hold;
    const { name } = lock;
    // A run's grant names its turns; a single grant keeps the shape it always had. Two literals,
    // no spread: see LockTerms.
    ctx.notifications.push(
      turns > 1
        ? { kind: 'granted', session: session.id, clientId, seq, name, token, turns }
        : { kind: 'granted', session: session.id, clientId, seq, name, token },
    );
    updateResult(ctx.state, clientId, seq, okResult(grantedValue(name, hold)));
  }
}

/**
 * Acquire for every lock kind: grant now, answer BUSY, refuse with DEADLOCK, or queue. A session
 * that already holds the lock gets its existing grant back; one already queued gets its place.
 */
export function requestLock(ctx: ApplyContext, ask: LockAsk, request: LockTerms): CommandResult {
  const state = ctx.state;
  const { session, name } = ask;
  const existing = state.locks.get(name);
  if (existing !== undefined && existing.kind !== request.kind) {
    return failure('INVALID_ARGUMENT', `${name} is a ${existing.kind}, not a ${request.kind}`);
  }
  if (existing !== undefined && existing.kind === 'semaphore' && existing.permits !== request.permits) {
    return failure(
      'INVALID_ARGUMENT',
      `semaphore ${name} has ${existing.permits} permits; the request says ${request.permits}`,
    );
  }
  const held = existing?.holders.get(session.id);
  if (held !== undefined) {
    if (request.mode === 'exclusive' && held.mode === 'shared' && request.kind === 'rwlock') {
      return {
        code: 'DEADLOCK',
        message: `session ${session.id} holds ${name} shared; upgrading would wait for itself`,
        cycle: [{ session: session.id, lock: name }],
      };
    }
    return okResult(grantedValue(name, held));
  }
  const queued = session.waits.get(name);
  if (queued !== undefined) return okResult({ kind: 'queued', name, waiter: queued.id });
  const lock = existing ?? createLock(ctx, name, request.kind, request.permits);
  if (lock.waiting === 0 && lock.delayUntilMs === 0 && compatible(lock, request.mode)) {
    const hold = grant(ctx, lock, session, request.mode, ask.lockDelayMs, request.value, ask.turns);
    return okResult(grantedValue(name, hold));
  }
  if (ask.waitMs === 0) {
    return failure('BUSY', lock.delayUntilMs !== 0 ? `${name} is in lock-delay` : `${name} is held`);
  }
  if (lock.waiting >= state.config.waitersPerLockMax) {
    return failure('BUSY', `${name} already has ${lock.waiting} waiters`);
  }
  const cycle = findCycle(state, session.id, lock);
  if (cycle !== null) {
    const path = cycle.map((step) => `session ${step.session} waits for ${step.lock}`).join(', ');
    return { code: 'DEADLOCK', message: `waiting would close a cycle: ${path}`, cycle };
  }
  const waiter: Waiter = {
    id: ctx.index,
    session: session.id,
    lock: name,
    mode: request.mode,
    clientId: ask.clientId,
    seq: ask.seq,
    enqueuedAtMs: ctx.nowMs,
    deadlineMs: ctx.nowMs + ask.waitMs,
    lockDelayMs: ask.lockDelayMs,
    value: request.value,
    turns: ask.turns,
    prev: null,
    next: null,
    queued: true,
  };
  enqueue(lock, waiter);
  session.waits.set(name, waiter);
  state.waiterCount++;
  state.waitTimers.push(waiter.deadlineMs, waiter);
  // Granted waiters leave stale timers behind until their deadline; drop them in bulk once they
  // outnumber the live ones, so the heap stays O(waiters) even with day-long waits.
  if (state.waitTimers.size > 2 * state.waiterCount + 1024) {
    state.waitTimers.compact((_atMs, timer) => timer.queued);
  }
  return okResult({ kind: 'queued', name, waiter: waiter.id });
}

/**
 * How a hold (or a whole session) ends: `clean` (release, resign, closeSession) or `expired` (the
 * session timed out, so its holder may be mid-work: the lock-delay starts).
 */
export type Ending = 'clean' | 'expired';

/**
 * Ends one hold. A hold ended by session expiry starts the holder's lock-delay; a clean release
 * (release, resign, closeSession) does not. The caller promotes waiters afterwards.
 */
export function endHold(ctx: ApplyContext, lock: LockRecord, hold: Hold, ending: Ending): void {
  lock.holders.delete(hold.session);
  ctx.state.sessions.get(hold.session)?.holds.delete(lock.name);
  emitEvent(ctx, { type: 'release', index: ctx.index, lock: lock.name, session: hold.session });
  if (ending === 'expired' && hold.lockDelayMs > 0) {
    const until = ctx.nowMs + hold.lockDelayMs;
    if (until > lock.delayUntilMs) {
      lock.delayUntilMs = until;
      ctx.state.delayTimers.push(until, lock.name);
    }
  }
}

/** A hold ended by someone other than its own client: who did it, and how. */
export interface Revocation {
  readonly by: string | null;
  readonly reason: RevokeReason;
}

/**
 * Tells the holder its hold on `name` ended by someone else's hand. Called before the hold ends,
 * so the notification precedes every grant the same entry makes from it.
 */
export function pushRevoked(
  ctx: ApplyContext,
  session: Session,
  name: string,
  hold: Hold,
  revocation: Revocation,
): void {
  ctx.notifications.push({
    kind: 'revoked',
    session: session.id,
    clientId: session.clientId,
    name,
    token: hold.token,
    by: revocation.by,
    reason: revocation.reason,
  });
}

/**
 * Release by a session: NOT_HOLDER unless it holds the lock; then waiters are promoted at once.
 * With a revocation (another client releasing this session's hold) the holder is told first.
 */
export function releaseLock(
  ctx: ApplyContext,
  session: Session,
  name: string,
  kinds: readonly LockKind[],
  revocation: Revocation | null,
): CommandResult {
  const lock = ctx.state.locks.get(name);
  const hold = lock?.holders.get(session.id);
  if (lock === undefined || hold === undefined) {
    return failure('NOT_HOLDER', `session ${session.id} does not hold ${name}`);
  }
  if (!kinds.includes(lock.kind)) {
    return failure('INVALID_ARGUMENT', `${name} is a ${lock.kind}`);
  }
  if (revocation !== null) pushRevoked(ctx, session, name, hold, revocation);
  endHold(ctx, lock, hold, 'clean');
  promote(ctx, lock);
  dropIfIdle(ctx, lock);
  return okResult({ kind: 'released', name });
}

/** Takes a waiter out of its queue without granting (timeout, session end). */
export function cancelWait(ctx: ApplyContext, lock: LockRecord, waiter: Waiter): void {
  unlink(lock, waiter);
  ctx.state.waiterCount--;
  ctx.state.sessions.get(waiter.session)?.waits.delete(lock.name);
}

export { empty as emptyValue };
