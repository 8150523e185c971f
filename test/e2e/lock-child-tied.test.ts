// `raftlock lock NAME -- CMD` ties CMD to itself: when the lock process is SIGKILLed (no handler
// of its own runs), CMD and everything CMD started (its process group) are killed at once, before
// the cluster expires the session and grants the lock to another holder. And once the session is
// lost, CMD gets SIGKILL after a grace that ends inside the lease's safety margin.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '../../src/client/index.js';
import { killGraceMs, lockDriftMax } from '../../src/cli/client-lock.js';
import { cliCommand } from '../../src/server/cli-command.js';
import { groupRunning } from './fixtures/proc-table.js';
import {
  allocateLocalNodes,
  eventually,
  leaderNamedBy,
  nodeProcesses,
  pkiEnv,
  userTls,
  writeClusterFile,
} from './fixtures/procs.js';

t.test('the SIGKILL grace after a lost session ends inside the safety margin', (t) => {
  for (const ttlMs of [1_000, 2_000, 15_000, 60_000]) {
    // The server cannot expire the session before ttl × (1 − 2 × 0.01) after the last keepalive
    // sent; the lock command gives up at ttl × (1 − 2 × lockDriftMax), and SIGKILLs a grace later.
    const lostAtMs = ttlMs * (1 - 2 * lockDriftMax);
    const serverExpiryMs = ttlMs * (1 - 2 * 0.01);
    t.ok(killGraceMs(ttlMs) > 0, `ttl ${ttlMs}: some grace`);
    t.ok(
      lostAtMs + killGraceMs(ttlMs) < serverExpiryMs,
      `ttl ${ttlMs}: SIGKILL at ${lostAtMs + killGraceMs(ttlMs)} < ${serverExpiryMs}`,
    );
  }
  t.end();
});

t.test('a SIGKILLed `raftlock lock` takes its command and the command’s group with it', async (t) => {
  const dir = t.testdir();
  const nodes = await allocateLocalNodes(1);
  const file = await writeClusterFile(dir, nodes);
  const { start } = nodeProcesses(t, file);
  await start('n1').ready;
  const tls = userTls(dir);
  await leaderNamedBy(nodes[0]!, tls);
  const endpoints = nodes.map((n) => `127.0.0.1:${n.clientPort}`);

  // CMD: a shell that records its pid (its process group, since it leads one) and beats every
  // 50 ms through a `sleep` child of its own, so a kill of CMD alone would leave the sleeps.
  const beat = join(dir, 'beat');
  const pidFile = join(dir, 'cmd.pid');
  const script = `echo $$ > ${pidFile}; i=0; while :; do i=$((i+1)); echo $i > ${beat}; sleep 0.05; done`;
  const cli = cliCommand();
  const lockArgs = [
    ...cli.args,
    'lock',
    'job',
    '--ttl',
    '2s',
    '--endpoints',
    endpoints.join(','),
    '--cluster-id',
    'e2e',
    '--',
    'sh',
    '-c',
    script,
  ];
  const locker = spawn(cli.command, lockArgs, {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...pkiEnv(dir) },
  });
  let output = '';
  locker.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  locker.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let pgid = 0;
  t.teardown(() => {
    if (locker.exitCode === null && locker.signalCode === null) locker.kill('SIGKILL');
    if (pgid > 0 && groupRunning(pgid)) process.kill(-pgid, 'SIGKILL');
  });
  pgid = await eventually(
    async () => {
      if (locker.exitCode !== null) throw new Error(`raftlock lock exited early:\n${output}`);
      if (!existsSync(pidFile) || !existsSync(beat)) return undefined;
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      return pid > 0 ? pid : undefined;
    },
    30_000,
    'the command to run under the lock',
  );
  t.ok(groupRunning(pgid), 'the command runs, in its own process group');

  const waiter = await connect({ endpoints, clusterId: 'e2e', tls });
  t.teardown(() => waiter.close());
  let grantedAtMs: number | null = null;
  const granted = waiter.lock('job', { waitMs: 20_000 }).then((lock) => {
    grantedAtMs = Date.now();
    return lock;
  });

  const killedAtMs = Date.now();
  locker.kill('SIGKILL');
  const goneAtMs = await eventually(
    async () => (groupRunning(pgid) ? undefined : Date.now()),
    5_000,
    'the command group to die',
  );
  t.ok(goneAtMs - killedAtMs < 2_000, `the command group died ${goneAtMs - killedAtMs} ms after the lock process`);
  t.equal(grantedAtMs, null, 'no one was granted the lock while the command group lived');
  const lock = await granted;
  t.ok(grantedAtMs !== null && grantedAtMs >= goneAtMs, 'the next holder was granted after the group was gone');
  const lastBeat = readFileSync(beat, 'utf8');
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(readFileSync(beat, 'utf8'), lastBeat, 'no heartbeat under the next holder');
  await lock.release();
});
