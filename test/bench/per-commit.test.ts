// The per-process line bench/commit-cost.ts and bench/commit-floor.ts both print: counters grown
// over the window, divided by the commits; CPU in whole µs, wake-ups to a tenth; a process missing
// from either edge's sample shows a dash, never a made-up figure. No timing is asserted.
import t from 'tap';
import { cpuPerCommit, membersLine, perCommitLine } from '../../bench/per-commit.js';
import type { ProcessSample } from '../../bench/per-commit.js';

const sample = (cpu: number, mainCpu: number, wakeups: number): ProcessSample => ({
  cpu: new Map([[7, cpu]]),
  mainCpu: new Map([[7, mainCpu]]),
  wakeups: new Map([[7, wakeups]]),
});

t.test('grown over the window, per commit', async (t) => {
  const from = sample(1_000, 500, 10);
  const to = sample(1_000 + 4 * 812.4, 500 + 4 * 600, 10 + 11);
  t.equal(cpuPerCommit(from, to, 7, 4), 812);
  t.equal(
    perCommitLine('n1 (leader)', from, to, 7, 4),
    '  n1 (leader): CPU µs per commit 812 [main thread 600], main-thread wake-ups per commit 2.8',
  );
});

t.test('a process missing from a sample has no figure', async (t) => {
  const from = sample(1_000, 500, 10);
  const empty: ProcessSample = { cpu: new Map(), mainCpu: null, wakeups: new Map() };
  t.equal(cpuPerCommit(from, empty, 7, 4), null);
  t.equal(
    perCommitLine('client', from, empty, 7, 4),
    '  client: CPU µs per commit — [main thread —], main-thread wake-ups per commit —',
  );
});

t.test('the members line sums the members, or shows a dash when one has no figure', async (t) => {
  const edge = (cpu: readonly number[]): ProcessSample => ({
    cpu: new Map(cpu.map((value, i) => [i + 1, value])),
    mainCpu: null,
    wakeups: null,
  });
  const from = edge([0, 0, 0]);
  const to = edge([2 * 612, 2 * 455.6, 2 * 1_000]);
  t.equal(membersLine(from, to, [1, 2, 3], 2), '  the three members: 2068 µs per commit');
  t.equal(membersLine(from, edge([2 * 612]), [1, 2, 3], 2), '  the three members: — µs per commit');
});
