// Long histories are cut at their quiescent points and checked segment by segment, carrying every
// configuration a prefix can end in (src/chaos/linearizability/segments.ts). Proved here: where
// the cuts fall; that what crosses a cut must be a set (an unknown write both taken and not);
// that a violation whose two halves lie on either side of a cut is still caught; that segmented
// and one-piece searches agree on every generated history both decide; and that long histories
// the one-piece search leaves "unknown" are now decided.
import t from 'tap';
import fc from 'fast-check';
import { checkLinearizable, formatCheck } from '../../src/chaos/linearizability/checker.js';
import type { CheckResult } from '../../src/chaos/linearizability/checker.js';
import type { Model, Operation } from '../../src/chaos/linearizability/model.js';
import { splitAtQuiescence } from '../../src/chaos/linearizability/segments.js';
import { mutexModel } from '../../src/chaos/linearizability/models/mutex.js';
import type { MutexInput, MutexOutput } from '../../src/chaos/linearizability/models/mutex.js';
import { semaphoreModel } from '../../src/chaos/linearizability/models/semaphore.js';
import { kvModel } from '../../src/chaos/linearizability/models/kv.js';
import type { KvInput, KvOutput } from '../../src/chaos/linearizability/models/kv.js';
import { fenceModel } from '../../src/chaos/linearizability/models/fence.js';
import { fenceRun, kvRun, mutexRun, semaphoreRun, stretch } from './fixtures/sequential.js';
import type { Draw, Stretch } from './fixtures/sequential.js';
import { simulateMutex } from './fixtures/mutex-sim.js';
import type { MutexOp, MutexSimOptions } from './fixtures/mutex-sim.js';
import { mutexOps, operationMaker } from './fixtures/hand-ops.js';

const kv = operationMaker('k');
const put = (value: string, version: number | undefined, c: number, r: number): Operation<KvInput, KvOutput> =>
  kv(
    'p',
    { type: 'put', key: 'x', value, ifVersion: null },
    version === undefined ? undefined : { type: 'put', ok: true, version },
    c,
    r,
  );
const get = (value: string | null, version: number, c: number, r: number): Operation<KvInput, KvOutput> =>
  kv('p', { type: 'get', key: 'x' }, { type: 'get', value, version }, c, r);
const { acq, rel } = mutexOps(operationMaker('m'));

function both<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
): { segmented: CheckResult<I, O>; whole: CheckResult<I, O> } {
  return { segmented: checkLinearizable(model, ops), whole: checkLinearizable(model, ops, { segment: false }) };
}

t.test(
  'cuts fall where no known operation is in flight; unknown ones join the segment they were called in',
  async (t) => {
    const ops = [
      put('a', 1, 0, 10),
      get('a', 1, 5, 20),
      put('b', undefined, 25, 0),
      get('b', 2, 30, 40),
      get('b', 2, 40, 45),
      put('c', undefined, 50, 0),
    ];
    const segments = splitAtQuiescence(ops);
    t.same(
      segments.map((s) => [s.known, s.unknown, s.endUs]),
      [
        [[0, 1], [], 20],
        [[3, 4], [2], 45],
      ],
      'two segments: touching operations (40..45 after 30..40) stay together; the put called after the last return is left out',
    );
  },
);

t.test('what crosses a cut is a set: an unknown write may have taken effect before it, or after', async (t) => {
  // The unknown put of "v" is called in the first segment; reads in later segments see it
  // first absent, then present: it took effect after the first cut. Carrying only "taken"
  // would reject this history; carrying only "not taken" would reject the next one.
  const late = [
    put('u', 1, 0, 1),
    put('v', undefined, 2, 0),
    get('u', 1, 3, 4),
    get('u', 1, 10, 11),
    get('v', 2, 20, 21),
  ];
  const early = [put('u', 1, 0, 1), put('v', undefined, 2, 0), get('v', 2, 3, 4), get('v', 2, 10, 11)];
  for (const [name, ops] of [
    ['late', late],
    ['early', early],
  ] as const) {
    const { segmented, whole } = both(kvModel, ops);
    t.equal(segmented.verdict, 'ok', `${name}: linearizable (${formatCheck(kvModel, segmented)})`);
    t.equal(whole.verdict, 'ok', `${name}: as the one-piece search says`);
    t.ok(
      (segmented.partitions[0]?.segments ?? 0) > 1,
      `${name}: checked in ${segmented.partitions[0]?.segments} segments`,
    );
  }
  // Once read, the value stays until something replaces it: absent again is a violation.
  const back = [put('v', undefined, 0, 0), get('v', 1, 3, 4), get(null, 0, 10, 11)];
  const { segmented } = both(kvModel, back);
  t.equal(segmented.verdict, 'violation', 'a value read, then gone without a delete: rejected across the cut');
});

