/**
 * A linearizability checker in the manner of Porcupine: Wing & Gong's depth-first search over the
 * history's call/return events, with Lowe's memoization of (set of linearized operations, model
 * state) so that no configuration is explored twice, and P-compositionality (each partition of the
 * model is checked on its own).
 *
 * The search: at each choice point the candidates are the calls before the first return still in
 * the list. Try to linearize one (the model accepts its output from the current state); if the
 * resulting configuration is new, take it and lift the operation out of the list. When no
 * candidate is left, the current path is dead: undo the last choice and try the next candidate.
 * An empty list means every operation found a point between its call and return.
 *
 * Operations of unknown outcome return at +∞: they may take effect anywhere after their call, or
 * never (once only they are left, the search succeeds without them). Long histories full of them
 * stay tractable through reductions that each keep the verdict (the comments at each say why):
 * an unknown operation is never taken where it changes nothing; nothing a session does changes
 * the state after its session ended (`Model.session`); the memo skips a configuration when one
 * with the same known operations, fewer unknown ones and a dominating state (`Model.dominates`)
 * was already explored to exhaustion; a model may drop operations that cannot matter before the
 * search (`Model.reduce`).
 */
import { assert } from '../../util/assert.js';
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
  /** A known call's return event (null on returns and on unknown calls, which return at +∞). */
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
    const group = groups.get(key) ?? [];
    const verdict = checkPartition(model, key, model.reduce === undefined ? group : model.reduce(group), options.stepsMax ?? defaultStepsMax);
    partitions.push({ ...verdict, operations: group.length });
  }
  const verdict = partitions.some((p) => p.verdict === 'violation')
    ? 'violation'
    : partitions.some((p) => p.verdict === 'unknown')
      ? 'unknown'
      : 'ok';
  return { verdict, partitions };
}

/**
 * Two doubly linked lists with a head sentinel each: the calls and returns of the known
 * operations, and the calls of the unknown ones (their returns, at +∞, would only ever close the
 * list, so they are left out).
 */
function buildEvents<Input, Output>(ops: readonly Operation<Input, Output>[]): { known: Event; unknown: Event } {
  const known: Event[] = [];
  const unknown: Event[] = [];
  ops.forEach((op, index) => {
    if (!(op.returnUs >= op.callUs)) throw new RangeError(`operation ${op.id} returns before its call`);
    const call: Event = { kind: 'call', op: index, time: op.callUs, prev: null, next: null, match: null };
    if (op.returnUs === Infinity) {
      unknown.push(call);
      return;
    }
    const ret: Event = { kind: 'return', op: index, time: op.returnUs, prev: null, next: null, match: null };
    call.match = ret;
    known.push(call, ret);
  });
  // Calls before returns at equal times: touching operations count as concurrent (the lenient
  // reading, so clock granularity never produces a false alarm).
  const order = (x: Event, y: Event): number => {
    if (x.time !== y.time) return x.time < y.time ? -1 : 1;
    if (x.kind !== y.kind) return x.kind === 'call' ? -1 : 1;
    return x.op - y.op;
  };
  const link = (events: Event[]): Event => {
    events.sort(order);
    const head: Event = { kind: 'call', op: -1, time: -Infinity, prev: null, next: null, match: null };
    let last = head;
    for (const event of events) {
      last.next = event;
      event.prev = last;
      last = event;
    }
    return head;
  };
  return { known: link(known), unknown: link(unknown) };
}

function unlink(event: Event): void {
  (event.prev as Event).next = event.next;
  if (event.next !== null) event.next.prev = event.prev;
}

function relink(event: Event): void {
  (event.prev as Event).next = event;
  if (event.next !== null) event.next.prev = event;
}

/** Takes a call (and its return, if known) out of its list; `unlift` undoes the latest `lift`. */
function lift(call: Event): void {
  unlink(call);
  if (call.match !== null) unlink(call.match);
}

