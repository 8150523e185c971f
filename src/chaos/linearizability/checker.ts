/**
 * A linearizability checker in the manner of Porcupine: Wing & Gong's depth-first search over the
 * history's call/return events, with Lowe's memoization of (set of linearized operations, model
 * state) so that no configuration is explored twice, and P-compositionality (each partition of the
 * model is checked on its own).
 *
 * The search: walk the events in time order. At a call, try to linearize that operation now (the
 * model accepts its output from the current state); if the resulting configuration is new, take it
 * and lift the operation out of the event list. At a return whose operation has not been
 * linearized, the current path is dead: undo the last choice and try the next candidate. Reaching
 * the end of the list means every operation found a point between its call and return.
 *
 * Operations of unknown outcome return at +∞: they may take effect anywhere after their call, or
 * never (once only their +∞ returns are left, the search succeeds without them).
 */
import type { Model, Operation } from './model.js';

export type CheckOptions = {
  /** Search steps per partition before the verdict becomes "unknown". */
  readonly stepsMax?: number;
};

export const defaultStepsMax = 5_000_000;

/** The deepest linearization the search found, and why nothing more could be added to it. */
export type Violation<Input, Output> = {
  /** Operations in the order they were linearized, each with the state after it. */
  readonly linearized: readonly { readonly op: Operation<Input, Output>; readonly stateAfter: string }[];
  readonly stateAtEnd: string;
  /** The operation that returned earliest among those left out: it cannot be placed. */
  readonly stuck: Operation<Input, Output>;
  /** Every operation that could have been next (called before `stuck` returned), and why not. */
  readonly candidates: readonly { readonly op: Operation<Input, Output>; readonly why: string }[];
};

export type PartitionVerdict<Input, Output> = {
  readonly partition: string;
  readonly operations: number;
  readonly steps: number;
} & (
  | { readonly verdict: 'ok' }
  | { readonly verdict: 'unknown' }
  | { readonly verdict: 'violation'; readonly violation: Violation<Input, Output> }
);

export type CheckResult<Input, Output> = {
  /** `violation` if any partition has one; else `unknown` if any search hit its bound; else `ok`. */
  readonly verdict: 'ok' | 'violation' | 'unknown';
  readonly partitions: readonly PartitionVerdict<Input, Output>[];
};

type Event = {
  readonly kind: 'call' | 'return';
  readonly op: number;
  readonly time: number;
  prev: Event | null;
  next: Event | null;
  /** A call's return event (null on return events). */
  match: Event | null;
};

/** Checks a history of operations against a model. Deterministic for a given input order. */
export function checkLinearizable<State, Input, Output>(
  model: Model<State, Input, Output>,
  operations: readonly Operation<Input, Output>[],
  options: CheckOptions = {},
): CheckResult<Input, Output> {
  const groups = new Map<string, Operation<Input, Output>[]>();
  for (const op of operations) {
    const key = model.partitionKey === undefined ? '' : model.partitionKey(op.input);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [op]);
    else group.push(op);
  }
  const partitions: PartitionVerdict<Input, Output>[] = [];
  for (const key of [...groups.keys()].sort()) {
    partitions.push(checkPartition(model, key, groups.get(key) ?? [], options.stepsMax ?? defaultStepsMax));
  }
  const verdict = partitions.some((p) => p.verdict === 'violation')
    ? 'violation'
    : partitions.some((p) => p.verdict === 'unknown')
      ? 'unknown'
      : 'ok';
  return { verdict, partitions };
}