t.test(
  'a violation whose halves lie on either side of a cut is still caught, and explained from the start',
  async (t) => {
    // Hundreds of quiet hand-offs between the two grants: the token bound is carried through.
    const ops: MutexOp[] = [acq('a', 500, 0, 1), rel('a', 500, true, 2, 3)];
    for (let i = 0; i < 200; i++) {
      const at = 10 + i * 10;
      ops.push(acq(`o${i}`, 501 + i, at, at + 2), rel(`o${i}`, 501 + i, true, at + 4, at + 6));
    }
    const end = 10 + 200 * 10;
    ops.push(acq('z', 400, end, end + 1));
    const { segmented, whole } = both(mutexModel, ops);
    t.equal(segmented.verdict, 'violation');
    t.equal(whole.verdict, 'violation', 'the one-piece search agrees');
    const text = formatCheck(mutexModel, segmented);
    t.match(text, /at most 402 of 403 operations linearize/, 'the explanation counts every operation before the cut');
    t.match(text, /searched in 403 segments/);
    t.match(text, /z acquire\(L\) -> token 400 .*: token 400 is not above 700/);
    // And an unknown release still pending from long before the cut can free the lock at the end.
    const pending: MutexOp[] = [acq('a', 1, 0, 1), rel('a', 1, undefined, 2, 0)];
    for (let i = 0; i < 50; i++) pending.push(acq('a', undefined, 10 + i, 0));
    pending.push(acq('b', 2, 1_000, 1_001), acq('c', 3, 1_002, 1_003));
    t.equal(
      checkLinearizable(mutexModel, pending.slice(0, -1)).verdict,
      'ok',
      "a's unknown release, called before the cut, frees the lock for b",
    );
    t.equal(checkLinearizable(mutexModel, pending).verdict, 'violation', 'but only once: c cannot hold it too');
    // An unknown session end is a no-op while its owner holds nothing, but not once the owner
    // acquires after the cut: it must still be carried then, to free the lock for b.
    const endLater: MutexOp[] = [
      {
        id: 'end-a',
        process: 'a',
        input: { type: 'end', lock: 'L', owner: 'a' },
        output: undefined,
        callUs: 0,
        returnUs: Infinity,
      },
      acq('x', 1, 1, 2),
      rel('x', 1, true, 3, 4),
      acq('a', 5, 10, 11),
      acq('b', 6, 20, 21),
    ];
    const { segmented: later, whole: laterWhole } = both(mutexModel, endLater);
    t.equal(laterWhole.verdict, 'ok', "a's lost session end frees its lock for b");
    t.equal(later.verdict, 'ok', `and segment by segment too (${later.partitions[0]?.segments} segments)`);
  },
);

// --- agreement with the one-piece search on generated histories ---------------------------------

const drawArb = fc.record({ a: fc.nat(1000), b: fc.nat(1000), c: fc.nat(1000) });
const stretchArb = fc.record({ before: fc.nat(25), after: fc.nat(25), unknown: fc.nat(99).map((n) => n < 20) });
const runArb = fc.record({
  draws: fc.array(drawArb, { minLength: 1, maxLength: 50 }),
  stretches: fc.array(stretchArb, { minLength: 1, maxLength: 50 }),
});

/** One corruption of a generated history: an output swapped with another operation's of the same kind. */
function corrupt<I, O>(ops: Operation<I, O>[], pick: number): Operation<I, O>[] {
  const known = ops.map((o, i) => [o, i] as const).filter(([o]) => o.output !== undefined);
  const a = known[pick % Math.max(1, known.length)];
  const b = known[(pick * 7 + 3) % Math.max(1, known.length)];
  if (a === undefined || b === undefined) return ops;
  const out = [...ops];
  out[a[1]] = { ...a[0], output: b[0].output };
  return out;
}

