// The chaos test's verdicts rest on two things proved here. (1) The history format round-trips:
// what clients write is what the checker reads, with a missing completion read as "unknown".
// (2) The linearizability checker (Herlihy & Wing's condition, searched as Wing & Gong / Porcupine
// do) accepts every history that has a linearization and rejects every one that has none, for each
// model: hand-written known-good and known-bad histories, then fast-check histories made from a
// sequential run with random overlaps and unknown outcomes (always accepted) and the same with one
// corruption (always rejected), each violation explained. After healing, the nodes' final reads
// must agree and still linearize after the whole history (no acknowledged write lost).
import t from 'tap';
import type { Test } from 'tap';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HistoryWriter, joinEvents, parseHistoryText, readHistory } from '../../src/chaos/history.js';
import type { HistoryOp } from '../../src/chaos/history.js';
import { checkLinearizable, formatCheck } from '../../src/chaos/linearizability/checker.js';
import type { Model, Operation } from '../../src/chaos/linearizability/model.js';
import { mutexModel } from '../../src/chaos/linearizability/models/mutex.js';
import { semaphoreModel } from '../../src/chaos/linearizability/models/semaphore.js';
import type { SemaphoreInput, SemaphoreOutput } from '../../src/chaos/linearizability/models/semaphore.js';
import { kvModel } from '../../src/chaos/linearizability/models/kv.js';
import type { KvInput, KvOutput } from '../../src/chaos/linearizability/models/kv.js';
import { fenceModel } from '../../src/chaos/linearizability/models/fence.js';
import type { FenceInput, FenceOutput } from '../../src/chaos/linearizability/models/fence.js';
import { checkHistory } from '../../src/chaos/linearizability/check-history.js';
import { runCheckCli } from '../../src/chaos/check-cli.js';
import { checkConvergence, withFinalReads } from '../../src/chaos/final-state.js';
import type { FinalRead } from '../../src/chaos/final-state.js';
import { fenceRun, kvRun, mutexRun, semaphoreLimit, semaphoreRun, stretch } from './fixtures/sequential.js';
import type { Draw, Step, Stretch } from './fixtures/sequential.js';
import { mutexOps, operationMaker } from './fixtures/hand-ops.js';

const op = operationMaker('h');

function verdict<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[]): string {
  return checkLinearizable(model, ops).verdict;
}

/** Hand-written histories, named by what each shows, under the verdict the checker must give. */
type Cases<I, O> = {
  readonly [verdict in 'ok' | 'violation']?: Readonly<Record<string, readonly Operation<I, O>[]>>;
};

function expectVerdicts<S, I, O>(t: Test, model: Model<S, I, O>, cases: Cases<I, O>): void {
  for (const expected of ['ok', 'violation'] as const)
    for (const [why, ops] of Object.entries(cases[expected] ?? {})) t.equal(verdict(model, ops), expected, why);
}

// --- history format ---------------------------------------------------------------------------

t.test('history files round-trip and merge; a missing completion reads as unknown', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'raftlock-history-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let now = 100;
  const clock = (): number => now++;
  const w1 = new HistoryWriter(join(dir, 'p1.jsonl'), 'p1', clock);
  const w2 = new HistoryWriter(join(dir, 'p2.jsonl'), 'p2', clock);
  const a = w1.invoke({ type: 'lock.acquire', lock: 'L', owner: 's1' });
  const b = w2.invoke({ type: 'kv.put', key: 'k', value: 'v', ifVersion: null });
  w1.ok(a, { type: 'lock.acquire', token: 7 });
  const c = w2.invoke({ type: 'kv.get', key: 'k' }, 50);
  w2.fail(b, 'NOT_LEADER');
  w2.unknown(c, 'timeout');
  w1.invoke({ type: 'fence.write', resource: 'R', token: 7, value: 'x' });
  w1.close();
  w2.close();
  const ops = readHistory([join(dir, 'p1.jsonl'), join(dir, 'p2.jsonl')]);
  if (!ops.ok) throw new Error(ops.error);
  t.same(
    ops.value.map((o) => [o.id, o.outcome, o.invokeUs, o.completeUs]),
    [
      [c, 'unknown', 50, Infinity],
      [a, 'ok', 100, 102],
      [b, 'fail', 101, 103],
      ['p1:1', 'unknown', 105, Infinity],
    ],
  );
  const first = ops.value[1];
  t.same(first?.outcome === 'ok' ? first.result : null, { type: 'lock.acquire', token: 7 });
  // Every line is plain JSON with the documented fields.
  const line = JSON.parse(readFileSync(join(dir, 'p1.jsonl'), 'utf8').split('\n')[0] ?? '') as unknown;
  t.same(line, {
    kind: 'invoke',
    id: a,
    process: 'p1',
    atUs: 100,
    op: { type: 'lock.acquire', lock: 'L', owner: 's1' },
  });
});