function unlift(call: Event): void {
  if (call.match !== null) relink(call.match);
  relink(call);
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
  /** Is every bit of `words` either set here or one that `excused` accepts? */
  covers(words: Uint32Array, excused: (bit: number) => boolean): boolean {
    for (let k = 0; k < words.length; k++) {
      let extra = ((words[k] ?? 0) & ~(this.words[k] ?? 0)) >>> 0;
      while (extra !== 0) {
        const low = 31 - Math.clz32(extra & -extra);
        if (!excused(k * 32 + low)) return false;
        extra = (extra & (extra - 1)) >>> 0;
      }
    }
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

type SessionOf<Input> = NonNullable<Model<unknown, Input, unknown>['session']>;

/**
 * Which sessions the current linearization has ended (a function of the linearized set, so the
 * memo needs no key for it; a larger set ends more sessions, so the memo's inclusion test holds).
 */
class Sessions<Input> {
  private readonly session: Int32Array;
  private readonly ends: Uint8Array;
  private readonly endsTaken: Int32Array;

  constructor(sessionOf: SessionOf<Input> | undefined, ops: readonly { readonly input: Input }[]) {
    const ids = new Map<string, number>();
    this.session = new Int32Array(ops.length).fill(-1);
    this.ends = new Uint8Array(ops.length);
    ops.forEach((op, i) => {
      const s = sessionOf?.(op.input);
      if (s === undefined) return;
      let id = ids.get(s.id);
      if (id === undefined) ids.set(s.id, (id = ids.size));
      this.session[i] = id;
      this.ends[i] = s.ends ? 1 : 0;
    });
    this.endsTaken = new Int32Array(ids.size);
  }

  /** Has the session of operation `i` ended (by another operation: an end is never barred)? */
  ended(i: number): boolean {
    const s = this.session[i] ?? -1;
    return s >= 0 && this.ends[i] === 0 && (this.endsTaken[s] ?? 0) > 0;
  }

  /** Has the session of operation `i` (an end included) been ended by a linearized end? */
  over(i: number): boolean {
    const s = this.session[i] ?? -1;
    return s >= 0 && (this.endsTaken[s] ?? 0) > 0;
  }

  /** Operation `i` was linearized (+1) or taken back (-1). */
  take(i: number, delta: 1 | -1): void {
    const s = this.session[i] ?? -1;
    if (s >= 0 && this.ends[i] === 1) this.endsTaken[s] = (this.endsTaken[s] ?? 0) + delta;
  }
}

/** One memoized configuration; `done` once the search has backed out of it (it has no completion). */
type Seen<State> = { readonly known: Uint32Array; readonly unknown: Uint32Array; readonly state: State; done: boolean };

function checkPartition<State, Input, Output>(
  model: Model<State, Input, Output>,
  partition: string,
  ops: readonly Operation<Input, Output>[],
  stepsMax: number,
): PartitionVerdict<Input, Output> {
  const lists = buildEvents(ops);
  // Known and unknown operations are numbered apart: a configuration is (known linearized,
  // unknown linearized, state), and the memo compares the unknown part by inclusion.
  const slot: number[] = [];
  let knownCount = 0;
  let unknownCount = 0;
  const unknownOp: number[] = [];
  ops.forEach((op, i) => {
    if (op.returnUs === Infinity) unknownOp.push(i);
    slot.push(op.returnUs === Infinity ? unknownCount++ : knownCount++);
  });
  const isUnknown = (index: number): boolean => (ops[index] as Operation<Input, Output>).returnUs === Infinity;
  const known = new Bitset(knownCount);
  const unknown = new Bitset(unknownCount);
  const mark = (index: number, on: boolean): void => {
    const set = isUnknown(index) ? unknown : known;
    if (on) set.set(slot[index] as number);
    else set.clear(slot[index] as number);
  };
  const sessions = new Sessions(model.session, ops);
  const cache = new Map<string, Seen<State>[]>();
  const stack: { call: Event; before: State; after: State; seen: Seen<State> }[] = [];
  let state = model.init();
  let steps = 0;
  // The deepest linearization so far (by known operations: unknown ones are optional, so they
  // say nothing about how far the history goes), copied only when the search backs out of it.
  let best: { order: number[]; states: State[]; depth: number } = { order: [], states: [], depth: 0 };
  let knownDepth = 0;
  const keepIfDeepest = (): void => {
    if (knownDepth > best.depth || best.order.length === 0) {
      best = { order: stack.map((s) => s.call.op), states: stack.map((s) => s.after), depth: knownDepth };
    }
  };

  // A configuration is skipped when one with the same known operations, a subset of its unknown
  // operations and a dominating state (by default, an equal one) was already explored to
  // exhaustion: unknown operations return at +∞, so the remaining ones never constrain the
  // others, fewer ended sessions bar fewer operations, and a dominating state accepts whatever
  // this one accepts; so every completion of this configuration would be one of that one, which
  // has none. Equal configurations are skipped as in Lowe's memoization (an equal one is never
  // on the current path: every step adds an operation).
  // An unknown operation taken there but not here is no option here either once its session has
  // ended here (it could only be refused, which changes nothing); the sessions ended there are
  // then ended here too, since its ends are among them.
  const spent = (bit: number): boolean => sessions.over(unknownOp[bit] as number);
  const coarse = model.coarseHash ?? model.hash;
  const dominates = model.dominates ?? model.equal;
  const remember = (s: State): Seen<State> | null => {
    const key = `${known.key()}|${coarse(s)}`;
    const list = cache.get(key);
    if (list !== undefined) {
      for (const e of list) {
        if (!known.equals(e.known)) continue;
        if (unknown.equals(e.unknown) && model.equal(e.state, s)) return null;
        if (e.done && dominates(e.state, s) && unknown.covers(e.unknown, spent)) return null;
      }
    }
    const entry: Seen<State> = { known: known.words.slice(), unknown: unknown.words.slice(), state: s, done: false };
    if (list === undefined) cache.set(key, [entry]);
    else list.push(entry);
    return entry;
  };

  /** The first return still in the list: every candidate is called no later than it. */
  const firstReturn = (): Event | null => {
    let e = lists.known.next;
    while (e !== null && e.kind === 'call') e = e.next;
    return e;
  };

  // The candidates at a choice point are the calls before the first remaining return, tried in
  // two passes: known operations first, then unknown ones (or the other way round when the model
  // asks). The alternatives are the same either way; known first explores configurations with
  // fewer unknown operations first, so that the memo's inclusion test prunes the rest, while
  // reads that depend on unknown writes are found sooner with unknown first.
  const passes: readonly boolean[] = model.unknownFirst === true ? [true, false] : [false, true];
  const start = (pass: number): Event | null => (passes[pass] === true ? lists.unknown.next : lists.known.next);
  let pass = 0;
  let bound = firstReturn();
  let event = start(pass);
  for (;;) {
    if (++steps > stepsMax) return { partition, operations: ops.length, steps, verdict: 'unknown' };
    if (bound === null) break; // every known operation is linearized
    const unknownPass = passes[pass] === true;
    if (event === null || (unknownPass ? event.time > bound.time : event.kind === 'return')) {
      if (pass === 0) {
        pass = 1;
        event = start(pass);
        continue;
      }
      // Every candidate before the first return was tried: nothing before it can move; backtrack.
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
      top.seen.done = true;
      if (!isUnknown(top.call.op)) knownDepth--;
      mark(top.call.op, false);
      sessions.take(top.call.op, -1);
      state = top.before;
      unlift(top.call);
      event = top.call.next;
      pass = passes.indexOf(isUnknown(top.call.op));
      bound = firstReturn();
      continue;
    }
    const call = event;
    assert(call.kind === 'call', 'the first return bounds the candidates');
    const op = ops[call.op] as Operation<Input, Output>;
    const result = model.step(state, op.input, op.output);
    // An unknown operation that would change nothing here is never taken here: any
    // linearization placing it at such a point stays one without it, since it constrains no
    // other operation in real time (it returns at +∞) and may never have taken effect. After its
    // session ended, an operation can only have been refused, so it must change nothing.
    const idle = result.ok && model.equal(result.state, state);
    if (result.ok && !(unknownPass && idle) && (idle || !sessions.ended(call.op))) {
      mark(call.op, true);
      sessions.take(call.op, 1);
      const seen = remember(result.state);
      if (seen !== null) {
        stack.push({ call, before: state, after: result.state, seen });
        if (!unknownPass) knownDepth++;
        state = result.state;
        lift(call);
        pass = 0;
        event = start(pass);
        bound = firstReturn();
        continue;
      }
      sessions.take(call.op, -1);
      mark(call.op, false);
    }
    event = call.next;
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
  const ended = new Set<string>();
  for (const index of order) {
    const s = model.session?.((ops[index] as Operation<Input, Output>).input);
    if (s?.ends === true) ended.add(s.id);
  }
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
    const idle = result.ok && model.equal(result.state, end);
    // An unknown operation that would change nothing is never a candidate (see the search).
    if (idle && op.returnUs === Infinity) continue;
    const session = model.session?.(op.input);
    if (result.ok && !idle && session !== undefined && !session.ends && ended.has(session.id)) {
      candidates.push({ op, why: `session ${session.id} has ended` });
      continue;
    }
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
