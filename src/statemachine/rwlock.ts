import type { RwMode } from './commands.js';
import type { ApplyContext } from './context.js';
import type { LockAsk, LockTerms } from './locks.js';
import { emptyValue, requestLock } from './locks.js';
import type { CommandResult } from './results.js';

const writerTerms: LockTerms = { kind: 'rwlock', mode: 'exclusive', permits: 0, value: emptyValue };
const readerTerms: LockTerms = { kind: 'rwlock', mode: 'shared', permits: 0, value: emptyValue };

/**
 * Read/write lock: readers share, a writer is alone. Strict FIFO: a reader arriving while anyone
 * waits queues behind them, so a waiting writer is never starved by a stream of new readers, and
 * readers queued together behind it are granted together when it releases. A reader asking to
 * write (upgrade) would wait for itself and is refused with DEADLOCK.
 */
export function acquireRw(ctx: ApplyContext, ask: LockAsk, mode: RwMode): CommandResult {
  return requestLock(ctx, ask, mode === 'write' ? writerTerms : readerTerms);
}
