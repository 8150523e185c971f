import type { ApplyContext } from './context.js';
import type { LockAsk, LockTerms, Revocation } from './locks.js';
import { emptyValue, releaseLock, requestLock } from './locks.js';
import type { CommandResult } from './results.js';
import { failure } from './results.js';
import type { Session } from './state.js';

const mutexTerms: LockTerms = { kind: 'mutex', mode: 'exclusive', permits: 1, value: emptyValue };

/**
 * Mutex acquire: free → granted at once (token = index of this entry); held → BUSY when waitMs is 0,
 * else the request joins the FIFO and is granted in the step that frees the lock.
 */
export function acquireMutex(ctx: ApplyContext, ask: LockAsk): CommandResult {
  return requestLock(ctx, ask, mutexTerms);
}

/**
 * Release of a mutex, semaphore permit or rwlock hold: NOT_HOLDER unless the session holds it.
 * `revocation`: another client releases this session's hold (the holder is told first).
 */
export function release(
  ctx: ApplyContext,
  session: Session,
  name: string,
  revocation: Revocation | null,
): CommandResult {
  return releaseLock(ctx, session, name, ['mutex', 'semaphore', 'rwlock'], revocation);
}

/**
 * A client passing the mutex from one of its callers to the next, in one entry: the session's hold
 * ends (as by `release`; skipped when it holds nothing, e.g. after a revocation) and waiters are
 * promoted, then the session asks again as a new `acquire`. Every session queued before this entry
 * is therefore granted first (FIFO across sessions); with nobody waiting the session is granted at
 * once, under a new, larger token. The answer is the acquire's. A name that is not a mutex is
 * refused before anything changes.
 */
export function handOff(ctx: ApplyContext, ask: LockAsk, revocation: Revocation | null): CommandResult {
  const { session, name } = ask;
  const lock = ctx.state.locks.get(name);
  if (lock !== undefined && lock.kind !== 'mutex')
    return failure('INVALID_ARGUMENT', `${name} is a ${lock.kind}, not a mutex`);
  if (lock?.holders.has(session.id) === true) release(ctx, session, name, revocation);
  return acquireMutex(ctx, ask);
}
