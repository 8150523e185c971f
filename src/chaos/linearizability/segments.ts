/**
 * Long histories, checked a piece at a time. A partition's history is cut at its quiescent points:
 * moments when no operation of known outcome is in flight (every one called before returned
 * before, every one after is called after). The search then runs one segment at a time, as
 * Porcupine partitions a history and Jepsen's independent keys split one.
 *
 * What crosses a cut is not one state but a configuration the prefix can end in: a model state,
 * the operations of unknown outcome called before the cut that have not taken effect yet (they
 * may still, at any later point: they return at +∞), and the sessions already ended. Every
 * linearization of the whole history splits at the cut into one of the prefix, ending in such a
 * configuration, and one of the rest starting from it: the operations that returned before the
 * cut come before it, those called after come after it, and an unknown operation placed right
 * after the cut can as well be placed right before. So the history is linearizable exactly when
 * some chain of configurations runs through every segment.
 *
 * The chains are searched depth first: the first linearization of a segment leads on to the next
 * segment at once, and only when everything after it fails is the segment asked for another one
 * (search.ts yields them one by one). A configuration that failed is remembered at its cut, and
 * any later one it dominates is skipped without a search: its state dominates (Model.dominates),
 * it has at least the other's pending operations and at most its ended sessions, so it accepts
 * every continuation the other does. Each segment's search has its own memo, over that segment's
 * operations only, so memory follows the segment, not the history; an operation whose session
 * has ended is no longer carried.
 */
import type { Model, Operation } from './model.js';
import type { Linearization, SearchEnd, StepBudget } from './search.js';
import { linearizations } from './search.js';

/** One segment: its known operations, and the unknown ones called within it (indices into the partition). */
export type Segment = {
  readonly known: readonly number[];
  readonly unknown: readonly number[];
  readonly endUs: number;
};

/**
 * The quiescent cuts of `ops`: maximal runs of known operations whose intervals overlap or touch
 * (the checker's lenient reading: a call at the time of a return counts as concurrent). An
 * unknown operation joins the segment in which it was called; one called after the last known
 * operation returned constrains nothing and is left out.
 */
export function splitAtQuiescence<Input, Output>(ops: readonly Operation<Input, Output>[]): Segment[] {
  const known = ops.map((_, i) => i).filter((i) => (ops[i] as Operation<Input, Output>).returnUs !== Infinity);
  known.sort(
    (a, b) => (ops[a] as Operation<Input, Output>).callUs - (ops[b] as Operation<Input, Output>).callUs || a - b,
  );
  const runs: { known: number[]; endUs: number }[] = [];
  for (const i of known) {
    const op = ops[i] as Operation<Input, Output>;
    const last = runs[runs.length - 1];
    if (last !== undefined && op.callUs <= last.endUs) {
      last.known.push(i);
      last.endUs = Math.max(last.endUs, op.returnUs);
    } else {
      runs.push({ known: [i], endUs: op.returnUs });
    }
  }
  const unknown: number[][] = runs.map(() => []);
  const calls = ops.map((_, i) => i).filter((i) => (ops[i] as Operation<Input, Output>).returnUs === Infinity);
  for (const i of calls) {
    const callUs = (ops[i] as Operation<Input, Output>).callUs;
    // The first segment still open at the call: it ends at or after it.
    let lo = 0;
    let hi = runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((runs[mid] as { endUs: number }).endUs >= callUs) hi = mid;
      else lo = mid + 1;
    }
    unknown[lo]?.push(i);
  }
  return runs.map((run, k) => ({ known: run.known, unknown: unknown[k] ?? [], endUs: run.endUs }));
}

/** The path to a configuration, segment by segment (shared between the configurations it leads to). */
type Path<State> = {
  readonly order: readonly number[];
  readonly states: readonly State[];
  readonly before: Path<State> | null;
};

/** What the prefix up to a cut may have left. */
type Configuration<State> = {
  readonly state: State;
  /** Unknown operations called before the cut that may still take effect (indices, ascending). */
  readonly pending: readonly number[];
  /** Sessions ended before the cut that still have operations after it (sorted). */
  readonly ended: readonly string[];
  readonly path: Path<State> | null;
};

