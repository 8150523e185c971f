// The one supervisor of node processes (src/server/node-process.ts), driven with small programs that
// behave like a node at its edges: print the ready line, stop on SIGTERM or when stdin closes, or not.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeExit, readyLinePrefix, superviseProcess } from '../../src/server/node-process.js';
import type { ProcessCommand } from '../../src/server/node-process.js';
import { until } from '../fixtures/until.js';

/** A stand-in node: `script` runs after it printed `before` lines and, unless told not to, the ready line. */
function standIn(script: string, ready = true): ProcessCommand {
  const announce = ready ? `console.log(${JSON.stringify(`${readyLinePrefix} n1 of test`)});` : '';
  return { command: process.execPath, args: ['-e', `console.error('starting'); ${announce} ${script}`] };
}

const keepAlive = 'setInterval(() => undefined, 1000);';

t.test('ready on the ready line; SIGTERM stops it gracefully and the exit is reported with its code', async (t) => {
  const lines: string[] = [];
  const proc = superviseProcess(
    'n1',
    standIn(`process.on('SIGTERM', () => { console.log('bye'); process.exit(0); }); ${keepAlive}`),
    { output: { kind: 'lines', onLine: (line) => lines.push(line), keep: true }, tether: 'kill-on-exit' },
  );
  t.teardown(() => proc.kill());
  await proc.ready;
  t.ok(proc.running, 'running once ready');
  t.ok(proc.pid !== undefined && proc.pid > 0, 'has a PID');
  const exit = await proc.stop(10_000);
  t.same(exit, { kind: 'exited', code: 0 });
  t.equal(describeExit(exit), 'exited with code 0');
  t.notOk(proc.running, 'not running once it exited');
  t.same(proc.exit, exit, 'the exit stays readable');
  t.same(
    [...lines].sort(),
    ['bye', 'raftlock node n1 of test', 'starting'],
    'stdout and stderr lines reach the callback',
  );
  t.match(proc.output(), /raftlock node n1 of test\n/, 'the kept output');
});

t.test('a node that ignores SIGTERM is SIGKILLed after the grace period, and the signal is named', async (t) => {
  const proc = superviseProcess('n1', standIn(`process.on('SIGTERM', () => undefined); ${keepAlive}`), {
    output: { kind: 'lines' },
    tether: 'kill-on-exit',
  });
  t.teardown(() => proc.kill());
  await proc.ready;
  const exit = await proc.stop(200);
  t.same(exit, { kind: 'killed', signal: 'SIGKILL' });
  t.equal(describeExit(exit), 'killed by SIGKILL');
  proc.signal('SIGTERM');
  t.pass('signalling an ended process is a no-op');
});

t.test(
  'a node that ends before its ready line refuses readiness, saying how it ended and what it printed',
  async (t) => {
    const proc = superviseProcess('n2', standIn(`console.error('bad config'); process.exit(3);`, false), {
      output: { kind: 'lines', keep: true },
      tether: 'kill-on-exit',
    });
    await t.rejects(proc.ready, { message: 'n2 exited with code 3 before it was ready:\nstarting\nbad config\n' });
    t.same(await proc.exited, { kind: 'exited', code: 3 });
  },
);

t.test('a program that cannot start is reported as failed, not as an exit', async (t) => {
  const proc = superviseProcess(
    'n3',
    { command: '/nonexistent/raftlock', args: [] },
    { output: { kind: 'lines' }, tether: 'kill-on-exit' },
  );
  const exit = await proc.exited;
  t.equal(exit.kind, 'failed');
  t.match(describeExit(exit), /^failed to start: spawn \/nonexistent\/raftlock ENOENT/);
  await t.rejects(proc.ready, /n3 failed to start/);
});

t.test('a stdin-tethered node stops when its lifeline closes', async (t) => {
  const proc = superviseProcess(
    'n1',
    standIn(`process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`),
    { output: { kind: 'lines' }, tether: 'stdin' },
  );
  t.teardown(() => proc.kill());
  await proc.ready;
  proc.closeLifeline();
  t.same(await proc.exited, { kind: 'exited', code: 0 });
});

t.test('file output is appended by the process itself; SIGSTOP/SIGCONT and kill by PID', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'n1.log');
  const run = (): ReturnType<typeof superviseProcess> =>
    superviseProcess('n1', standIn(keepAlive), { output: { kind: 'file', path }, tether: 'kill-on-exit' });
  const first = run();
  t.teardown(() => first.kill());
  await until(() => readFileSync(path, 'utf8').includes(readyLinePrefix), 'the first run is ready');
  first.signal('SIGSTOP');
  const pid = first.pid ?? -1;
  await until(() => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] === 'T', 'the process is stopped');
  t.same(await first.kill(), { kind: 'killed', signal: 'SIGKILL' }, 'a stopped process dies of SIGKILL');
  const second = run();
  t.teardown(() => second.kill());
  await until(() => readFileSync(path, 'utf8').split(readyLinePrefix).length === 3, 'the second run is ready');
  t.not(second.pid, pid, 'a new run is a new process');
  await second.kill();
});