function buildEvents<Input, Output>(ops: readonly Operation<Input, Output>[]): Event {
  const events: Event[] = [];
  ops.forEach((op, index) => {
    if (!(op.returnUs >= op.callUs)) throw new RangeError(`operation ${op.id} returns before its call`);
    const call: Event = { kind: 'call', op: index, time: op.callUs, prev: null, next: null, match: null };
    const ret: Event = { kind: 'return', op: index, time: op.returnUs, prev: null, next: null, match: null };
    call.match = ret;
    events.push(call, ret);
  });
  // Calls before returns at equal times: touching operations count as concurrent (the lenient
  // reading, so clock granularity never produces a false alarm).
  events.sort((a, b) => {
    if (a.time !== b.time) return a.time < b.time ? -1 : 1;
    if (a.kind !== b.kind) return a.kind === 'call' ? -1 : 1;
    return a.op - b.op;
  });
  const head: Event = { kind: 'call', op: -1, time: -Infinity, prev: null, next: null, match: null };
  let last = head;
  for (const event of events) {
    last.next = event;
    event.prev = last;
    last = event;
  }
  return head;
}

function lift(call: Event): void {
  const ret = call.match as Event;
  (call.prev as Event).next = call.next;
  (call.next as Event).prev = call.prev;
  (ret.prev as Event).next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

function unlift(call: Event): void {
  const ret = call.match as Event;
  (ret.prev as Event).next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  (call.prev as Event).next = call;
  (call.next as Event).prev = call;
}

/**
 * The set of linearized operations, with an incremental Zobrist hash (two 32-bit halves, XOR of a
 * fixed random word per operation) so that a memo key costs O(1) to form; the words themselves
 * are compared only when two keys collide.
 */
class Bitset {
  readonly words: Uint32Array;
  private hashLow = 0;
  private hashHigh = 0;
  constructor(bits: number) {
    this.words = new Uint32Array(Math.max(1, Math.ceil(bits / 32)));
  }
  set(i: number): void {
    this.words[i >>> 5] = ((this.words[i >>> 5] ?? 0) | (1 << (i & 31))) >>> 0;
    this.toggleHash(i);
  }
  clear(i: number): void {
    this.words[i >>> 5] = ((this.words[i >>> 5] ?? 0) & ~(1 << (i & 31))) >>> 0;
    this.toggleHash(i);
  }
  key(): string {
    return `${this.hashLow.toString(36)}.${this.hashHigh.toString(36)}`;
  }
  equals(words: Uint32Array): boolean {
    for (let k = 0; k < words.length; k++) if (words[k] !== this.words[k]) return false;
    return true;
  }
  private toggleHash(i: number): void {
    this.hashLow = (this.hashLow ^ mix32(2 * i + 1)) >>> 0;
    this.hashHigh = (this.hashHigh ^ mix32(2 * i + 2)) >>> 0;
  }
}

/** A fixed pseudo-random word per integer (the splitmix32 finalizer). */
function mix32(x: number): number {
  let z = Math.imul(x, 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

function checkPartition<State, Input, Output>(
  model: Model<State, Input, Output>,
  partition: string,
  ops: readonly Operation<Input, Output>[],
  stepsMax: number,
): PartitionVerdict<Input, Output> {
  const head = buildEvents(ops);
  const linearized = new Bitset(ops.length);
  const cache = new Map<string, { words: Uint32Array; state: State }[]>();
  const stack: { call: Event; before: State; after: State }[] = [];
  let state = model.init();
  let steps = 0;
  // The deepest linearization so far, copied only when the search is about to back out of it.
  let best: { order: number[]; states: State[] } = { order: [], states: [] };
  const keepIfDeepest = (): void => {
    if (stack.length > best.order.length) best = { order: stack.map((s) => s.call.op), states: stack.map((s) => s.after) };
  };

  const remember = (s: State): boolean => {
    const key = `${linearized.key()}|${model.hash(s)}`;
    const seen = cache.get(key);
    if (seen !== undefined && seen.some((e) => linearized.equals(e.words) && model.equal(e.state, s))) return false;
    const entry = { words: linearized.words.slice(), state: s };
    if (seen === undefined) cache.set(key, [entry]);
    else seen.push(entry);
    return true;
  };

  let event = head.next;
  while (event !== null) {
    if (++steps > stepsMax) return { partition, operations: ops.length, steps, verdict: 'unknown' };
    if (event.kind === 'call') {
      const op = ops[event.op] as Operation<Input, Output>;
      const result = model.step(state, op.input, op.output);
      if (result.ok) {
        linearized.set(event.op);
        if (remember(result.state)) {
          stack.push({ call: event, before: state, after: result.state });
          state = result.state;
          lift(event);
          event = head.next;
          continue;
        }
        linearized.clear(event.op);
      }
      event = event.next;
      continue;
    }
    // Only returns at +∞ are left: the remaining operations are unknown ones, and an unknown
    // operation may never have taken effect.
    if (event.time === Infinity) break;
    // A return whose operation is still in the list: nothing before it can move; backtrack.
    keepIfDeepest();
    const top = stack.pop();
    if (top === undefined) {
      return {
        partition,
        operations: ops.length,
        steps,
        verdict: 'violation',
        violation: explain(model, ops, best.order, best.states),
      };
    }
    linearized.clear(top.call.op);
    state = top.before;
    unlift(top.call);
    event = top.call.next;
  }
  return { partition, operations: ops.length, steps, verdict: 'ok' };
}

function explain<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
  order: readonly number[],
  states: readonly State[],
): Violation<Input, Output> {
  const done = new Set(order);
  const end = states.length === 0 ? model.init() : (states[states.length - 1] as State);
  let stuck: Operation<Input, Output> | undefined;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i] as Operation<Input, Output>;
    if (done.has(i)) continue;
    if (stuck === undefined || op.returnUs < stuck.returnUs) stuck = op;
  }
  // A violation always leaves some operation out; the fallback keeps the types honest.
  const stuckOp = stuck ?? (ops[0] as Operation<Input, Output>);
  const candidates: { op: Operation<Input, Output>; why: string }[] = [];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i] as Operation<Input, Output>;
    if (done.has(i) || op.callUs > stuckOp.returnUs) continue;
    const result = model.step(end, op.input, op.output);
    candidates.push({
      op,
      why: result.ok ? 'possible here, but every order that follows from it fails later' : result.why,
    });
  }
  return {
    linearized: order.map((index, k) => ({
      op: ops[index] as Operation<Input, Output>,
      stateAfter: model.describeState(states[k] as State),
    })),
    stateAtEnd: model.describeState(end),
    stuck: stuckOp,
    candidates,
  };
}