export type SegmentedVerdict<State> = { readonly steps: number; readonly segments: number } & (
  | { readonly verdict: 'ok' }
  | { readonly verdict: 'unknown' }
  | {
      readonly verdict: 'violation';
      /** The deepest linearization found, from the start of the history, and the state after each. */
      readonly order: readonly number[];
      readonly states: readonly State[];
      /** The cut before the segment it stopped in; null when that was the first. */
      readonly cut: {
        readonly atUs: number;
        readonly operationsBefore: number;
        readonly configurations: number;
      } | null;
    }
);

/** One segment being searched from one configuration. */
type Frame<State> = {
  readonly segment: number;
  readonly from: Configuration<State>;
  /** The operations searched: the segment's, then the pending ones (indices into the partition). */
  readonly local: readonly number[];
  readonly search: Generator<Linearization<State>, SearchEnd<State>, void>;
};

/** Checks `ops` segment by segment (see the file comment). `ops` is one partition, already reduced. */
export function checkSegmented<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
  segments: readonly Segment[],
  stepsMax: number,
): SegmentedVerdict<State> {
  const sessionOf = (i: number): { readonly id: string; readonly ends: boolean } | undefined =>
    model.session?.((ops[i] as Operation<Input, Output>).input);
  // The last segment each session has an operation in: an ended session is remembered until then.
  const lastSegment = new Map<string, number>();
  segments.forEach((segment, k) => {
    for (const i of [...segment.known, ...segment.unknown]) {
      const s = sessionOf(i);
      if (s !== undefined) lastSegment.set(s.id, k);
    }
  });
  const knownBefore: number[] = [];
  segments.reduce((n, segment) => (knownBefore.push(n), n + segment.known.length), 0);
  // Configurations that failed, per cut (the cut before segment k).
  const failed = segments.map(() => new Antichain(model));
  const budget: StepBudget = { steps: 0, max: stepsMax };
  let deepest: { frame: Frame<State>; best: Linearization<State>; depth: number } | null = null;

  const enter = (segment: number, from: Configuration<State>): Frame<State> => {
    const part = segments[segment] as Segment;
    const local = [...part.known, ...part.unknown, ...from.pending];
    const search = linearizations(
      model,
      local.map((i) => ops[i] as Operation<Input, Output>),
      { state: from.state, ended: new Set(from.ended) },
      budget,
    );
    return { segment, from, local, search };
  };

  const frames: Frame<State>[] = [enter(0, { state: model.init(), pending: [], ended: [], path: null })];
  for (;;) {
    const frame = frames[frames.length - 1];
    if (frame === undefined) break;
    const next = frame.search.next();
    if (next.done === true) {
      const end = next.value;
      if (end.kind === 'gaveUp') return { verdict: 'unknown', steps: budget.steps, segments: segments.length };
      // Nothing after this configuration works: remember it, and ask the segment before for another.
      const depth = (knownBefore[frame.segment] ?? 0) + end.best.depth;
      if (deepest === null || depth > deepest.depth) deepest = { frame, best: end.best, depth };
      failed[frame.segment]?.add(frame.from);
      frames.pop();
      continue;
    }
    if (frame.segment === segments.length - 1) return { verdict: 'ok', steps: budget.steps, segments: segments.length };
    const carried = carry(frame, next.value);
    if (failed[frame.segment + 1]?.dominatesAny(carried) === true) continue;
    frames.push(enter(frame.segment + 1, carried));
  }
  // Every chain failed: report the deepest linearization found, from the start of the history.
  const { frame, best } = deepest ?? { frame: null, best: { order: [], states: [] } };
  const before = flatten(frame?.from.path ?? null);
  const segment = frame?.segment ?? 0;
  return {
    verdict: 'violation',
    order: [...before.order, ...best.order.map((j) => frame?.local[j] as number)],
    states: [...before.states, ...best.states],
    cut:
      segment === 0
        ? null
        : {
            atUs: (segments[segment - 1] as Segment).endUs,
            operationsBefore: knownBefore[segment] ?? 0,
            configurations: failed[segment]?.size ?? 0,
          },
    steps: budget.steps,
    segments: segments.length,
  };

  /** The configuration at the end of `frame`'s segment after `terminal`. */
  function carry(frame: Frame<State>, terminal: Linearization<State>): Configuration<State> {
    const from = frame.from;
    const taken = new Set(terminal.order.map((j) => frame.local[j] as number));
    const ended = new Set(from.ended);
    for (const i of taken) {
      const s = sessionOf(i);
      if (s?.ends === true) ended.add(s.id);
    }
    // An operation whose session has ended can only be refused from now on, which changes
    // nothing: it is no longer pending.
    const open = (i: number): boolean => {
      const s = sessionOf(i);
      return s === undefined || !ended.has(s.id);
    };
    const own = (segments[frame.segment] as Segment).unknown;
    const state = terminal.states.length === 0 ? from.state : (terminal.states[terminal.states.length - 1] as State);
    const candidates = [...from.pending, ...own].filter((i) => !taken.has(i) && open(i));
    // An inert operation (Model.inert) stays inert unless its session acts again: after the cut,
    // or through a pending operation that is not inert. When neither can happen, it never will
    // take effect, and carrying it on would only slow every later search.
    const inert = (i: number): boolean => model.inert?.(state, (ops[i] as Operation<Input, Output>).input) === true;
    const active = new Set<string>();
    for (const i of candidates) {
      const s = sessionOf(i);
      if (s !== undefined && !inert(i)) active.add(s.id);
    }
    const live = (i: number): boolean => {
      const s = sessionOf(i);
      return s === undefined || !inert(i) || active.has(s.id) || (lastSegment.get(s.id) ?? -1) > frame.segment;
    };
    const pending = candidates.filter(live).sort((a, b) => a - b);
    return {
      state,
      pending,
      ended: [...ended].filter((id) => (lastSegment.get(id) ?? -1) > frame.segment).sort(),
      path: { order: terminal.order.map((j) => frame.local[j] as number), states: terminal.states, before: from.path },
    };
  }
}

