// Proves that `npm run bench -- --short` runs every workload end to end against a real 3-node
// raftlock cluster (node processes, fsync on) without crashing: the JSON output has a row for each
// workload, each with operations measured and no aborted workload; `--only` runs just the named
// workloads and refuses unknown names; `--rounds` with `--tls both` repeats them with each row
// labelled by its round and transport, and the TLS/plain ratios come from that round's rows;
// `--etcd-only` without etcd says how to install it and succeeds (the project never requires
// etcd). No timing is asserted.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { packageRoot } from '../../src/server/cli-command.js';

type Row = {
  readonly workload: string;
  readonly backend: string;
  readonly tls: boolean;
  readonly rate: number;
  readonly firstError: string | null;
  readonly serverCpuMicrosPerOp: number | null;
};

function runBench(
  args: readonly string[] = ['--short', '--json'],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const root = packageRoot();
  const tsx = import.meta.resolve('tsx');
  const child = spawn(process.execPath, ['--import', tsx, join(root, 'bench', 'bench.ts'), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

t.test('bench --short: every workload row present, operations measured, no crash', async (t) => {
  const { code, stdout, stderr } = await runBench();
  t.equal(code, 0, `bench exited 0\n${stderr}`);
  const parsed: unknown = JSON.parse(stdout);
  if (typeof parsed !== 'object' || parsed === null || !('results' in parsed) || !Array.isArray(parsed.results)) {
    t.fail('output has no results array');
    return;
  }
  const rows = parsed.results as Row[];
  const expected = [
    'uncontended (32 clients)',
    'uncontended (32 workers, 1 client)',
    'contended (16 clients, 1 lock)',
    'contended (16 workers, 1 client, 1 lock)',
    'contended (16 workers, 1 client, 1 lock, raftlock in runs)',
    'scaling (1 clients)',
    'scaling (8 clients)',
    'scaling (64 clients)',
    'queue depth (500 waiters, 1 lock)',
    'failover (SIGKILL leader, 2 rounds)',
    'memory (5,000 locks held, 500 sessions)',
  ];
  t.same(
    rows.map((r) => r.workload),
    expected,
    'one row per workload, in order',
  );
  for (const row of rows) {
    t.equal(row.backend, 'raftlock', `${row.workload}: raftlock only in --short`);
    t.equal(row.tls, false, `${row.workload}: plaintext only in --short`);
    t.ok(Number.isFinite(row.rate) && row.rate > 0, `${row.workload}: non-zero rate (${row.rate})`);
    t.notMatch(row.firstError ?? '', /^aborted/, `${row.workload}: the workload ran to its end`);
    // Every throughput row charges the nodes' CPU to its operations; failover kills a node, so has none.
    if (row.workload.startsWith('failover'))
      t.equal(row.serverCpuMicrosPerOp, null, `${row.workload}: no CPU figure across a kill`);
    else
      t.ok(
        row.serverCpuMicrosPerOp !== null && row.serverCpuMicrosPerOp > 0,
        `${row.workload}: server CPU per operation (${String(row.serverCpuMicrosPerOp)} µs)`,
      );
  }
  t.ok(
    'memory' in parsed && Array.isArray(parsed.memory) && parsed.memory.length >= 3,
    'resident memory lines are reported',
  );
});

/** For tests that check the output's shape, not its figures: the shortest windows, no warm-up. */
const shapeOnly = ['--short', '--json', '--seconds', '1', '--warmup', '0'] as const;

t.test('bench --only runs the named workloads alone and refuses unknown names', async (t) => {
  const { code, stdout, stderr } = await runBench([...shapeOnly, '--only', 'contended,failover']);
  t.equal(code, 0, `bench exited 0\n${stderr}`);
  const rows = (JSON.parse(stdout) as { results: Row[] }).results;
  t.same(
    rows.map((r) => r.workload),
    ['contended (16 clients, 1 lock)', 'failover (SIGKILL leader, 2 rounds)'],
  );
  const refused = await runBench(['--only', 'contended,bogus']);
  t.equal(refused.code, 2, 'an unknown workload is a usage error');
  t.match(refused.stderr, /unknown workload\(s\) in --only: bogus/);
});

t.test(
  'bench --rounds --tls both: TLS rows beside plaintext ones in every round, and TLS/plain ratios taken from them',
  async (t) => {
    const { code, stdout, stderr } = await runBench([
      ...shapeOnly,
      '--only',
      'uncontended',
      '--rounds',
      '2',
      '--tls',
      'both',
    ]);
    t.equal(code, 0, `bench exited 0\n${stderr}`);
    type Ratios = { comparison: string; workloads: { workload: string; ratios: number[]; median: number }[] };
    const parsed = JSON.parse(stdout) as {
      rounds: number;
      tls: string;
      results: Row[];
      memory: string[];
      roundRatios: Ratios[];
    };
    t.equal(parsed.rounds, 2);
    t.equal(parsed.tls, 'both');
    const rows = parsed.results;
    t.same(
      rows.map((r) => [r.workload, r.backend, r.tls]),
      [
        ['uncontended (32 clients), round 1', 'raftlock', false],
        ['uncontended (32 clients), round 1', 'raftlock', true],
        ['uncontended (32 clients), round 2', 'raftlock', false],
        ['uncontended (32 clients), round 2', 'raftlock', true],
      ],
      'each round has a plaintext and a TLS row, plaintext first',
    );
    for (const row of rows) {
      t.ok(Number.isFinite(row.rate) && row.rate > 0, `${row.workload} (TLS ${row.tls}): non-zero rate`);
      t.ok(
        row.serverCpuMicrosPerOp !== null && row.serverCpuMicrosPerOp > 0,
        `${row.workload} (TLS ${row.tls}): server CPU per operation`,
      );
    }
    t.ok(
      parsed.memory.some((line) => line.startsWith('round 1: raftlock (TLS)')) &&
        parsed.memory.some((line) => line.startsWith('round 2: raftlock (plain)')),
      'memory lines carry their round and transport',
    );
    const [plain1, tls1, plain2, tls2] = rows as [Row, Row, Row, Row];
    const cpu = (r: Row): number => r.serverCpuMicrosPerOp ?? NaN;
    t.same(
      parsed.roundRatios.map((c) => c.comparison),
      ['raftlock TLS/plain rate', 'raftlock TLS/plain server CPU per op'],
      "no etcd in --short: only raftlock's cost of TLS",
    );
    t.same(
      parsed.roundRatios[0]?.workloads[0]?.ratios,
      [tls1.rate / plain1.rate, tls2.rate / plain2.rate],
      "rate ratios from the same round's rows",
    );
    t.same(
      parsed.roundRatios[1]?.workloads[0]?.ratios,
      [cpu(tls1) / cpu(plain1), cpu(tls2) / cpu(plain2)],
      "CPU ratios from the same round's rows",
    );
    const refused = await runBench(['--rounds', '0']);
    t.equal(refused.code, 2, 'zero rounds is a usage error');
    const badTls = await runBench(['--tls', 'maybe']);
    t.equal(badTls.code, 2, 'an unknown --tls choice is a usage error');
    t.match(badTls.stderr, /--tls takes both, on or off, not "maybe"/);
  },
);

t.test('bench --etcd-only without etcd says how to install it and exits 0', async (t) => {
  const { code, stdout } = await runBench(['--etcd-only', '--etcd', '/nonexistent/etcd']);
  t.equal(code, 0);
  t.match(stdout, /apt-get install etcd-server/);
  t.notMatch(stdout, /lock workloads/, 'no workload ran');
});