t.test('history reader rejects malformed lines, orphans and mismatched results, naming the line', async (t) => {
  const bad = parseHistoryText('{"kind":"invoke","id":"x","process":"p","atUs":1,"op":{"type":"kv.get"}}\n', 'h.jsonl');
  t.match(bad.ok ? '' : bad.error, /^h\.jsonl:1: bad op/);
  const torn = parseHistoryText(
    '{"kind":"invoke","id":"x","process":"p","atUs":1,"op":{"type":"kv.get","key":"k"}}\n{"kind":"comp',
    'h.jsonl',
  );
  t.match(torn.ok ? '' : torn.error, /^h\.jsonl:2: not JSON/);
  const orphan = joinEvents([{ kind: 'complete', id: 'z', process: 'p', atUs: 3, outcome: 'fail', error: 'e' }]);
  t.match(orphan.ok ? '' : orphan.error, /without an invocation/);
  const mismatch = joinEvents([
    { kind: 'invoke', id: 'y', process: 'p', atUs: 1, op: { type: 'kv.get', key: 'k' } },
    { kind: 'complete', id: 'y', process: 'p', atUs: 2, outcome: 'ok', result: { type: 'kv.delete', deleted: true } },
  ]);
  t.match(mismatch.ok ? '' : mismatch.error, /a kv\.delete result for a kv\.get op/);
  const backwards = joinEvents([
    { kind: 'invoke', id: 'y', process: 'p', atUs: 5, op: { type: 'kv.get', key: 'k' } },
    { kind: 'complete', id: 'y', process: 'p', atUs: 2, outcome: 'unknown', error: 't' },
  ]);
  t.match(backwards.ok ? '' : backwards.error, /completed before it was invoked/);
});

// --- hand-written histories -------------------------------------------------------------------

const { acq, rel, end } = mutexOps(op);

t.test('mutex: known-good histories are linearizable', async (t) => {
  // Sequential hand-offs with growing tokens.
  t.equal(
    verdict(mutexModel, [acq('a', 3, 0, 1), rel('a', 3, true, 2, 3), acq('b', 5, 4, 5), rel('b', 5, true, 6, 7)]),
    'ok',
  );
  // b's acquire overlaps a's release: b may be granted right after the release.
  t.equal(verdict(mutexModel, [acq('a', 3, 0, 1), acq('b', 4, 2, 9), rel('a', 3, true, 5, 6)]), 'ok');
  // a's session ended somewhere in [2, 8]; b acquired after it.
  t.equal(verdict(mutexModel, [acq('a', 3, 0, 1), end('a', 2, 8), acq('b', 9, 5, 10)]), 'ok');
  // An unknown release may have taken effect: b's grant is explained by it.
  t.equal(verdict(mutexModel, [acq('a', 3, 0, 1), rel('a', 3, undefined, 2, 0), acq('b', 4, 5, 6)]), 'ok');
  // An unknown acquire leaves its token unknown but below every later one.
  t.equal(verdict(mutexModel, [acq('a', undefined, 0, 0), end('a', 1, 2), acq('b', 9, 3, 4)]), 'ok');
  // A release by a non-holder is refused.
  t.equal(verdict(mutexModel, [acq('a', 3, 0, 1), rel('b', 3, false, 2, 3)]), 'ok');
});

t.test('mutex: two holders, tokens going back and wrong releases are rejected', async (t) => {
  t.equal(verdict(mutexModel, [acq('a', 3, 0, 1), acq('b', 4, 2, 3)]), 'violation', 'two holders at once');
  t.equal(
    verdict(mutexModel, [acq('a', 5, 0, 1), rel('a', 5, true, 2, 3), acq('b', 4, 4, 5)]),
    'violation',
    'token went back',
  );
  t.equal(
    verdict(mutexModel, [acq('a', 5, 0, 1), rel('a', 5, true, 2, 3), acq('b', 5, 4, 5)]),
    'violation',
    'token repeated',
  );
  t.equal(verdict(mutexModel, [acq('a', 5, 0, 1), rel('b', 5, true, 2, 3)]), 'violation', 'a non-holder released');
  t.equal(
    verdict(mutexModel, [acq('a', 5, 0, 1), rel('a', 5, false, 2, 3)]),
    'violation',
    "the holder's release refused",
  );
  // The session ended only after b's grant returned: the end cannot explain it.
  t.equal(verdict(mutexModel, [acq('a', 3, 0, 1), acq('b', 9, 2, 4), end('a', 5, 8)]), 'violation', 'end too late');
});

