// Keeps every benchmark script working: each runs in its short mode (or as is, when it is already
// short) and must exit 0 and print its figures. The figures themselves are not asserted on: a test
// never judges timing; the scripts print numbers for people to compare within one run.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface BenchCase {
  readonly script: string;
  readonly args: readonly string[];
  /** Lines the output must contain: the table's rows, so a bench that prints nothing fails. */
  readonly expect: readonly RegExp[];
}

const cases: readonly BenchCase[] = [
  { script: 'bench/raft.ts', args: ['--short'], expect: [/entries\/CPU-s/, /^\s+3 \|/m, /^\s+5 \|/m] },
  { script: 'bench/sim.ts', args: ['--short'], expect: [/sim s per CPU s/, /^\s+5 \|/m] },
  {
    script: 'bench/statemachine.ts',
    args: ['--short'],
    expect: [/memory per held lock/, /snapshot encode/, /background: longest event-loop stall/],
  },
  { script: 'bench/storage.ts', args: ['--short'], expect: [/group commit at 512 proposers/, /recover/] },
  { script: 'bench/transport.ts', args: [], expect: [/decode\+validate/, /loopback TCP/] },
  { script: 'bench/physical.ts', args: [], expect: [/synced 64-byte writes/, /loopback TCP round trips/] },
  {
    script: 'bench/client.ts',
    args: ['--short'],
    expect: [/lock\+release, 1 client/, /kv put, 16 client/, /lock\+release, 16 workers on 1 client\s+\d+ ops\/s/],
  },
  {
    script: 'bench/dashboard.ts',
    args: ['--short'],
    expect: [/load 2: ready at \d+ ms/, /first load to complete render: median \d+ ms over 2 loads/],
  },
  {
    script: 'bench/cluster.ts',
    args: ['--short'],
    expect: [
      /256 clients on distinct locks/,
      /handoffs.*CPU µs per operation \[main thread\]: n\d \d+ \[\d+\], n\d \d+ \[\d+\], n\d \d+ \[\d+\], client \d+ \[\d+\]/,
      /leader SIGKILL/,
    ],
  },
];

for (const c of cases) {
  t.test(`${c.script} ${c.args.join(' ')} runs and prints its figures`, async (t) => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', c.script, ...c.args], {
      cwd: root,
      encoding: 'utf8',
      timeout: 240_000,
      killSignal: 'SIGKILL',
    });
    t.equal(run.status, 0, `exit code (stderr: ${run.stderr.slice(-2000)})`);
    for (const pattern of c.expect) t.match(run.stdout, pattern, `prints ${pattern}`);
    t.notMatch(run.stdout, /\bNaN\b/, 'no NaN figures');
  });
}
