// The linearizability checker (Herlihy & Wing's condition, searched as Wing & Gong / Porcupine do)
// stays conclusive on long histories full of unknown outcomes, without losing strength. First, each
// reduction of the search on its own: an unknown operation that changes nothing is never needed,
// nothing a session does changes the state after its session ended, an unknown grant that no later
// release of its owner needs is dropped (but kept when one does). Then long seeded histories of a
// simulated lock service with sessions, fencing tokens, lost messages and outages (a fifth or more
// of the outcomes unknown): always "ok" when recorded faithfully, always "violation" with one
// planted fault (a token going back, a second holder), never "unknown".
import t from 'tap';
import { checkLinearizable, formatCheck } from '../../src/chaos/linearizability/checker.js';
import type { Operation } from '../../src/chaos/linearizability/model.js';
import { mutexModel } from '../../src/chaos/linearizability/models/mutex.js';
import type { MutexInput, MutexOutput } from '../../src/chaos/linearizability/models/mutex.js';
import { pickWith, simulateMutex } from './fixtures/mutex-sim.js';
import type { MutexOp, MutexSimOptions } from './fixtures/mutex-sim.js';
import { mutexOps, operationMaker } from './fixtures/hand-ops.js';

const { acq, rel, end } = mutexOps(operationMaker('h'));

const verdict = (ops: readonly Operation<MutexInput, MutexOutput>[]): string =>
  checkLinearizable(mutexModel, ops).verdict;

t.test('each reduction keeps the verdict of the plain search', async (t) => {
  // Sixty sessions whose ends are unknown and change nothing, then a token that goes back: the
  // violation is still found (idle unknown operations are never tried, so they cost nothing).
  const idle = Array.from({ length: 60 }, (_, i) => end(`idle${i}`, i, undefined));
  const back = [acq('a', 500, 100, 101), rel('a', 500, true, 102, 103), acq('b', 400, 104, 105)];
  const result = checkLinearizable(mutexModel, [...idle, ...back]);
  t.equal(result.verdict, 'violation', formatCheck(mutexModel, result));
  t.ok((result.partitions[0]?.steps ?? Infinity) < 1_000, 'a few steps, not one per subset of idle ends');
  // A session that ended (acknowledged) grants nothing afterwards: its release cannot be explained
  // by its own later acquire of unknown outcome...
  t.equal(verdict([end('a', 0, 1), acq('a', undefined, 2, 0), rel('a', 5, true, 3, 4)]), 'violation');
  // ...but a refusal after the end is fine (it changes nothing), and so is an end still unknown.
  t.equal(verdict([acq('a', 3, 0, 1), end('a', 2, 3), rel('a', 3, false, 4, 5)]), 'ok');
  t.equal(verdict([end('a', 0, undefined), acq('a', undefined, 2, 0), rel('a', 5, true, 3, 4)]), 'ok');
  // An unknown grant is kept when its owner later releases successfully: it is the only
  // explanation of that release.
  t.equal(verdict([acq('a', undefined, 0, 0), rel('a', 7, true, 2, 3)]), 'ok');
  t.equal(verdict([acq('a', undefined, 0, 0), acq('b', 9, 1, 2), rel('a', 7, true, 3, 4)]), 'violation');
  // An unknown grant whose owner never releases afterwards is dropped, and changes no verdict:
  // b's grant is fine with or without it, c's second holder is wrong with or without it.
  t.equal(verdict([acq('a', 2, 0, 1), rel('a', 2, true, 2, 3), acq('a', undefined, 4, 0), acq('b', 9, 5, 6)]), 'ok');
  t.equal(verdict([acq('a', undefined, 0, 0), acq('b', 9, 1, 2), acq('c', 10, 3, 4)]), 'violation');
});

const sims: readonly MutexSimOptions[] = [
  { seed: 1, processes: 8, rounds: 300, lossRate: 0.02, expiryRate: 0.03, outages: 4 },
  { seed: 2, processes: 10, rounds: 400, lossRate: 0.05, expiryRate: 0.03, outages: 10 },
  { seed: 3, processes: 16, rounds: 250, lossRate: 0.03, expiryRate: 0.05, outages: 8 },
];

