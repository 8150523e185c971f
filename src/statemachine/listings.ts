import type { SessionId } from './ids.js';
import type { HolderView, LockView, SessionView } from './queries.js';
import { holderView, sessionInfo } from './queries.js';
import { waitersOf } from './queue.js';
import type { CycleStep } from './results.js';
import type { LockState } from './state.js';
import { compareStrings } from './state.js';

// Listings for operators and the HTTP API (src/http): every session, locks with their hold times
// and the wait-for graph, read from the applied state. Pure; the node authorizes who may see what
// (the `visible` filters) and makes the read linearizable before it calls these.

/** A lock as LockView shows it, with how long each holder has held it and each waiter waited (log time). */
export interface LockDetail extends LockView {
  readonly holders: readonly (HolderView & {
    readonly grantedAtMs: number;
    readonly heldForMs: number;
  })[];
  readonly waiters: readonly {
    readonly session: SessionId;
    readonly mode: string;
    readonly deadlineMs: number;
    readonly waitedForMs: number;
  }[];
}

/** Locks starting with `prefix` that `visible` admits, in name order, at most `limit`. */
export function listLockDetails(
  state: LockState,
  prefix: string,
  limit: number,
  visible: (name: string) => boolean,
): LockDetail[] {
  const names = [...state.locks.keys()].filter((name) => name.startsWith(prefix) && visible(name)).sort(compareStrings);
  const now = state.logTimeMs;
  return names.slice(0, Math.max(0, limit)).flatMap((name) => {
    const lock = state.locks.get(name);
    if (lock === undefined) return [];
    return [
      {
        name,
        kind: lock.kind,
        permits: lock.permits,
        holders: [...lock.holders.values()].map((h) => ({
          ...holderView(h),
          grantedAtMs: h.grantedAtMs,
          heldForMs: Math.max(0, now - h.grantedAtMs),
        })),
        waiters: waitersOf(lock).map((w) => ({
          session: w.session,
          mode: w.mode,
          deadlineMs: w.deadlineMs,
          waitedForMs: Math.max(0, now - w.enqueuedAtMs),
        })),
        delayUntilMs: lock.delayUntilMs,
      },
    ];
  });
}

/** A session as SessionView shows it, with the log time left before it expires. */
export interface SessionDetail extends SessionView {
  readonly expiresInMs: number;
}

/** Live sessions with an id above `after`, in id order, that `visible` admits (by owner), at most `limit`. */
export function listSessions(
  state: LockState,
  after: number,
  limit: number,
  visible: (owner: string | null) => boolean,
): SessionDetail[] {
  const ids = [...state.sessions.values()]
    .filter((s) => s.id > after && visible(s.owner))
    .map((s) => s.id)
    .sort((a, b) => a - b)
    .slice(0, Math.max(0, limit));
  return ids.flatMap((id) => {
    const view = sessionInfo(state, id);
    return view === null ? [] : [{ ...view, expiresInMs: Math.max(0, view.deadlineMs - state.logTimeMs) }];
  });
}

/** `session` waits for `lock`, which the sessions in `heldBy` hold. */
export interface WaitEdge {
  readonly session: SessionId;
  readonly lock: string;
  readonly heldBy: readonly SessionId[];
}

export interface WaitGraph {
  readonly edges: readonly WaitEdge[];
  /**
   * Deadlocks among the edges: each cycle's steps say "this session waits for this lock, held by
   * the next step's session" (the last step's lock is held by the first step's session). One
   * cycle per strongly connected group of sessions. The state machine refuses a wait that would
   * close a cycle, so this is normally empty (see deadlock.ts for when it gives up looking).
   */
  readonly cycles: readonly (readonly CycleStep[])[];
}

/** The wait-for graph over the locks whose names `visible` admits, in lock name order. */
export function waitGraph(state: LockState, visible: (name: string) => boolean): WaitGraph {
  const edges: WaitEdge[] = [];
  const names = [...state.locks.keys()].filter(visible).sort(compareStrings);
  for (const name of names) {
    const lock = state.locks.get(name);
    if (lock === undefined || lock.waiting === 0) continue;
    const heldBy = [...lock.holders.keys()];
    for (const waiter of waitersOf(lock)) edges.push({ session: waiter.session, lock: name, heldBy });
  }
  return { edges, cycles: findCycles(edges) };
}

/** One cycle per strongly connected component (Tarjan, iterative) that has a cycle. */
function findCycles(edges: readonly WaitEdge[]): CycleStep[][] {
  const out = new Map<SessionId, { readonly to: SessionId; readonly lock: string }[]>();
  for (const edge of edges) {
    const list = out.get(edge.session) ?? [];
    for (const holder of edge.heldBy) list.push({ to: holder, lock: edge.lock });
    out.set(edge.session, list);
  }
  const index = new Map<SessionId, number>();
  const low = new Map<SessionId, number>();
  const onStack = new Set<SessionId>();
  const stack: SessionId[] = [];
  const components: SessionId[][] = [];
  let counter = 0;
  for (const root of [...out.keys()].sort((a, b) => a - b)) {
    if (index.has(root)) continue;
    const frames: { readonly node: SessionId; next: number }[] = [{ node: root, next: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1];
      if (frame === undefined) break;
      const successors = out.get(frame.node) ?? [];
      const step = successors[frame.next++];
      if (step !== undefined) {
        if (!index.has(step.to)) {
          index.set(step.to, counter);
          low.set(step.to, counter++);
          stack.push(step.to);
          onStack.add(step.to);
          frames.push({ node: step.to, next: 0 });
        } else if (onStack.has(step.to)) {
          low.set(frame.node, Math.min(low.get(frame.node) ?? 0, index.get(step.to) ?? 0));
        }
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent !== undefined) low.set(parent.node, Math.min(low.get(parent.node) ?? 0, low.get(frame.node) ?? 0));
      if (low.get(frame.node) !== index.get(frame.node)) continue;
      const component: SessionId[] = [];
      for (;;) {
        const member = stack.pop();
        if (member === undefined) break;
        onStack.delete(member);
        component.push(member);
        if (member === frame.node) break;
      }
      components.push(component);
    }
  }
  const cycles: CycleStep[][] = [];
  for (const component of components) {
    const cycle = cycleWithin(new Set(component), out);
    if (cycle !== null) cycles.push(cycle);
  }
  return cycles;
}

/** The shortest cycle through the smallest session of a component (breadth-first), or null. */
function cycleWithin(
  members: ReadonlySet<SessionId>,
  out: ReadonlyMap<SessionId, readonly { readonly to: SessionId; readonly lock: string }[]>,
): CycleStep[] | null {
  const start = Math.min(...members) as SessionId;
  const cameFrom = new Map<SessionId, { readonly from: SessionId; readonly lock: string }>();
  const queue: SessionId[] = [start];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i] as SessionId;
    for (const step of out.get(node) ?? []) {
      if (!members.has(step.to)) continue;
      if (step.to === start) {
        const steps: CycleStep[] = [{ session: node, lock: step.lock }];
        for (let at = node; at !== start;) {
          const previous = cameFrom.get(at);
          if (previous === undefined) break;
          steps.unshift({ session: previous.from, lock: previous.lock });
          at = previous.from;
        }
        return steps;
      }
      if (cameFrom.has(step.to)) continue;
      cameFrom.set(step.to, { from: node, lock: step.lock });
      queue.push(step.to);
    }
  }
  return null;
}