function flatten<State>(path: Path<State> | null): { order: number[]; states: State[] } {
  const parts: Path<State>[] = [];
  for (let p = path; p !== null; p = p.before) parts.push(p);
  parts.reverse();
  return { order: parts.flatMap((p) => [...p.order]), states: parts.flatMap((p) => [...p.states]) };
}

/** Configurations none of which dominates another (the failed ones at a cut). */
class Antichain<State, Input, Output> {
  private readonly byCoarse = new Map<string, Configuration<State>[]>();
  private count = 0;

  constructor(private readonly model: Model<State, Input, Output>) {}

  get size(): number {
    return this.count;
  }

  add(c: Configuration<State>): void {
    const key = this.key(c);
    const list = this.byCoarse.get(key) ?? [];
    if (list.some((e) => this.dominates(e, c))) return;
    const kept = list.filter((e) => !this.dominates(c, e));
    kept.push(c);
    this.count += kept.length - list.length;
    this.byCoarse.set(key, kept);
  }

  /** Does one of the configurations dominate `c`? */
  dominatesAny(c: Configuration<State>): boolean {
    return (this.byCoarse.get(this.key(c)) ?? []).some((e) => this.dominates(e, c));
  }

  private key(c: Configuration<State>): string {
    return (this.model.coarseHash ?? this.model.hash)(c.state);
  }

  /** `a` accepts every continuation `b` does: a dominating state, more options, fewer bars. */
  private dominates(a: Configuration<State>, b: Configuration<State>): boolean {
    const dominates = this.model.dominates ?? this.model.equal;
    return dominates(a.state, b.state) && includes(a.pending, b.pending) && includes(b.ended, a.ended);
  }
}

/** Does the sorted `outer` hold every element of the sorted `inner`? */
function includes<T extends number | string>(outer: readonly T[], inner: readonly T[]): boolean {
  let i = 0;
  for (const x of inner) {
    while (i < outer.length && (outer[i] as T) < x) i++;
    if (i >= outer.length || outer[i] !== x) return false;
    i++;
  }
  return true;
}