t.test('a violation is explained: the deepest linearization, the stuck operation and why', async (t) => {
  const ops = [acq('a', 3, 0, 1), rel('a', 3, true, 2, 3), acq('b', 7, 4, 5), acq('c', 8, 6, 7)];
  const result = checkLinearizable(mutexModel, ops);
  t.equal(result.verdict, 'violation');
  const text = formatCheck(mutexModel, result);
  t.match(text, /partition "L": not linearizable; at most 3 of 4 operations linearize/);
  t.match(text, /b acquire\(L\) -> token 7 .*=> held by b with token 7/);
  t.match(
    text,
    /from held by b with token 7 \(tokens > 7\), h\d+ \[c\] c acquire\(L\) -> token 8 \(6µs\.\.7µs\) cannot take effect/,
  );
  t.match(text, /c acquire\(L\) -> token 8 \(6µs\.\.7µs\): the lock is held by b/);
  const p = result.partitions[0];
  t.equal(p?.verdict === 'violation' ? p.violation.linearized.length : -1, 3);
});

const sAcq = (
  owner: string,
  acquired: boolean | undefined,
  c: number,
  r: number,
): Operation<SemaphoreInput, SemaphoreOutput> =>
  op(
    owner,
    { type: 'acquire', sem: 'S', owner, limit: 2 },
    acquired === undefined ? undefined : { type: 'acquire', acquired },
    c,
    r,
  );
const sRel = (owner: string, released: boolean, c: number, r: number): Operation<SemaphoreInput, SemaphoreOutput> =>
  op(owner, { type: 'release', sem: 'S', owner }, { type: 'release', released }, c, r);

t.test('semaphore: at most N holders; refusals only when full', async (t) => {
  expectVerdicts(t, semaphoreModel, {
    ok: {
      'a release frees a permit for the one refused': [
        sAcq('a', true, 0, 1),
        sAcq('b', true, 2, 3),
        sAcq('c', false, 4, 5),
        sRel('a', true, 6, 7),
        sAcq('c', true, 8, 9),
      ],
      'c overlaps b release': [
        sAcq('a', true, 0, 1),
        sAcq('b', true, 2, 3),
        sAcq('c', true, 1, 9),
        sRel('b', true, 4, 5),
      ],
      "a holder's acquire hands back its permit, taking no second one": [
        sAcq('a', true, 0, 1),
        sAcq('a', true, 2, 3),
        sAcq('b', true, 4, 5),
        sAcq('c', false, 6, 7),
      ],
    },
    violation: {
      'three holders of two permits': [sAcq('a', true, 0, 1), sAcq('b', true, 2, 3), sAcq('c', true, 4, 5)],
      'refused with a permit free': [sAcq('a', true, 0, 1), sAcq('c', false, 4, 5)],
      'a non-holder released': [sAcq('a', true, 0, 1), sRel('b', true, 2, 3)],
      'a holder refused its own permit': [sAcq('a', true, 0, 1), sAcq('b', true, 2, 3), sAcq('a', false, 4, 5)],
    },
  });
});

const put = (
  value: string,
  ifVersion: number | null,
  out: { ok: boolean; version: number } | undefined,
  c: number,
  r: number,
  key = 'k',
): Operation<KvInput, KvOutput> =>
  op('p', { type: 'put', key, value, ifVersion }, out === undefined ? undefined : { type: 'put', ...out }, c, r);
const get = (value: string | null, version: number, c: number, r: number, key = 'k'): Operation<KvInput, KvOutput> =>
  op('p', { type: 'get', key }, { type: 'get', value, version }, c, r);
const del = (
  ifVersion: number | null,
  deleted: boolean | undefined,
  c: number,
  r: number,
  key = 'k',
): Operation<KvInput, KvOutput> =>
  op('p', { type: 'delete', key, ifVersion }, deleted === undefined ? undefined : { type: 'delete', deleted }, c, r);

