import type { ApplyContext } from './context.js';
import { updateResult } from './dedup.js';
import { cancelWait } from './locks.js';
import { endSessions } from './sessions.js';
import type { LockRecord, Session } from './state.js';
import { sessionDeadlineMs } from './state.js';

function timeOutWaits(ctx: ApplyContext, touched: Map<string, LockRecord>): void {
  const state = ctx.state;
  while (state.waitTimers.peekAtMs() < ctx.nowMs) {
    const timer = state.waitTimers.pop();
    if (timer === undefined) break;
    const waiter = timer.value;
    const lock = state.locks.get(waiter.lock);
    if (!waiter.queued || lock === undefined) continue;
    cancelWait(ctx, lock, waiter);
    touched.set(lock.name, lock);
    const message = `waited more than ${waiter.deadlineMs - waiter.enqueuedAtMs} ms for ${lock.name}`;
    ctx.notifications.push({
      kind: 'timeout',
      session: waiter.session,
      clientId: waiter.clientId,
      seq: waiter.seq,
      name: lock.name,
    });
    updateResult(state, waiter.clientId, waiter.seq, { code: 'TIMEOUT', message });
  }
  if (state.waitTimers.size > 2 * state.waiterCount + 1024) {
    state.waitTimers.compact((_atMs, waiter) => waiter.queued);
  }
}

function endDelays(ctx: ApplyContext, touched: Map<string, LockRecord>): void {
  const state = ctx.state;
  while (state.delayTimers.peekAtMs() <= ctx.nowMs) {
    const timer = state.delayTimers.pop();
    if (timer === undefined) break;
    const lock = state.locks.get(timer.value);
    if (lock === undefined || lock.delayUntilMs !== timer.atMs) continue;
    lock.delayUntilMs = 0;
    touched.set(lock.name, lock);
  }
}

/**
 * Brings the state to this entry's log time before its command runs: sessions whose last keepalive
 * is more than their TTL ago expire (logTime − lastSeen > ttl), waits older than their waitMs time
 * out, lock-delays that have run their course end, and freed locks are granted to the live waiters
 * left. Each kind is found through its deadline heap, so an entry with nothing due costs O(1).
 */
export function advanceTime(ctx: ApplyContext): void {
  const state = ctx.state;
  const now = ctx.nowMs;
  if (
    state.sessionTimers.peekAtMs() >= now &&
    state.waitTimers.peekAtMs() >= now &&
    state.delayTimers.peekAtMs() > now
  ) {
    return;
  }
  const touched = new Map<string, LockRecord>();
  const expired: Session[] = [];
  while (state.sessionTimers.peekAtMs() < now) {
    const timer = state.sessionTimers.pop();
    if (timer === undefined) break;
    const session = state.sessions.get(timer.value);
    if (session === undefined || sessionDeadlineMs(session) !== timer.atMs) continue;
    expired.push(session);
  }
  endSessions(ctx, expired, 'expired', touched, () => {
    timeOutWaits(ctx, touched);
    endDelays(ctx, touched);
  });
}
