import type { RwMode } from './commands.js';
import type { ApplyContext } from './context.js';
import { emptyValue, requestLock } from './locks.js';
import type { CommandResult } from './results.js';
import type { Session } from './state.js';

/**
 * Read/write lock: readers share, a writer is alone. Strict FIFO: a reader arriving while anyone
 * waits queues behind them, so a waiting writer is never starved by a stream of new readers, and
 * readers queued together behind it are granted together when it releases. A reader asking to
 * write (upgrade) would wait for itself and is refused with DEADLOCK.
 */
export function acquireRw(
  ctx: ApplyContext,
  session: Session,
  clientId: string,
  seq: number,
  name: string,
  mode: RwMode,
  waitMs: number,
  lockDelayMs: number,
): CommandResult {
  return requestLock(ctx, {
    session,
    clientId,
    seq,
    name,
    kind: 'rwlock',
    mode: mode === 'write' ? 'exclusive' : 'shared',
    permits: 0,
    waitMs,
    lockDelayMs,
    value: emptyValue,
  });
}