t.test('versioned keys: CAS, reads and deletes that have a linearization', async (t) => {
  expectVerdicts(t, kvModel, {
    ok: {
      'a CAS from the version read succeeds, a second one from it is refused': [
        get(null, 0, 0, 1),
        put('a', 0, { ok: true, version: 2 }, 2, 3),
        put('b', 2, { ok: true, version: 5 }, 4, 5),
        put('c', 2, { ok: false, version: 5 }, 6, 7),
        get('b', 5, 8, 9),
      ],
      'a read concurrent with a put may see either value': [
        put('a', null, { ok: true, version: 1 }, 0, 1),
        put('b', null, { ok: true, version: 2 }, 2, 6),
        get('a', 1, 3, 4),
        get('b', 2, 5, 7),
      ],
      'an unknown put may show up later, with a version above everything before it': [
        put('a', null, { ok: true, version: 1 }, 0, 1),
        put('b', null, undefined, 2, 0),
        get('a', 1, 3, 4),
        get('b', 9, 5, 6),
      ],
      'an ambiguous conditional delete: the key may or may not be there afterwards': [
        put('a', null, undefined, 0, 0),
        del(3, undefined, 1, 0),
        get(null, 0, 2, 3),
        put('c', null, { ok: true, version: 9 }, 4, 5),
        get('c', 9, 6, 7),
      ],
      'a deleted key reads empty; another key keeps its own version': [
        put('a', null, { ok: true, version: 1 }, 0, 1),
        del(1, true, 2, 3),
        get(null, 0, 4, 5),
        put('z', null, { ok: true, version: 4 }, 6, 7, 'other'),
      ],
      // raftlock's and etcd's per-key version.
      'a deleted key created again starts from version 1': [
        put('a', null, { ok: true, version: 1 }, 0, 1),
        put('b', 1, { ok: true, version: 2 }, 2, 3),
        del(null, true, 4, 5),
        put('c', 0, { ok: true, version: 1 }, 6, 7),
        get('c', 1, 8, 9),
      ],
      'after a delete of unknown outcome, the key may have been created again from 1': [
        put('a', null, { ok: true, version: 3 }, 0, 1),
        del(null, undefined, 2, 0),
        put('c', 0, { ok: true, version: 1 }, 4, 5),
      ],
    },
  });
});

t.test('versioned keys: stale reads, phantom values and broken CAS are rejected', async (t) => {
  expectVerdicts(t, kvModel, {
    violation: {
      'stale read': [
        put('a', null, { ok: true, version: 1 }, 0, 1),
        put('b', null, { ok: true, version: 2 }, 2, 3),
        get('a', 1, 4, 5),
      ],
      'never-written value': [put('a', null, { ok: true, version: 1 }, 0, 1), get('ghost', 1, 2, 3)],
      'two CAS from one version': [
        put('a', null, { ok: true, version: 1 }, 0, 1),
        put('b', 1, { ok: true, version: 2 }, 2, 3),
        put('c', 1, { ok: true, version: 3 }, 4, 5),
      ],
      'version did not grow': [
        put('a', null, { ok: true, version: 4 }, 0, 1),
        put('b', null, { ok: true, version: 4 }, 2, 3),
      ],
      'version did not grow within one incarnation': [
        put('a', null, { ok: true, version: 1 }, 0, 1),
        del(null, true, 2, 3),
        put('b', null, { ok: true, version: 1 }, 4, 5),
        put('c', null, { ok: true, version: 1 }, 6, 7),
      ],
      'matching CAS refused': [
        put('a', null, { ok: true, version: 1 }, 0, 1),
        put('b', 1, { ok: false, version: 1 }, 2, 3),
      ],
      'read after delete': [put('a', null, { ok: true, version: 1 }, 0, 1), del(null, true, 2, 3), get('a', 1, 4, 5)],
      'unknown ops never invent values': [put('a', null, undefined, 0, 0), del(3, undefined, 1, 0), get('q', 7, 2, 3)],
    },
  });
});

const fw = (token: number, accepted: boolean | undefined, c: number, r: number): Operation<FenceInput, FenceOutput> =>
  op('p', { resource: 'R', token, value: `t${token}` }, accepted === undefined ? undefined : { accepted }, c, r);