// Proving a violation means exhausting every alternative before it, which costs more than finding
// a linearization: the rejected histories are the shorter ones (about 5,000 operations, 4–20 %
// unknown).
const badSims: readonly MutexSimOptions[] = [
  { seed: 1, processes: 8, rounds: 300, lossRate: 0.02, expiryRate: 0.03, outages: 4 },
  { seed: 4, processes: 8, rounds: 300, lossRate: 0, expiryRate: 0.03, outages: 8 },
  { seed: 3, processes: 8, rounds: 300, lossRate: 0.02, expiryRate: 0.03, outages: 4 },
];

const unknownShare = (ops: readonly MutexOp[]): number =>
  ops.filter((o) => o.returnUs === Infinity).length / ops.length;

t.test('long histories with many unknown outcomes, recorded faithfully, are linearizable', async (t) => {
  for (const options of sims) {
    const ops = simulateMutex(options);
    t.ok(ops.length >= 4_000, `seed ${options.seed}: ${ops.length} operations`);
    t.ok(unknownShare(ops) >= 0.15, `seed ${options.seed}: ${(100 * unknownShare(ops)).toFixed(0)}% unknown`);
    const result = checkLinearizable(mutexModel, ops);
    t.equal(result.verdict, 'ok', `seed ${options.seed}: ${formatCheck(mutexModel, result)}`);
  }
});

t.test('such histories with a token going back are rejected, conclusively', async (t) => {
  for (const options of badSims) {
    const ops = simulateMutex(options);
    const grants = ops.filter((o) => o.input.type === 'acquire' && o.output?.type === 'acquire');
    // A grant in the last third, and an earlier grant that returned before it was called: the
    // later grant must carry the larger token; plant the earlier one's token instead.
    const byReturn = [...grants].sort((a, b) => a.returnUs - b.returnUs);
    const late = byReturn.slice(Math.floor((2 * byReturn.length) / 3));
    const victim = pickWith(options.seed, late);
    const before = victim === undefined ? undefined : byReturn.filter((g) => g.returnUs < victim.callUs).at(-1);
    if (victim === undefined || before === undefined || before.output?.type !== 'acquire') {
      t.fail(`seed ${options.seed}: no pair of grants to corrupt`);
      continue;
    }
    const planted = ops.map((o) =>
      o === victim
        ? {
            ...o,
            id: 'planted',
            output: { type: 'acquire' as const, token: before.output?.type === 'acquire' ? before.output.token : 0 },
          }
        : o,
    );
    const result = checkLinearizable(mutexModel, planted);
    t.equal(result.verdict, 'violation', `seed ${options.seed}: ${formatCheck(mutexModel, result).slice(0, 2_000)}`);
  }
});

t.test('such histories with a second holder planted are rejected, conclusively', async (t) => {
  for (const options of badSims) {
    const ops = simulateMutex(options);
    // A hold proven by its own release: an acknowledged grant, then the same owner's acknowledged
    // successful release. A stranger granted strictly inside that window is a second holder.
    const releases = new Map<string, MutexOp>();
    for (const o of ops)
      if (o.input.type === 'release' && o.output?.type === 'release' && o.output.released)
        releases.set(`${o.input.owner}:${o.input.token}`, o);
    const holds = ops.flatMap((o) => {
      if (o.input.type !== 'acquire' || o.output?.type !== 'acquire') return [];
      const r = releases.get(`${o.input.owner}:${o.output.token}`);
      return r !== undefined && r.callUs - o.returnUs >= 3 ? [{ grant: o, token: o.output.token, release: r }] : [];
    });
    const hold = pickWith(options.seed, holds.slice(Math.floor(holds.length / 2)));
    if (hold === undefined) {
      t.fail(`seed ${options.seed}: no hold to intrude on`);
      continue;
    }
    const stranger: MutexOp = {
      ...acq('stranger', hold.token + 1, hold.grant.returnUs + 1, hold.release.callUs - 1),
      id: 'planted',
    };
    const result = checkLinearizable(mutexModel, [...ops, stranger]);
    t.equal(result.verdict, 'violation', `seed ${options.seed}: ${formatCheck(mutexModel, result).slice(0, 2_000)}`);
  }
});