t.test('segmented and one-piece searches agree on every generated history they both decide', async (t) => {
  let decided = 0;
  let violations = 0;
  const agree = <S, I, O>(model: Model<S, I, O>, ops: Operation<I, O>[]): boolean => {
    const { segmented, whole } = both(model, ops);
    if (segmented.verdict === 'unknown' || whole.verdict === 'unknown') return true;
    decided++;
    if (whole.verdict === 'violation') violations++;
    if (segmented.verdict !== whole.verdict) {
      t.fail(
        `${model.name}: segmented ${segmented.verdict}, one piece ${whole.verdict}\n${formatCheck(model, segmented)}\n${formatCheck(model, whole)}`,
      );
      return false;
    }
    return true;
  };
  const check = <S, I, O>(
    model: Model<S, I, O>,
    run: (draws: readonly Draw[]) => { process: string; input: I; output: O }[],
  ): void => {
    fc.assert(
      fc.property(runArb, fc.nat(1000), fc.boolean(), ({ draws, stretches }, pick, bad) => {
        const ops = stretch(run(draws), stretches as Stretch[]);
        return agree(model, bad ? corrupt(ops, pick) : ops);
      }),
      { numRuns: 300 },
    );
  };
  check(mutexModel, mutexRun);
  check(semaphoreModel, semaphoreRun);
  check(kvModel, kvRun);
  check(fenceModel, fenceRun);
  t.ok(decided > 1000, `${decided} histories decided by both`);
  t.ok(violations > 200, `${violations} of them violations`);
});

// --- long histories ---------------------------------------------------------------------------

/** A token going back near the end: a grant given the token of an earlier grant that returned before it was called. */
function plantLateRegression(ops: readonly MutexOp[]): MutexOp[] {
  const grants = ops.filter((o) => o.input.type === 'acquire' && o.output?.type === 'acquire');
  const byReturn = [...grants].sort((a, b) => a.returnUs - b.returnUs);
  const victim = byReturn[byReturn.length - 5];
  const before = victim === undefined ? undefined : byReturn.filter((g) => g.returnUs < victim.callUs).at(-1);
  if (victim === undefined || before?.output?.type !== 'acquire') throw new Error('no pair of grants to corrupt');
  const token = before.output.token;
  return ops.map((o) => (o === victim ? { ...o, id: 'planted', output: { type: 'acquire' as const, token } } : o));
}

// Simulated lock services with sessions, outages and lost messages: 19,000 and 25,000 operations,
// a quarter to over a third of them of unknown outcome.
const longSims: readonly MutexSimOptions[] = [
  { seed: 6, processes: 6, rounds: 1500, lossRate: 0.08, expiryRate: 0.05, outages: 30 },
  { seed: 7, processes: 4, rounds: 3000, lossRate: 0.05, expiryRate: 0.05, outages: 40 },
];

t.test('long histories the one-piece search gives up on are decided, segment by segment', async (t) => {
  for (const options of longSims) {
    const ops = simulateMutex(options);
    const unknown = ops.filter((o) => o.returnUs === Infinity).length / ops.length;
    t.ok(
      ops.length > 18_000 && unknown > 0.2,
      `seed ${options.seed}: ${ops.length} operations, ${(100 * unknown).toFixed(0)}% unknown`,
    );
    const faithful = checkLinearizable(mutexModel, ops);
    t.equal(faithful.verdict, 'ok', `seed ${options.seed}: recorded faithfully, linearizable`);
    const planted = plantLateRegression(ops);
    const whole = checkLinearizable<unknown, MutexInput, MutexOutput>(
      mutexModel as Model<unknown, MutexInput, MutexOutput>,
      planted,
      { segment: false },
    );
    t.equal(
      whole.verdict,
      'unknown',
      `seed ${options.seed}: one search over the whole history gives up (${whole.partitions[0]?.steps} steps)`,
    );
    const segmented = checkLinearizable(mutexModel, planted);
    const p = segmented.partitions[0];
    t.equal(
      segmented.verdict,
      'violation',
      `seed ${options.seed}: the planted regression is proven in ${p?.steps} steps over ${p?.segments} segments`,
    );
    t.match(formatCheck(mutexModel, segmented), /planted/, 'and the explanation names it');
  }
});