t.test('fenced resource: stale tokens are never accepted', async (t) => {
  t.equal(verdict(fenceModel, [fw(3, true, 0, 1), fw(3, true, 2, 3), fw(2, false, 4, 5), fw(5, true, 6, 7)]), 'ok');
  t.equal(verdict(fenceModel, [fw(3, true, 0, 5), fw(5, true, 1, 6)]), 'ok', 'concurrent writes order freely');
  t.equal(verdict(fenceModel, [fw(5, true, 0, 1), fw(3, true, 2, 3)]), 'violation', 'stale token accepted');
  t.equal(verdict(fenceModel, [fw(5, true, 0, 1), fw(6, false, 2, 3)]), 'violation', 'fresh token refused');
});

t.test('partitions are checked separately and the search bound gives "unknown", never "ok"', async (t) => {
  const ops = [acq('a', 3, 0, 1, 'L1'), acq('b', 4, 2, 3, 'L2'), acq('c', 5, 4, 5, 'L1')];
  const result = checkLinearizable(mutexModel, ops);
  t.same(
    result.partitions.map((p) => [p.partition, p.verdict, p.operations]),
    [
      ['L1', 'violation', 2],
      ['L2', 'ok', 1],
    ],
  );
  // Two hand-offs: the search needs a step per operation, more than 3.
  const handoffs = [acq('a', 3, 0, 1), rel('a', 3, true, 2, 3), acq('b', 5, 4, 5), rel('b', 5, true, 6, 7)];
  t.equal(checkLinearizable(mutexModel, handoffs, { stepsMax: 3 }).verdict, 'unknown');
  const wide = [0, 1, 2, 3, 4, 5].map((i) => acq(`o${i}`, undefined, i, 0));
  t.equal(checkLinearizable(mutexModel, [...wide, end('o0', 6, 7), acq('z', 100, 10, 11)]).verdict, 'ok');
});

t.test('checkHistory runs every model over a chaos history and drops failed operations', async (t) => {
  const h = (
    id: string,
    invokeUs: number,
    completeUs: number,
    rest: Pick<HistoryOp, 'op'> &
      ({ outcome: 'ok'; result: Extract<HistoryOp, { outcome: 'ok' }>['result'] } | { outcome: 'fail'; error: string }),
  ): HistoryOp => ({ id, process: 'p', invokeUs, completeUs, ...rest }) as HistoryOp;
  const good: HistoryOp[] = [
    h('1', 0, 1, {
      op: { type: 'lock.acquire', lock: 'L', owner: 's1' },
      outcome: 'ok',
      result: { type: 'lock.acquire', token: 4 },
    }),
    h('2', 2, 3, {
      op: { type: 'fence.write', resource: 'R', token: 4, value: 'x' },
      outcome: 'ok',
      result: { type: 'fence.write', accepted: true },
    }),
    h('3', 4, 5, { op: { type: 'session.end', owner: 's1' }, outcome: 'ok', result: { type: 'session.end' } }),
    h('4', 6, 7, {
      op: { type: 'lock.acquire', lock: 'L', owner: 's2' },
      outcome: 'ok',
      result: { type: 'lock.acquire', token: 9 },
    }),
    h('5', 8, 9, { op: { type: 'kv.put', key: 'k', value: 'v', ifVersion: 0 }, outcome: 'fail', error: 'NOT_LEADER' }),
    h('6', 10, 11, {
      op: { type: 'kv.get', key: 'k' },
      outcome: 'ok',
      result: { type: 'kv.get', value: null, version: 0 },
    }),
    h('7', 12, 13, {
      op: { type: 'sem.acquire', sem: 'S', owner: 's2', limit: 1 },
      outcome: 'ok',
      result: { type: 'sem.acquire', acquired: true },
    }),
  ];
  const ok = checkHistory(good);
  t.equal(ok.verdict, 'ok', ok.report);
  const stale = h('8', 14, 15, {
    op: { type: 'fence.write', resource: 'R', token: 3, value: 'y' },
    outcome: 'ok',
    result: { type: 'fence.write', accepted: true },
  });
  const bad = checkHistory([...good, stale]);
  t.equal(bad.verdict, 'violation');
  t.match(bad.report, /fenced resource: violation/);
  t.match(bad.report, /token 3 is stale: 4 was accepted before/);
});

// --- generated histories ----------------------------------------------------------------------

const drawArb = fc.record({ a: fc.nat(1000), b: fc.nat(1000), c: fc.nat(1000) });
const stretchArb = (unknownWeight: number): fc.Arbitrary<Stretch> =>
  fc.record({ before: fc.nat(25), after: fc.nat(25), unknown: fc.nat(99).map((n) => n < unknownWeight) });
