// Proves the chaos run end to end in short mode: 5 real node processes behind the proxy mesh,
// in-process client workers recording a history, a seeded nemesis (kills, SIGSTOP past the session
// TTL, partitions, slow links, leadership transfers, membership changes), then convergence after
// healing and every linearizability model (mutex with fencing tokens, semaphore, versioned keys
// with the final reads appended, fenced resource) must pass. Safety under these faults is the Raft
// dissertation's §3.6 (log matching, leader completeness) carried up to the lock service; the
// fencing-token check is the lease hazard of §6.4 (a paused holder must not win with a stale token).
// The cluster runs secure (TLS through the proxies, authenticated non-admin workload users).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { packageRoot } from '../../src/server/cli-command.js';
import { defaultLockCount, usedDirProblem } from '../../src/chaos/run.js';
import { checkDuration } from '../../src/cli/duration-flag.js';

t.test('durations: minutes, seconds, milliseconds; a bare number is refused', (t) => {
  t.same(checkDuration('10m'), { ok: true, value: 600_000 });
  t.same(checkDuration('90s'), { ok: true, value: 90_000 });
  t.same(checkDuration('1500ms'), { ok: true, value: 1500 });
  t.match(checkDuration('60'), { ok: false, error: /has no unit: add one/ });
  t.match(checkDuration('ten'), { ok: false });
  // Two mutex names per started minute, at least two: short partitions for the checker.
  t.equal(defaultLockCount(60_000), 2);
  t.equal(defaultLockCount(90_000), 3);
  t.equal(defaultLockCount(600_000), 20);
  t.end();
});

// A previous run's history, data and logs in --dir would mix into the new run's: the history
// check then fails after the whole run with "two invoke events", so a used directory is refused
// before anything starts, and its files are left as they were.
t.test('a --dir that holds files is refused at once; a missing or empty one is used', async (t) => {
  const base = t.testdir({ used: { history: { 'w0.jsonl': 'earlier run\n' } }, empty: {}, file: 'not a directory' });
  t.equal(usedDirProblem(join(base, 'missing')), null, 'a missing directory is created by the run');
  t.equal(usedDirProblem(join(base, 'empty')), null, 'an empty directory is used');
  t.match(usedDirProblem(join(base, 'used')), /--dir .*used is not empty \(history\)/);
  t.match(usedDirProblem(join(base, 'file')), /cannot use --dir .*file/);

  const root = packageRoot();
  const args = [
    '--import',
    import.meta.resolve('tsx'),
    join(root, 'src', 'chaos', 'run.ts'),
    '--duration',
    '60s',
    '--dir',
    join(base, 'used'),
  ];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  t.equal(code, 64, 'a usage error, before any node starts');
  t.match(stderr, /is not empty \(history\)\. A run writes its history, node data and logs there/);
  t.same(readdirSync(join(base, 'used')), ['history'], 'nothing was added');
  t.equal(readFileSync(join(base, 'used', 'history', 'w0.jsonl'), 'utf8'), 'earlier run\n', 'nothing was changed');
});

t.test('chaos --duration 60s: healed cluster converges and every model linearizes', async (t) => {
  const root = packageRoot();
  const tsx = import.meta.resolve('tsx');
  // A failing run keeps its directory (history, node logs) for the failure message's commands.
  const dir = mkdtempSync(join(tmpdir(), 'raftlock-chaos-test-'));
  const args = [
    '--import',
    tsx,
    join(root, 'src', 'chaos', 'run.ts'),
    '--duration',
    '60s',
    '--seed',
    '7',
    '--workers',
    '6',
    '--dir',
    dir,
  ];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 280_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  t.equal(code, 0, `the run passes\n${output}`);
  t.match(output, /nemesis schedule seed=7/, 'the schedule is printed with its seed');
  t.match(output, /convergence: ok/, 'every node holds the same keys after healing');
  for (const model of ['mutex', 'semaphore', 'versioned keys', 'fenced resource'])
    t.match(output, `${model}: ok`, `${model} history linearizes`);
  const ops = /history: (\d+) operations \((\d+) ok/.exec(output);
  t.ok(ops !== null && Number(ops[2]) > 0, 'the workload completed operations under the nemesis');
  t.match(output, /verdict: ok \(seed=7\)/);
  // The workers' versioned-key operations shared one client, several in flight at once.
  const lanes = /versioned-key operations: one shared client, (\d+) lanes opened/.exec(output);
  t.ok(
    lanes !== null && Number(lanes[1]) > 1,
    `the shared client's lanes carried several commands at once (${lanes?.[1] ?? 'none'} lanes)`,
  );
  // The chaos cluster's own configuration is sound: no node warned about its cluster file.
  const logs = readdirSync(join(dir, 'logs')).map((name) => readFileSync(join(dir, 'logs', name), 'utf8'));
  t.equal(logs.length, 5, 'one log per node');
  t.same(
    logs.flatMap((log) => log.split('\n').filter((line) => line.includes('warning:'))),
    [],
    'no configuration warnings',
  );
  // Secure, as a real deployment: every node ran with its certificate, none insecure, and the
  // workload acted as ordinary users, not as root.
  for (const log of logs)
    t.match(log, /loaded TLS material certificate="node n\d/, 'a node started with its node certificate');
  t.same(
    logs.filter((log) => log.includes('running insecure')),
    [],
    'no node ran insecure',
  );
  t.match(
    output,
    /workload principals: lock workers as user worker \(certificate\), versioned keys as user kv \(password\); neither an admin/,
  );
  if (code === 0) rmSync(dir, { recursive: true, force: true });
});
