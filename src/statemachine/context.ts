import type { Mutations } from '../util/mutations.js';
import type { Notification, WatchEvent } from './results.js';
import type { LockState } from './state.js';

/** The entry being applied: its index and (monotonic) log time, and what it has emitted so far. */
export interface ApplyContext {
  readonly state: LockState;
  readonly index: number;
  readonly nowMs: number;
  readonly notifications: Notification[];
  /** Seeded bugs (simulator mutation tests only): empty in production. */
  readonly mutations: Mutations;
}

/** Records a watch event in the bounded history and pushes it to watchers. */
export function emitEvent(ctx: ApplyContext, event: WatchEvent): void {
  ctx.state.events.append(event);
  ctx.notifications.push({ kind: 'event', event });
}
