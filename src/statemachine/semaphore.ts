import type { ApplyContext } from './context.js';
import type { LockAsk } from './locks.js';
import { emptyValue, requestLock } from './locks.js';
import type { CommandResult } from './results.js';

/**
 * Semaphore acquire: up to `permits` sessions hold the name at once, each with its own token;
 * waiters are FIFO. Every request must state the same `permits` as the lock has, else
 * INVALID_ARGUMENT. A session holds at most one permit of a name.
 */
export function acquireSemaphore(ctx: ApplyContext, ask: LockAsk, permits: number): CommandResult {
  return requestLock(ctx, ask, { kind: 'semaphore', mode: 'shared', permits, value: emptyValue });
}
