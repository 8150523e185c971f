// A client process killed (SIGKILL) while holding a mutex stops keeping its session alive; the
// cluster expires the session once its TTL has run from the last keepalive, releases the hold and
// grants the lock to the next waiter in FIFO order with a larger fencing token, and a write fenced
// with the dead holder's token is refused with STALE_TOKEN (lease-based locks with fencing tokens,
// on real `raftlock start` processes and a real client process).
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect, isRaftlockError } from '../../src/client/index.js';
import type { Lock } from '../../src/client/index.js';
import type { NodeProcess } from './fixtures/procs.js';
import {
  eventually,
  allocateLocalNodes,
  leaderNamedBy,
  pkiEnv,
  startNodeProcess,
  userTls,
  writeClusterFile,
} from './fixtures/procs.js';

const holderScript = fileURLToPath(new URL('./fixtures/crash-holder.ts', import.meta.url));
const ttlMs = 2_000;
/** The client library's default drift bound: the cluster may count a TTL up to 2 % short. */
const driftMax = 0.01;

t.test('a killed client process loses its lock to the next waiter after its TTL', async (t) => {
  const dir = t.testdir();
  const nodes = await allocateLocalNodes(3);
  const file = await writeClusterFile(dir, nodes);
  const tls = userTls(dir);
  const procs: NodeProcess[] = nodes.map((n) => startNodeProcess(file, n.id, 'warn'));
  t.teardown(() => {
    for (const p of procs) p.kill('SIGKILL');
  });
  await Promise.all(procs.map((p) => p.ready));
  await leaderNamedBy(nodes[0]!, tls);
  const endpoints = nodes.map((n) => `127.0.0.1:${n.clientPort}`);

  // The holder: a separate Node process using the client library, which finds root's
  // certificate in $RAFTLOCK_PKI (the documented place) as any program would.
  const holder = spawn(
    process.execPath,
    ['--import', 'tsx', holderScript, endpoints.join(','), 'e2e', 'job', String(ttlMs)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...pkiEnv(dir) },
    },
  );
  let holderOutput = '';
  holder.stdout.on('data', (chunk: Buffer) => (holderOutput += chunk.toString()));
  holder.stderr.on('data', (chunk: Buffer) => (holderOutput += chunk.toString()));
  const holderExited = new Promise<NodeJS.Signals | null>((resolve) =>
    holder.once('exit', (_code, signal) => resolve(signal)),
  );
  t.teardown(() => {
    if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
  });
  const deadToken = await eventually(
    async () => {
      if (holder.exitCode !== null) throw new Error(`holder exited early:\n${holderOutput}`);
      const match = /token (\d+)/.exec(holderOutput);
      return match?.[1] === undefined ? undefined : Number(match[1]);
    },
    15_000,
    'the holder process to take the lock',
  );

  // The waiter queues behind the live holder and is not granted while it keeps alive.
  const waiter = await connect({ endpoints, clusterId: 'e2e', tls });
  t.teardown(() => waiter.close());
  let grantedAtMs: number | null = null;
  const waiting = waiter.lock('job', { waitMs: 20_000 }).then((lock: Lock) => {
    grantedAtMs = Date.now();
    return lock;
  });
  waiting.catch(() => undefined);
  await eventually(
    async () => {
      const [view] = await waiter.locks('job', 1);
      return view !== undefined && view.waiters.length === 1 ? view : undefined;
    },
    10_000,
    'the waiter to be queued',
  );
  // Several keepalive periods and longer than the TTL: a live holder keeps the lock.
  await new Promise((resolve) => setTimeout(resolve, ttlMs + 500));
  t.equal(grantedAtMs, null, 'no grant while the holder process keeps its session alive');
  t.ok(await waiter.checkFence('job', deadToken), "the holder's token is current while it lives");

  holder.kill('SIGKILL');
  t.equal(await holderExited, 'SIGKILL', 'the holder process died by SIGKILL');
  const acks = [...holderOutput.matchAll(/ack (\d+)/g)].map((m) => Number(m[1]));
  const lastAckSentAtMs = acks.at(-1);
  if (lastAckSentAtMs === undefined) throw new Error(`the holder reported no keepalive:\n${holderOutput}`);

  const lock = await waiting;
  const grantedAt = grantedAtMs ?? Number.NaN;
  // The cluster counts the TTL from a log time no earlier than the keepalive's send: the grant
  // cannot come before that (less the drift bound the client library allows for).
  t.ok(
    grantedAt >= lastAckSentAtMs + ttlMs * (1 - 2 * driftMax),
    `granted ${grantedAt - lastAckSentAtMs} ms after the last acknowledged keepalive was sent (TTL ${ttlMs} ms)`,
  );
  t.ok(lock.fencingToken > deadToken, `the new token ${lock.fencingToken} exceeds the dead holder's ${deadToken}`);
  t.notOk(await waiter.checkFence('job', deadToken), "the dead holder's token is no longer current");

  const stale = await waiter.kv.put('out', 'from the dead', { fence: { lock: 'job', token: deadToken } }).then(
    () => 'accepted',
    (error: unknown) => (isRaftlockError(error) ? error.code : String(error)),
  );
  t.equal(stale, 'STALE_TOKEN', "a put fenced with the dead holder's token is refused");
  const fresh = await waiter.kv.put('out', 'from the waiter', { fence: { lock: 'job', token: lock.fencingToken } });
  t.equal(fresh.version, 1, "the new holder's fenced put is the key's only write");
  await lock.release();
});
