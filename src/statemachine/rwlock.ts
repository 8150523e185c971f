import type { RwMode } from './commands.js';
import type { ApplyContext } from './context.js';
import type { LockAsk } from './locks.js';
import { emptyValue, requestLock } from './locks.js';
import type { CommandResult } from './results.js';

/**
 * Read/write lock: readers share, a writer is alone. Strict FIFO: a reader arriving while anyone
 * waits queues behind them, so a waiting writer is never starved by a stream of new readers, and
 * readers queued together behind it are granted together when it releases. A reader asking to
 * write (upgrade) would wait for itself and is refused with DEADLOCK.
 */
export function acquireRw(ctx: ApplyContext, ask: LockAsk, mode: RwMode): CommandResult {
  const holdMode = mode === 'write' ? 'exclusive' : 'shared';
  return requestLock(ctx, { ...ask, kind: 'rwlock', mode: holdMode, permits: 0, value: emptyValue });
}
