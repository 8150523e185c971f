import type { ApplyContext } from './context.js';
import { emptyValue, requestLock } from './locks.js';
import type { CommandResult } from './results.js';
import type { Session } from './state.js';

/**
 * Semaphore acquire: up to `permits` sessions hold the name at once, each with its own token;
 * waiters are FIFO. Every request must state the same `permits` as the lock has, else
 * INVALID_ARGUMENT. A session holds at most one permit of a name.
 */
export function acquireSemaphore(
  ctx: ApplyContext,
  session: Session,
  clientId: string,
  seq: number,
  name: string,
  permits: number,
  waitMs: number,
  lockDelayMs: number,
): CommandResult {
  return requestLock(ctx, {
    session,
    clientId,
    seq,
    name,
    kind: 'semaphore',
    mode: 'shared',
    permits,
    waitMs,
    lockDelayMs,
    value: emptyValue,
  });
}
