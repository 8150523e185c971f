import type { Notification, WatchEvent } from './results.js';
import type { LockState } from './state.js';

/** The entry being applied: its index and (monotonic) log time, and what it has emitted so far. */
export interface ApplyContext {
  readonly state: LockState;
  readonly index: number;
  readonly nowMs: number;
  readonly notifications: Notification[];
}

/** Records a watch event in the bounded history and pushes it to watchers. */
export function emitEvent(ctx: ApplyContext, event: WatchEvent): void {
  ctx.state.events.append(event);
  ctx.notifications.push({ kind: 'event', event });
}