const runArb = (unknownWeight: number): fc.Arbitrary<{ draws: Draw[]; stretches: Stretch[] }> =>
  fc.record({
    draws: fc.array(drawArb, { minLength: 1, maxLength: 40 }),
    stretches: fc.array(stretchArb(unknownWeight), { minLength: 1, maxLength: 40 }),
  });
const numRuns = 150;

/**
 * Asserts `property` over generated histories: a sequential run of `run` stretched into overlaps,
 * `unknownWeight` in a hundred outcomes hidden as unknown, and a number to pick where to plant a fault.
 */
function forEveryHistory<I, O>(
  unknownWeight: number,
  run: (draws: readonly Draw[]) => Step<I, O>[],
  property: (ops: Operation<I, O>[], pick: number) => boolean,
): void {
  fc.assert(
    fc.property(runArb(unknownWeight), fc.nat(1000), ({ draws, stretches }, pick) =>
      property(stretch(run(draws), stretches), pick),
    ),
    { numRuns },
  );
}

function lastReturn<I, O>(ops: readonly Operation<I, O>[]): number {
  return ops.reduce((m, o) => (o.returnUs === Infinity ? Math.max(m, o.callUs) : Math.max(m, o.returnUs)), 0) + 1;
}

t.test('generated: a sequential run with random overlaps and unknown outcomes is always linearizable', async (t) => {
  const check = <S, I, O>(model: Model<S, I, O>, ops: Operation<I, O>[]): boolean => {
    const result = checkLinearizable(model, ops);
    if (result.verdict !== 'ok') t.fail(formatCheck(model, result));
    return result.verdict === 'ok';
  };
  forEveryHistory(15, mutexRun, (ops) => check(mutexModel, ops));
  forEveryHistory(15, semaphoreRun, (ops) => check(semaphoreModel, ops));
  forEveryHistory(15, kvRun, (ops) => check(kvModel, ops));
  forEveryHistory(15, fenceRun, (ops) => check(fenceModel, ops));
});

/** Rejected, with an explanation that names the planted operation. */
function rejects<S, I, O>(model: Model<S, I, O>, ops: Operation<I, O>[], planted: string): boolean {
  const result = checkLinearizable(model, ops);
  const text = formatCheck(model, result);
  return result.verdict === 'violation' && text.includes(planted);
}

t.test('generated: a read of a never-written value is always rejected', async (t) => {
  forEveryHistory(15, kvRun, (ops, pick) => {
    const reads = ops.map((o, i) => [o, i] as const).filter(([o]) => o.input.type === 'get' && o.output !== undefined);
    const chosen = reads[pick % Math.max(1, reads.length)];
    if (chosen === undefined) {
      const at = lastReturn(ops);
      ops.push({
        id: 'planted',
        process: 'z',
        input: { type: 'get', key: 'x' },
        output: { type: 'get', value: 'never-written', version: 1 },
        callUs: at,
        returnUs: at + 1,
      });
    } else {
      const [o, i] = chosen;
      ops[i] = {
        ...o,
        id: 'planted',
        output: {
          type: 'get',
          value: 'never-written',
          version: Math.max(1, o.output?.type === 'get' ? o.output.version : 1),
        },
      };
    }
    return rejects(kvModel, ops, 'planted');
  });
  t.pass('every corrupted history was rejected');
});

t.test('generated: a mutex token that goes backwards is always rejected', async (t) => {
  forEveryHistory(15, mutexRun, (ops, pick) => {
    const grants = ops
      .map((o, i) => [o, i] as const)
      .filter(([o]) => o.input.type === 'acquire' && o.output?.type === 'acquire');
    // A pair of grants in real-time order: the later one must carry the larger token.
    const pairs = grants.flatMap(([a]) =>
      grants.filter(([b]) => a.returnUs < b.callUs).map(([b, j]) => [a, b, j] as const),
    );
    const chosen = pairs[pick % Math.max(1, pairs.length)];
    if (chosen === undefined) {
      const at = lastReturn(ops);
      const top = 1000;
      ops.push(acq('f1', top, at, at + 1), rel('f1', top, true, at + 2, at + 3), {
        ...acq('f2', top, at + 4, at + 5),
        id: 'planted',
      });
    } else {
      const [a, b, j] = chosen;
      const token = a.output?.type === 'acquire' ? a.output.token : 0;
      ops[j] = { ...b, id: 'planted', output: { type: 'acquire', token: token - (pick % 2) } };
    }
    return checkLinearizable(mutexModel, ops).verdict === 'violation';
  });
  t.pass('every corrupted history was rejected');
});