function fmtTime(us: number): string {
  return us === Infinity ? '∞' : `${us}µs`;
}

/** A short human report of a check: one line per partition, details for a violation. */
export function formatCheck<State, Input, Output>(
  model: Model<State, Input, Output>,
  result: CheckResult<Input, Output>,
  contextOps = 8,
): string {
  const lines: string[] = [];
  const total = result.partitions.reduce((n, p) => n + p.operations, 0);
  lines.push(`${model.name}: ${result.verdict} (${total} operations in ${result.partitions.length} partitions)`);
  const describe = (op: Operation<Input, Output>): string =>
    `${op.id} [${op.process}] ${model.describeOperation(op.input, op.output)} (${fmtTime(op.callUs)}..${fmtTime(op.returnUs)})`;
  for (const p of result.partitions) {
    if (p.verdict === 'ok') continue;
    const name = p.partition === '' ? '' : ` "${p.partition}"`;
    if (p.verdict === 'unknown') {
      lines.push(`  partition${name}: gave up after ${p.steps} search steps (${p.operations} operations)`);
      continue;
    }
    const v = p.violation;
    lines.push(`  partition${name}: not linearizable; at most ${v.linearized.length} of ${p.operations} operations linearize`);
    const shown = v.linearized.slice(-contextOps);
    if (shown.length < v.linearized.length) lines.push(`    ... ${v.linearized.length - shown.length} earlier operations`);
    for (const step of shown) lines.push(`    ${describe(step.op)}  => ${step.stateAfter}`);
    lines.push(`    then, from ${v.stateAtEnd}, ${describe(v.stuck)} cannot take effect before it returned:`);
    for (const c of v.candidates) lines.push(`      ${describe(c.op)}: ${c.why}`);
  }
  return lines.join('\n');
}
