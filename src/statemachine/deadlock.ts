import type { SessionId } from './ids.js';
import type { CycleStep } from './results.js';
import type { LockRecord, LockState, Waiter } from './state.js';

interface Frame {
  readonly session: SessionId;
  readonly waits: IterableIterator<Waiter>;
}

interface Pending {
  readonly list: readonly SessionId[];
  pos: number;
}

/**
 * Whom a waiter waits for: every holder of the lock, and the waiter queued directly ahead of it.
 * Queues are FIFO, so a waiter is never granted before the one ahead of it; that one waits, in
 * turn, for the one ahead of it and for the holders. One edge to the predecessor gives the same
 * reachability as edges to every earlier waiter, at a cost that does not grow with the queue.
 */
function successorsOf(lock: LockRecord | undefined, ahead: Waiter | null): Pending {
  const list = lock === undefined ? [] : [...lock.holders.keys()];
  if (ahead !== null) list.push(ahead.session);
  return { list, pos: 0 };
}

/**
 * Edges the search may follow for one request. Real deadlocks are short cycles found within a few
 * steps; a search past this bound (thousands of sessions each waiting on many locks) gives up and
 * lets the request wait: every wait has a deadline, so a deadlock it missed ends by timeout. The
 * bound is a constant, so every replica gives up at the same point.
 */
export const deadlockSearchStepsMax = 256;

/**
 * Would `requester` waiting for `lock` close a cycle in the wait-for graph? A waiting session waits
 * for every holder of the lock it waits for (mutexes, rwlocks, semaphores and elections alike) and
 * for the waiter queued directly ahead of it (see successorsOf). Returns the cycle as steps starting
 * with the requester, or null. Iterative depth-first search in grant/enqueue order (deterministic
 * on every replica), each session visited once, so the cost is bounded by the waiting part of the
 * graph and the stack cannot overflow.
 *
 * Edges appear only when a session starts to wait: a grant turns "waits behind" into "waits for the
 * holder" between the same sessions. So checking every new wait finds every cycle.
 */
export function findCycle(state: LockState, requester: SessionId, lock: LockRecord): CycleStep[] | null {
  // Nobody can be waiting for a session that holds nothing and waits nowhere: the common case
  // costs O(1).
  const self = state.sessions.get(requester);
  if (self === undefined || (self.holds.size === 0 && self.waits.size === 0)) return null;
  const path: CycleStep[] = [{ session: requester, lock: lock.name }];
  const visited = new Set<SessionId>([requester]);
  const stack: Frame[] = [];
  // Pending holders per depth: path[d] waits for the lock whose holders are queued in pending[d].
  const pending: Pending[] = [successorsOf(lock, lock.tail)];
  let steps = 0;
  for (;;) {
    if (++steps > deadlockSearchStepsMax) return null;
    const depth = pending.length - 1;
    if (depth < 0) return null;
    const holders = pending[depth];
    if (holders === undefined) return null;
    const next = holders.list[holders.pos++];
    if (next === undefined) {
      pending.pop();
      path.pop();
      const frame = stack[stack.length - 1];
      if (frame === undefined) return null;
      // Continue with the frame's next awaited lock.
      const wait = frame.waits.next();
      if (wait.done === true) {
        stack.pop();
        continue;
      }
      path.push({ session: frame.session, lock: wait.value.lock });
      pending.push(successorsOf(state.locks.get(wait.value.lock), wait.value.prev));
      continue;
    }
    if (next === requester) return path.slice();
    if (visited.has(next)) continue;
    visited.add(next);
    const session = state.sessions.get(next);
    if (session === undefined) continue;
    const waits = session.waits.values();
    const first = waits.next();
    if (first.done === true) continue;
    stack.push({ session: next, waits });
    path.push({ session: next, lock: first.value.lock });
    pending.push(successorsOf(state.locks.get(first.value.lock), first.value.prev));
  }
}
