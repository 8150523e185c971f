// End to end without a cluster: chaos workers drive an in-memory, linearizable lock service
// (locks with fencing tokens, semaphores, versioned keys, fenced resources, session expiry),
// record everything through the history writer, and the checker accepts the result; the same
// workload against the service with a stale-read or double-grant bug is rejected. This is the
// path the real chaos run takes, with only the service swapped.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HistoryWriter, readHistory } from '../../src/chaos/history.js';
import { checkHistory } from '../../src/chaos/linearizability/check-history.js';
import { ChaosWorker, defaultWorkloadConfig } from '../../src/chaos/workload.js';
import { createRng } from '../../src/util/rng.js';
import { MemoryTarget } from './fixtures/memory-target.js';
import type { Bugs } from './fixtures/memory-target.js';

async function runWorkload(
  t: Test,
  seed: number,
  bugs: Bugs,
  expireSessions: boolean,
): Promise<ReturnType<typeof checkHistory> & { ops: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'raftlock-workload-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const rng = createRng(seed);
  const target = new MemoryTarget(rng.fork('target'), bugs);
  const config = { ...defaultWorkloadConfig, opTimeoutMs: 300, holdMsMax: 10 };
  const writers = [0, 1, 2, 3].map((i) => new HistoryWriter(join(dir, `w${i}.jsonl`), `w${i}`));
  const workers = writers.map((w, i) => new ChaosWorker(`w${i}`, target, w, rng.fork(`worker:${i}`), config));
  let rounds = 0;
  const stop = (): boolean => rounds >= 400;
  const expiries = (async () => {
    while (!stop()) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      rounds += 10;
      const owners = target.owners;
      if (expireSessions && owners.length > 0 && rng.chance(1, 3)) target.expire(rng.pick(owners));
    }
  })();
  await Promise.all([...workers.map((w) => w.run(stop)), expiries]);
  for (const w of writers) w.close();
  const history = readHistory(readdirSync(dir).map((f) => join(dir, f)));
  if (!history.ok) throw new Error(history.error);
  return { ...checkHistory(history.value), ops: history.value.length };
}

t.test('a linearizable service with expiring sessions passes every check', async (t) => {
  const result = await runWorkload(t, 11, {}, true);
  t.equal(result.verdict, 'ok', result.report);
  t.ok(result.ops > 100, `the workload ran (${result.ops} operations)`);
  t.match(result.report, /mutex: ok/);
  t.match(result.report, /semaphore: ok/);
  t.match(result.report, /versioned keys: ok/);
  t.match(result.report, /fenced resource: ok/);
});

t.test('stale reads and double grants are caught', async (t) => {
  const stale = await runWorkload(t, 12, { staleReads: true }, false);
  t.equal(stale.verdict, 'violation');
  t.match(stale.report, /versioned keys: violation/);
  const doubled = await runWorkload(t, 13, { doubleGrants: true }, false);
  t.equal(doubled.verdict, 'violation');
  t.match(doubled.report, /mutex: violation/);
});
