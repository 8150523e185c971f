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
 *
 * Long histories are cut at their quiescent points and searched one segment at a time, carrying
 * every configuration a prefix can end in across each cut (segments.ts): the same verdict as one
 * search, at a cost that grows with the length of the history rather than exploding with it.
 * The search itself is in search.ts.
 */
import { assertNever } from '../../util/assert.js';
import type { Model, Operation } from './model.js';
import { linearizations } from './search.js';
import { checkSegmented, splitAtQuiescence } from './segments.js';

export type CheckOptions = {
  /** Search steps per partition before the verdict becomes "unknown" (segments and fallback each). */
  readonly stepsMax?: number;
  /**
   * Cut each partition at its quiescent points and search segment by segment (default true).
   * False searches each partition in one piece, as before segmentation: for comparisons.
   */
  readonly segment?: boolean;
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
  /**
   * When the violation was found in a segment after a quiescent cut: where the cut was, how many
   * operations came before it, and how many configurations the prefix could end in there (the
   * linearization shown is one of them, continued as far as it goes).
   */
  readonly cut: { readonly atUs: number; readonly operationsBefore: number; readonly configurations: number } | null;
};

export type PartitionVerdict<Input, Output> = {
  readonly partition: string;
  readonly operations: number;
  readonly steps: number;
  /** Segments the partition was searched in (1: in one piece). */
  readonly segments: number;
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
    const ops = model.reduce === undefined ? group : model.reduce(group);
    const verdict = checkPartition(model, key, ops, options);
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
 * One partition: segment by segment when it has quiescent points (segments.ts), in one search
 * otherwise. If the segmented search gives up (too many configurations at a cut, or the step
 * bound), one search over the whole partition gets its own budget: segmenting never makes a
 * verdict less conclusive than before.
 */
function checkPartition<State, Input, Output>(
  model: Model<State, Input, Output>,
  partition: string,
  ops: readonly Operation<Input, Output>[],
  options: CheckOptions,
): PartitionVerdict<Input, Output> {
  const stepsMax = options.stepsMax ?? defaultStepsMax;
  const segments = options.segment === false ? [] : splitAtQuiescence(ops);
  if (segments.length <= 1) return checkWhole(model, partition, ops, stepsMax, 0);
  const segmented = checkSegmented(model, ops, segments, stepsMax);
  const base = { partition, operations: ops.length, steps: segmented.steps, segments: segments.length };
  switch (segmented.verdict) {
    case 'ok':
      return { ...base, verdict: 'ok' };
    case 'violation':
      return {
        ...base,
        verdict: 'violation',
        violation: explain(model, ops, segmented.order, segmented.states, segmented.cut),
      };
    case 'unknown':
      return checkWhole(model, partition, ops, stepsMax, segmented.steps);
    default:
      return assertNever(segmented, 'segmented verdict');
  }
}

/** One search over the whole partition, after `stepsBefore` steps spent elsewhere (reported too). */
function checkWhole<State, Input, Output>(
  model: Model<State, Input, Output>,
  partition: string,
  ops: readonly Operation<Input, Output>[],
  stepsMax: number,
  stepsBefore: number,
): PartitionVerdict<Input, Output> {
  const budget = { steps: 0, max: stepsMax };
  const first = linearizations(model, ops, { state: model.init(), ended: new Set() }, budget).next();
  const base = { partition, operations: ops.length, steps: stepsBefore + budget.steps, segments: 1 };
  if (!first.done) return { ...base, verdict: 'ok' };
  const end = first.value;
  switch (end.kind) {
    case 'gaveUp':
      return { ...base, verdict: 'unknown' };
    case 'exhausted':
      return { ...base, verdict: 'violation', violation: explain(model, ops, end.best.order, end.best.states, null) };
    default:
      return assertNever(end, 'search end');
  }
}

function explain<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
  order: readonly number[],
  states: readonly State[],
  cut: Violation<Input, Output>['cut'],
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
    cut,
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
      lines.push(
        `  partition${name}: gave up after ${p.steps} search steps (${p.operations} operations, ${p.segments} segment${p.segments === 1 ? '' : 's'})`,
      );
      continue;
    }
    const v = p.violation;
    lines.push(
      `  partition${name}: not linearizable; at most ${v.linearized.length} of ${p.operations} operations linearize`,
    );
    if (v.cut !== null) {
      lines.push(
        `    (searched in ${p.segments} segments: every one of the ${v.cut.configurations} configurations the ` +
          `${v.cut.operationsBefore} operations before the quiescent cut at ${fmtTime(v.cut.atUs)} can end in fails after it)`,
      );
    }
    const shown = v.linearized.slice(-contextOps);
    if (shown.length < v.linearized.length)
      lines.push(`    ... ${v.linearized.length - shown.length} earlier operations`);
    for (const step of shown) lines.push(`    ${describe(step.op)}  => ${step.stateAfter}`);
    lines.push(`    then, from ${v.stateAtEnd}, ${describe(v.stuck)} cannot take effect before it returned:`);
    for (const c of v.candidates) lines.push(`      ${describe(c.op)}: ${c.why}`);
  }
  return lines.join('\n');
}
