// The profile reader behind `npm run bench:commit --profile` charges the right time to the right
// place: a sample's delta goes to the function sampled, only samples inside the window count, idle
// is not busy, functions are grouped by where their code lives, and a file that is not a profile
// is refused by name. Then a real profile: this process profiles a loop of its own through the
// same hook the benchmark loads into the nodes, and the loop's file is where the time went.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { asCpuProfile, breakdown, categoryOf, formatBreakdown } from '../../bench/cpu-profile.js';
import type { CpuProfile } from '../../bench/cpu-profile.js';

t.test('functions are grouped by where their code lives', async (t) => {
  t.equal(categoryOf('(idle)', ''), 'idle');
  t.equal(categoryOf('(garbage collector)', ''), 'garbage collection');
  t.equal(categoryOf('(program)', ''), 'V8 and native (program)');
  t.equal(categoryOf('writev', ''), 'native writev', 'a native function keeps its name');
  t.equal(categoryOf('step', 'file:///repo/src/raft/node.ts'), 'src/raft');
  t.equal(categoryOf('step', 'file:///repo/dist/src/raft/node.js'), 'src/raft', 'the compiled build too');
  t.equal(categoryOf('pack', 'file:///repo/node_modules/msgpackr/pack.js'), 'package msgpackr');
  t.equal(categoryOf('x', 'file:///repo/node_modules/@peculiar/x509/build/x.js'), 'package @peculiar/x509');
  t.equal(categoryOf('onwrite', 'node:internal/streams/writable'), 'Node.js sockets and streams');
  t.equal(categoryOf('TLSSocket', 'node:_tls_wrap'), 'Node.js tls');
  t.equal(categoryOf('onStreamRead', 'node:internal/stream_base_commons'), 'Node.js sockets and streams');
  t.equal(categoryOf('Socket', 'node:net'), 'Node.js sockets and streams');
  t.equal(categoryOf('listOnTimeout', 'node:internal/timers'), 'Node.js timers and ticks');
  t.equal(categoryOf('processTicksAndRejections', 'node:internal/process/task_queues'), 'Node.js timers and ticks');
  t.equal(categoryOf('x', 'node:internal/url'), 'Node.js other');
});

/** Three functions; samples at 100, 300, 600, 1000 and 1500 µs after a start of 1000. */
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: { functionName: '(idle)', url: '' } },
    { id: 2, callFrame: { functionName: 'step', url: 'file:///r/src/raft/node.ts' } },
    { id: 3, callFrame: { functionName: 'writev', url: '' } },
  ],
  startTime: 1000,
  samples: [2, 3, 1, 2, 3],
  timeDeltas: [100, 200, 300, 400, 500],
};

t.test('a sample is charged its delta, inside the window only, and idle is not busy', async (t) => {
  const all = breakdown(profile, 0, 10_000);
  t.equal(all.busyMicros, 100 + 200 + 400 + 500);
  t.same(
    [...all.byCategory],
    [
      ['src/raft', 500],
      ['native writev', 700],
    ],
  );
  // The window [1300, 2000) holds the samples at 1300 (writev, 200), 1600 (idle) and 2000 is out.
  const part = breakdown(profile, 1300, 2000);
  t.equal(part.busyMicros, 200);
  t.same([...part.byCategory], [['native writev', 200]]);
  t.equal(breakdown(profile, 5000, 6000).busyMicros, 0, 'a window with no samples is empty');
});

t.test('the summary is per operation, largest first, with the small ones summed', async (t) => {
  t.equal(formatBreakdown(breakdown(profile, 0, 10_000), 10), '120 µs busy per op: native writev 70.0, src/raft 50.0');
  t.equal(
    formatBreakdown(breakdown(profile, 0, 10_000), 10, 0.45),
    '120 µs busy per op: native writev 70.0, the rest 50.0',
  );
});

t.test('a file that is not a profile is refused, naming it', async (t) => {
  t.throws(() => asCpuProfile({ nodes: [] }, 'x.cpuprofile'), /x\.cpuprofile is not a V8 CPU profile/);
  t.throws(() => asCpuProfile(null, 'y'), /y is not a V8 CPU profile/);
  t.throws(
    () => asCpuProfile({ nodes: [], samples: [1], timeDeltas: [], startTime: 0 }, 'z'),
    /z is not a V8 CPU profile/,
    'samples and deltas of different lengths',
  );
});

t.test('the hook writes a profile on exit in which a busy loop is found', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'raftlock-cpuprof-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const hook = fileURLToPath(new URL('../../bench/cpu-profile-hook.mjs', import.meta.url));
  const started = Number(process.hrtime.bigint() / 1000n);
  const child = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const until = Date.now() + 300; let x = 0; while (Date.now() < until) x += Math.sqrt(x + 1); process.exit(x > 0 ? 0 : 1);`,
    ],
    { env: { ...process.env, NODE_OPTIONS: `--import=${hook}`, RAFTLOCK_CPU_PROFILE_DIR: dir }, encoding: 'utf8' },
  );
  const ended = Number(process.hrtime.bigint() / 1000n);
  t.equal(child.status, 0, child.stderr);
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  t.equal(files.length, 1, 'one profile, for the one process');
  t.match(files[0], new RegExp(`^CPU\\.${String(child.pid)}\\.cpuprofile$`), 'named by the process id');
  const read = asCpuProfile(JSON.parse(readFileSync(join(dir, files[0] ?? ''), 'utf8')) as unknown, 'the profile');
  const result = breakdown(read, started, ended);
  // The loop runs for 300 ms inside this window: the child's sample times are on this process's
  // monotonic clock, so the window finds them (a profile on another clock would show ~0 here).
  t.ok(result.busyMicros >= 150_000, `the loop is in the window (${result.busyMicros} µs busy)`);
});
