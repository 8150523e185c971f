import type { SessionId } from './ids.js';
import type { CycleStep } from './results.js';
import type { LockRecord, LockState } from './state.js';

interface Frame {
  readonly session: SessionId;
  readonly waits: IterableIterator<string>;
}

interface Pending {
  readonly list: readonly SessionId[];
  pos: number;
}

function holdersOf(lock: LockRecord | undefined): Pending {
  return { list: lock === undefined ? [] : [...lock.holders.keys()], pos: 0 };
}

/**
 * Would `requester` waiting for `lock` close a cycle in the wait-for graph? Edges go from a waiting
 * session to every holder of the lock it waits for (mutexes, rwlocks, semaphores and elections
 * alike). Returns the cycle as steps starting with the requester, or null. Iterative depth-first
 * search in grant/enqueue order (deterministic on every replica), each session visited once, so
 * the cost is bounded by the waiting part of the graph and the stack cannot overflow.
 */
export function findCycle(state: LockState, requester: SessionId, lock: LockRecord): CycleStep[] | null {
  // Nobody can be waiting for a session that holds nothing: the common case costs O(1).
  if ((state.sessions.get(requester)?.holds.size ?? 0) === 0) return null;
  const path: CycleStep[] = [{ session: requester, lock: lock.name }];
  const visited = new Set<SessionId>([requester]);
  const stack: Frame[] = [];
  // Pending holders per depth: path[d] waits for the lock whose holders are queued in pending[d].
  const pending: Pending[] = [holdersOf(lock)];
  for (;;) {
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
      const name = frame.waits.next();
      if (name.done === true) {
        stack.pop();
        continue;
      }
      const awaited = state.locks.get(name.value);
      path.push({ session: frame.session, lock: name.value });
      pending.push(holdersOf(awaited));
      continue;
    }
    if (next === requester) return path.slice();
    if (visited.has(next)) continue;
    visited.add(next);
    const session = state.sessions.get(next);
    if (session === undefined) continue;
    const waits = session.waits.keys();
    const first = waits.next();
    if (first.done === true) continue;
    stack.push({ session: next, waits });
    const awaited = state.locks.get(first.value);
    path.push({ session: next, lock: first.value });
    pending.push(holdersOf(awaited));
  }
}