t.test('generated: two mutex holders at once are always rejected', async (t) => {
  forEveryHistory(0, mutexRun, (ops, pick) => {
    // Plant a stranger's grant while a holder provably holds: after every earlier operation
    // returned, before any later operation that could free the lock was called. When no such
    // window exists, plant it after the end of the history, behind another stranger's grant.
    const windows: [number, number][] = [];
    ops.forEach((o, i) => {
      if (o.input.type !== 'acquire' || o.output === undefined) return;
      const owner = o.input.owner;
      // An earlier free by the same owner that might come after this grant would explain a stranger.
      const earlierFrees = ops.slice(0, i).filter((p) => p.input.type !== 'acquire' && p.input.owner === owner);
      if (earlierFrees.some((p) => p.returnUs >= o.callUs)) return;
      const from = Math.max(...ops.slice(0, i + 1).map((p) => p.returnUs)) + 1;
      const frees = ops.slice(i + 1).filter((p) => p.input.type !== 'acquire' && p.input.owner === owner);
      const until = Math.min(Infinity, ...frees.map((p) => p.callUs)) - 1;
      if (from + 1 < until) windows.push([from, from + 1]);
    });
    const w = windows[pick % Math.max(1, windows.length)];
    if (w === undefined) {
      const at = lastReturn(ops);
      ops.push(acq('f1', 5000, at, at + 1), { ...acq('f2', 5001, at + 2, at + 3), id: 'planted' });
    } else {
      ops.push({ ...acq('stranger', 5000, w[0], w[1]), id: 'planted' });
    }
    return checkLinearizable(mutexModel, ops).verdict === 'violation';
  });
  t.pass('every corrupted history was rejected');
});

t.test('generated: more semaphore holders than permits, or a stale fenced write, are always rejected', async (t) => {
  forEveryHistory(15, semaphoreRun, (ops) => {
    const at = lastReturn(ops);
    for (let k = 0; k <= semaphoreLimit; k++)
      ops.push({
        ...sAcq(`fresh${k}`, true, at + 2 * k, at + 2 * k + 1),
        input: { type: 'acquire', sem: 'S', owner: `fresh${k}`, limit: semaphoreLimit },
      });
    return checkLinearizable(semaphoreModel, ops).verdict === 'violation';
  });
  forEveryHistory(15, fenceRun, (ops, pick) => {
    const accepted = ops.filter((o) => o.output?.accepted === true);
    const pairs = accepted.flatMap((a) =>
      ops.map((b, j) => [a, b, j] as const).filter(([, b]) => a.returnUs < b.callUs && b.output !== undefined),
    );
    const chosen = pairs[pick % Math.max(1, pairs.length)];
    if (chosen === undefined) {
      const at = lastReturn(ops);
      ops.push(fw(100, true, at, at + 1), { ...fw(99, true, at + 2, at + 3), id: 'planted' });
    } else {
      const [a, b, j] = chosen;
      ops[j] = { ...b, id: 'planted', input: { ...b.input, token: a.input.token - 1 }, output: { accepted: true } };
    }
    return rejects(fenceModel, ops, 'planted');
  });
  t.pass('every corrupted history was rejected');
});

t.test('a history file written by hand can be checked end to end', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'raftlock-history-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const lines = [
    { kind: 'invoke', id: 'a', process: 'p1', atUs: 0, op: { type: 'lock.acquire', lock: 'L', owner: 's1' } },
    { kind: 'complete', id: 'a', process: 'p1', atUs: 1, outcome: 'ok', result: { type: 'lock.acquire', token: 2 } },
    { kind: 'invoke', id: 'b', process: 'p2', atUs: 2, op: { type: 'lock.acquire', lock: 'L', owner: 's2' } },
    { kind: 'complete', id: 'b', process: 'p2', atUs: 3, outcome: 'ok', result: { type: 'lock.acquire', token: 3 } },
  ];
  writeFileSync(join(dir, 'h.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n'));
  const ops = readHistory([join(dir, 'h.jsonl')]);
  if (!ops.ok) throw new Error(ops.error);
  const result = checkHistory(ops.value);
  t.equal(result.verdict, 'violation');
  t.match(result.report, /b \[p2\] s2 acquire\(L\) -> token 3 \(2µs\.\.3µs\): the lock is held by s1/);
});

