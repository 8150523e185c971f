/**
 * The search itself (see checker.ts for the method): Wing & Gong's depth-first search over the
 * call/return events of one partition, with Lowe's memoization, from a given start (the model's
 * initial state, or a configuration carried across a quiescent cut, see segments.ts).
 */
import { assert } from '../../util/assert.js';
import type { Model, Operation } from './model.js';

type Event = {
  readonly kind: 'call' | 'return';
  readonly op: number;
  readonly time: number;
  prev: Event | null;
  next: Event | null;
  /** A known call's return event (null on returns and on unknown calls, which return at +∞). */
  match: Event | null;
};

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

  /** `ended`: sessions an earlier part of the history already ended (see segments.ts). */
  constructor(
    sessionOf: SessionOf<Input> | undefined,
    ops: readonly { readonly input: Input }[],
    ended: ReadonlySet<string>,
  ) {
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
    for (const [name, id] of ids) if (ended.has(name)) this.endsTaken[id] = 1;
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

/** One memoized configuration; `done` once the search has backed out of it (every completion of it explored). */
type Seen<State> = { readonly known: Uint32Array; readonly unknown: Uint32Array; readonly state: State; done: boolean };

/** Where a search starts: the model state, and the sessions already ended before `ops`. */
export type SearchStart<State> = { readonly state: State; readonly ended: ReadonlySet<string> };

/** A linearization of every known operation: the operations in order and the state after each. */
export type Linearization<State> = { readonly order: readonly number[]; readonly states: readonly State[] };

/** Search steps shared by every search of one partition; past `max` the searches give up. */
export type StepBudget = { steps: number; readonly max: number };

/** How a search ended: every linearization was yielded (`best` is the deepest partial one), or the budget ran out. */
export type SearchEnd<State> =
  | { readonly kind: 'exhausted'; readonly best: Linearization<State> & { readonly depth: number } }
  | { readonly kind: 'gaveUp' };

/**
 * The search over `ops` from `start`, as a generator: it yields each linearization of every
 * known operation it finds, and goes on looking for the next one when asked, until there is no
 * other (up to the memo: a configuration skipped because an explored one dominates it has only
 * completions that one's dominate). One `next()` is the plain search; asking for more is what a
 * segmented check does when a later segment fails from the configuration one led to
 * (segments.ts). Unknown operations left over at a yield may take effect after it.
 */
export function* linearizations<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
  start: SearchStart<State>,
  budget: StepBudget,
): Generator<Linearization<State>, SearchEnd<State>, void> {
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
  const sessions = new Sessions(model.session, ops, start.ended);
  const cache = new Map<string, Seen<State>[]>();
  const stack: { call: Event; before: State; after: State; seen: Seen<State> }[] = [];
  let state = start.state;
  // The deepest linearization so far (by known operations: unknown ones are optional, so they
  // say nothing about how far the history goes), copied only when the search backs out of it.
  let best: Linearization<State> & { depth: number } = { order: [], states: [], depth: 0 };
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
  // has none (or, when the caller asks for more than one, only completions dominated by those
  // already yielded, which the caller found to fail after them: segments.ts). Equal
  // configurations are skipped as in Lowe's memoization (an equal one is never on the current
  // path: every step adds an operation).
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
  const first = (pass: number): Event | null => (passes[pass] === true ? lists.unknown.next : lists.known.next);
  let pass = 0;
  let bound = firstReturn();
  let event = first(pass);
  for (;;) {
    if (++budget.steps > budget.max) return { kind: 'gaveUp' };
    const complete = bound === null; // every known operation is linearized
    if (complete) yield { order: stack.map((s) => s.call.op), states: stack.map((s) => s.after) };
    const unknownPass = passes[pass] === true;
    if (complete || event === null || (unknownPass ? event.time > (bound as Event).time : event.kind === 'return')) {
      if (pass === 0 && !complete) {
        pass = 1;
        event = first(pass);
        continue;
      }
      // Every candidate before the first return was tried (or this configuration is complete
      // and the caller wants another one: the unknown operations left may as well take effect
      // after it, so no other completion continues from here): backtrack.
      if (!complete) keepIfDeepest();
      const top = stack.pop();
      if (top === undefined) return { kind: 'exhausted', best };
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
    const call = event as Event;
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
        event = first(pass);
        bound = firstReturn();
        continue;
      }
      sessions.take(call.op, -1);
      mark(call.op, false);
    }
    event = call.next;
  }
}
