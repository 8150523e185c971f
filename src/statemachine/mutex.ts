import type { ApplyContext } from './context.js';
import type { Revocation } from './locks.js';
import { emptyValue, releaseLock, requestLock } from './locks.js';
import type { CommandResult } from './results.js';
import type { Session } from './state.js';

/**
 * Mutex acquire: free → granted at once (token = index of this entry); held → BUSY when waitMs is 0,
 * else the request joins the FIFO and is granted in the step that frees the lock.
 */
export function acquireMutex(
  ctx: ApplyContext,
  session: Session,
  clientId: string,
  seq: number,
  name: string,
  waitMs: number,
  lockDelayMs: number,
): CommandResult {
  return requestLock(ctx, {
    session,
    clientId,
    seq,
    name,
    kind: 'mutex',
    mode: 'exclusive',
    permits: 1,
    waitMs,
    lockDelayMs,
    value: emptyValue,
  });
}

/**
 * Release of a mutex, semaphore permit or rwlock hold: NOT_HOLDER unless the session holds it.
 * `revocation`: another client releases this session's hold (the holder is told first).
 */
export function release(ctx: ApplyContext, session: Session, name: string, revocation: Revocation | null): CommandResult {
  return releaseLock(ctx, session, name, ['mutex', 'semaphore', 'rwlock'], revocation);
}