t.test(
  'the check command exits 0 on a linearizable history, 1 on a violation, 2 past the bound, 3 on a bad file',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'raftlock-history-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = (name: string, events: readonly object[]): string => {
      const path = join(dir, name);
      writeFileSync(path, events.map((e) => `${JSON.stringify(e)}\n`).join(''));
      return path;
    };
    const invoke = (id: string, atUs: number, owner: string): object => ({
      kind: 'invoke',
      id,
      process: owner,
      atUs,
      op: { type: 'lock.acquire', lock: 'L', owner },
    });
    const granted = (id: string, atUs: number, token: number): object => ({
      kind: 'complete',
      id,
      process: 'p',
      atUs,
      outcome: 'ok',
      result: { type: 'lock.acquire', token },
    });
    const good = file('good.jsonl', [invoke('a', 0, 's1'), granted('a', 1, 5)]);
    const bad = file('bad.jsonl', [
      invoke('b1', 0, 's1'),
      granted('b1', 1, 5),
      invoke('b2', 2, 's2'),
      granted('b2', 3, 6),
    ]);
    // Six acquires of unknown outcome, then four grants in a row: the search needs more than three steps.
    const released = (id: string, atUs: number, owner: string, token: number): object[] => [
      { kind: 'invoke', id, process: owner, atUs, op: { type: 'lock.release', lock: 'L', owner, token } },
      {
        kind: 'complete',
        id,
        process: owner,
        atUs: atUs + 1,
        outcome: 'ok',
        result: { type: 'lock.release', released: true },
      },
    ];
    const grants = [0, 1, 2, 3].flatMap((i) => [
      invoke(`z${i}`, 10 + 4 * i, `z${i}`),
      granted(`z${i}`, 11 + 4 * i, 100 + i),
      ...released(`r${i}`, 12 + 4 * i, `z${i}`, 100 + i),
    ]);
    const wide = file('wide.jsonl', [...[0, 1, 2, 3, 4, 5].map((i) => invoke(`w${i}`, i, `o${i}`)), ...grants]);
    const torn = file('torn.jsonl', []);
    writeFileSync(torn, '{"kind":');
    t.equal(runCheckCli([good]), 0);
    t.equal(runCheckCli([bad]), 1);
    t.equal(runCheckCli(['--steps-max', '3', wide]), 2);
    t.equal(runCheckCli([torn]), 3);
    t.equal(runCheckCli([]), 3);
  },
);

t.test('after healing: nodes must agree, and final reads must linearize after the whole history', async (t) => {
  const put = (id: string, at: number, value: string, outcome: 'ok' | 'fail', version = 0): HistoryOp => {
    const call = {
      id,
      process: 'p',
      invokeUs: at,
      completeUs: at + 1,
      op: { type: 'kv.put', key: 'k', value, ifVersion: null },
    } as const;
    return outcome === 'ok'
      ? { ...call, outcome, result: { type: 'kv.put', ok: true, version } }
      : { ...call, outcome, error: 'NOT_LEADER' };
  };
  const history = [put('a', 0, 'v1', 'ok', 3), put('b', 2, 'v2', 'ok', 5), put('c', 4, 'v3', 'fail')];
  const read = (node: string, value: string | null, version: number): FinalRead => ({ node, key: 'k', value, version });

  t.equal(
    checkHistory(withFinalReads(history, [read('n1', 'v2', 5)])).verdict,
    'ok',
    'the last acknowledged write survived',
  );
  const lost = checkHistory(withFinalReads(history, [read('n1', 'v1', 3)]));
  t.equal(lost.verdict, 'violation', 'an acknowledged write was lost');
  t.match(lost.report, /read version 3 but the key holds "v2" at version 5/);
  t.equal(
    checkHistory(withFinalReads(history, [read('n1', 'v3', 7)])).verdict,
    'violation',
    'a write reported failed took effect',
  );

  t.same(checkConvergence([read('n1', 'v2', 5), read('n2', 'v2', 5)]), {
    converged: true,
    report: 'convergence: ok (1 keys on 2 nodes)',
  });
  const split = checkConvergence([
    read('n1', 'v2', 5),
    read('n2', 'v1', 3),
    { node: 'n3', key: 'other', value: null, version: 0 },
  ]);
  t.equal(split.converged, false);
  t.equal(
    split.report,
    'convergence: 2 of 2 keys differ between nodes\n  k: n1="v2"@5 n2="v1"@3 (no read from n3)\n  other: n3=null@0 (no read from n1 n2)',
  );
});
