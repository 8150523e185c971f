// On real node processes: a holder learns that its hold ended before anyone
// else is granted, for every way a hold ends other than its own release (docs/client.md, "When a
// hold ends"), and a holder paused past its lease fails its synchronous check at once on resume.
//
// Two clients read two sockets, and the kernel may hand one over before the other, so "before"
// is checked where it is defined: on one connection. The node's order is checked on one raw
// connection that acts as both the holder and the next holder; the client library's reaction is
// checked by a holder that watches its own lock: the next holder's grant event reaches it on its
// own connection, after the push that ended its hold, so its hold must be over by then.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { RaftlockClient } from '../../src/client/index.js';
import { connect } from '../../src/client/index.js';
import type { Lock } from '../../src/client/lock.js';
import type { ConnectOptions } from '../../src/client/options.js';
import { nodeId } from '../../src/raft/types.js';
import type { Operation } from '../../src/statemachine/commands.js';
import type { SessionId } from '../../src/statemachine/ids.js';
import { FakeClock } from '../client/fixtures/fake-clock.js';
import type { Received } from './fixtures/plain-cluster.js';
import { clusterId, eventually, PlainCluster, RecordingClient } from './fixtures/plain-cluster.js';

const acquire = (session: number, name: string, waitMs: number, lockDelayMs = 0): Operation => ({
  type: 'acquire',
  session: session as SessionId,
  name,
  waitMs,
  lockDelayMs,
});

const isPush =
  (kind: string, test: (push: Extract<Received, { type: 'Push' }>['push']) => boolean) =>
  (frame: Received): boolean =>
    frame.type === 'Push' && frame.push.kind === kind && test(frame.push);

/** The next grant of `name` after `lock`'s, seen by the holder's own watch, and whether it still held then. */
async function heldAtNextGrant(client: RaftlockClient, lock: Lock): Promise<{ token: number; held: boolean }> {
  const stream = client.watch(lock.name, { fromIndex: lock.fencingToken });
  try {
    for await (const event of stream) {
      if (event.type === 'grant' && event.lock === lock.name && event.token > lock.fencingToken)
        return { token: event.token, held: lock.held };
    }
    throw new Error('the watch ended');
  } finally {
    await stream.return();
  }
}

async function libraryClient(
  endpoints: readonly string[],
  clientId: string,
  extra: Partial<ConnectOptions> = {},
): Promise<RaftlockClient> {
  return connect({ endpoints: [...endpoints], clusterId, clientId, tls: false, followLeader: false, ...extra });
}

const lateTimeoutMs = 20_000;

void t.test('hold endings on real node processes', async (t) => {
  const cluster = await PlainCluster.start(t, { count: 3 });
  const leader = await cluster.leader();
  const leaderEndpoint = cluster.endpoint(leader.id);
  const actor = await RecordingClient.connect(leader.clientPort, 'actor');
  const clients: RaftlockClient[] = [];
  t.teardown(() => {
    actor.close();
    for (const client of clients) client.abandon();
  });

  await t.test('the node writes every hold ending before the next grant (one connection, both roles)', async (t) => {
    const both = await RecordingClient.connect(leader.clientPort, 'both');
    t.teardown(() => both.close());
    const cases = [
      {
        name: 'order/released',
        ttlMs: 30_000,
        lockDelayMs: 0,
        end: (s: number) => actor.command('x', { type: 'release', session: s as SessionId, name: 'order/released' }),
      },
      {
        name: 'order/closed',
        ttlMs: 30_000,
        lockDelayMs: 0,
        end: (s: number) => actor.command('x', { type: 'closeSession', session: s as SessionId }),
      },
      { name: 'order/expired', ttlMs: 1_000, lockDelayMs: 0, end: async () => undefined },
      { name: 'order/lock-delay', ttlMs: 1_000, lockDelayMs: 700, end: async () => undefined },
    ];
    for (const [i, c] of cases.entries()) {
      const holder = `h${i}`;
      const waiter = `w${i}`;
      const held = await both.openSession(holder, c.ttlMs);
      const granted = await both.command(holder, acquire(held, c.name, 0, c.lockDelayMs));
      if (granted.code !== 'OK' || granted.value.kind !== 'granted') throw new Error(JSON.stringify(granted));
      const token = granted.value.token;
      const waits = await both.openSession(waiter, 60_000);
      const queued = await both.command(waiter, acquire(waits, c.name, 30_000));
      t.match(queued, { code: 'OK', value: { kind: 'queued' } }, `${c.name}: the next holder waits`);
      await c.end(held);
      const grant = isPush('granted', (p) => p.kind === 'granted' && p.name === c.name && p.clientId === waiter);
      await eventually(
        async () => (both.indexOf(grant) >= 0 ? true : undefined),
        lateTimeoutMs,
        `the grant of ${c.name}`,
      );
      const ended = isPush(c.ttlMs === 1_000 ? 'sessionExpired' : 'revoked', (p) =>
        p.kind === 'sessionExpired'
          ? p.session === held
          : p.kind === 'revoked' && p.name === c.name && p.token === token,
      );
      const endedAt = both.indexOf(ended);
      t.ok(
        endedAt >= 0 && endedAt < both.indexOf(grant),
        `${c.name}: the holder's push (frame ${endedAt}) came before the grant (frame ${both.indexOf(grant)})`,
      );
    }
    const reasons = both.received.flatMap((f) =>
      f.type === 'Push' && f.push.kind === 'revoked' ? [`${f.push.name}:${f.push.reason}:${String(f.push.by)}`] : [],
    );
    t.same(
      reasons,
      ['order/released:released:null', 'order/closed:session-closed:null'],
      'insecure mode: by null, with the reason',
    );
  });

  const endings: {
    readonly what: string;
    readonly holder?: Partial<ConnectOptions>;
    readonly lockDelayMs?: number;
    readonly end: (lock: Lock) => Promise<unknown>;
    readonly reason: RegExp;
  }[] = [
    {
      what: 'released by another client',
      end: (lock) => actor.command('x', { type: 'release', session: lock.session, name: lock.name }),
      reason: /NOT_HOLDER: another client released/,
    },
    {
      what: 'its session closed by another client',
      end: (lock) => actor.command('x', { type: 'closeSession', session: lock.session }),
      reason: /SESSION_EXPIRED: .*another client closed it/,
    },
    {
      // A frozen client clock: no keepalive goes out and the lease never lapses on the client's
      // side, so only the cluster's expiry (pushed) can end the hold.
      what: 'its session expired',
      holder: { clock: new FakeClock(), ttlMs: 1_500 },
      end: async () => undefined,
      reason: /SESSION_EXPIRED: .*the cluster reports it expired/,
    },
    {
      what: 'its session expired, with a lock-delay',
      holder: { clock: new FakeClock(), ttlMs: 1_500 },
      lockDelayMs: 1_000,
      end: async () => undefined,
      reason: /SESSION_EXPIRED: .*the cluster reports it expired/,
    },
  ];
  for (const [i, ending] of endings.entries()) {
    await t.test(`the client library: ${ending.what}`, async (t) => {
      const name = `lib/${i}`;
      const holder = await libraryClient([leaderEndpoint], `lib-holder-${i}`, ending.holder ?? {});
      const next = await libraryClient([leaderEndpoint], `lib-next-${i}`);
      clients.push(holder, next);
      const lock = await holder.lock(name, { lockDelayMs: ending.lockDelayMs ?? 0 });
      const seen = heldAtNextGrant(holder, lock);
      const nextLock = next.lock(name, { waitMs: 30_000 });
      await eventually(
        async () => ((await next.locks(name))[0]?.waiters.length === 1 ? true : undefined),
        lateTimeoutMs,
        'the next holder to queue',
      );
      await ending.end(lock);
      const granted = await nextLock;
      t.same(
        await seen,
        { token: granted.fencingToken, held: false },
        'the hold was over when the next grant reached the holder',
      );
      t.match(String(lock.signal.reason), ending.reason);
      t.throws(() => lock.check(), ending.reason);
      await granted.release();
    });
  }

  await t.test('the client library: its node caught up from a snapshot past the hold’s end', async (t) => {
    const follower = cluster.nodes.find((n) => n.id !== leader.id);
    if (follower === undefined) throw new Error('no follower');
    // Long TTL and attempt timeout: the holder stays on its stopped node and keeps its session.
    const holder = await libraryClient([cluster.endpoint(follower.id)], 'restore-holder', {
      ttlMs: 60_000,
      attemptTimeoutMs: 60_000,
    });
    clients.push(holder);
    const lock = await holder.lock('restore/L');
    await eventually(
      async () => (((await cluster.status(follower.id))?.applied ?? 0) >= lock.fencingToken ? true : undefined),
      lateTimeoutMs,
      'the follower to apply the grant',
    );
    cluster.signal(follower.id, 'SIGSTOP');
    try {
      // First fill the leader's window of appends in flight to the stopped node (64), so the
      // release below is never sent to it and it can only learn of it from a snapshot.
      const writer = await actor.openSession('filler', 60_000);
      let written = 0;
      for (let i = 0; i < 200; i++) {
        const put: Operation = {
          type: 'put',
          session: writer as SessionId,
          key: 'restore/filler',
          value: new Uint8Array([i]),
          ifVersion: null,
          ephemeral: false,
          fence: null,
        };
        if ((await actor.command('filler', put)).code === 'OK') written += 1;
      }
      t.equal(written, 200, 'the window to the stopped node is full');
      t.match(await actor.command('x', { type: 'release', session: lock.session, name: 'restore/L' }), { code: 'OK' });
      const taken = await actor.openSession('taker', 60_000);
      t.match(await actor.command('taker', acquire(taken, 'restore/L', 0)), { code: 'OK', value: { kind: 'granted' } });
      t.match(await actor.request({ kind: 'snapshot' }), { code: 'OK' });
      await eventually(
        async () => (((await cluster.status(leader.id))?.snapshotIndex ?? 0) > lock.fencingToken ? true : undefined),
        lateTimeoutMs,
        'the leader to compact past the release',
      );
    } finally {
      cluster.signal(follower.id, 'SIGCONT');
    }
    await eventually(async () => (lock.held ? undefined : true), lateTimeoutMs, 'the holder to learn its hold ended');
    t.match(String(lock.signal.reason), /ended while the connected node caught up from a snapshot/);
    t.equal(holder.welcome?.nodeId, follower.id, 'told by its own node, which it never left');
  });

  await t.test('the client library: its node was removed from the cluster', async (t) => {
    const removed = cluster.nodes.find((n) => n.id !== leader.id && (cluster.procs.get(n.id)?.process.running ?? true));
    if (removed === undefined) throw new Error('no follower');
    const holder = await libraryClient([cluster.endpoint(removed.id), ...cluster.endpoints], 'removed-holder', {
      ttlMs: 30_000,
      backoff: { baseMs: 20, maxMs: 200 },
    });
    const next = await libraryClient([leaderEndpoint], 'removed-next');
    clients.push(holder, next);
    const lock = await holder.lock('removed/L');
    t.equal(holder.welcome?.nodeId, removed.id);
    t.match(await actor.request({ kind: 'members', action: 'remove', node: nodeId(removed.id) }), { code: 'OK' });
    await eventually(
      async () => (holder.welcome !== null && holder.welcome.nodeId !== removed.id ? true : undefined),
      lateTimeoutMs,
      'the holder to move to a member',
    );
    t.equal(lock.held, true, 'the hold survives the move');
    const seen = heldAtNextGrant(holder, lock);
    const nextLock = next.lock('removed/L', { waitMs: 30_000 });
    await eventually(
      async () => ((await next.locks('removed/L'))[0]?.waiters.length === 1 ? true : undefined),
      lateTimeoutMs,
      'the next holder to queue',
    );
    await actor.command('x', { type: 'release', session: lock.session, name: 'removed/L' });
    const granted = await nextLock;
    t.same(
      await seen,
      { token: granted.fencingToken, held: false },
      'the hold was over when the next grant reached the holder',
    );
    t.match(
      cluster.procs.get(removed.id)?.process.output() ?? '',
      /removed from the cluster: closing client connections/,
    );
    await granted.release();

    // Restarted, it still holds a configuration that leaves it out: it refuses clients, and says why.
    await cluster.procs.get(removed.id)?.process.stop(10_000);
    const restarted = await cluster.startNode(removed.id);
    t.equal(await cluster.status(removed.id), null, 'the removed node, restarted, refuses clients');
    t.match(restarted.process.output(), /not a member of the configuration it holds: it refuses clients/);
  });
});

const pausedHolder = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures', 'paused-holder.ts');

interface Resumed {
  readonly gapMs: number;
  readonly aborted: boolean;
  readonly check: string;
  readonly put: string;
}

/** Runs the paused holder, stops it for `pauseMs` once it holds the lock, and returns what its first tick after the resume saw. */
async function pauseHolder(endpoint: string, ttlMs: number, driftMax: number, pauseMs: number): Promise<Resumed> {
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), pausedHolder, endpoint, String(ttlMs), String(driftMax)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await eventually(
      async () => (output.includes('ready ') ? true : undefined),
      30_000,
      `the holder to take the lock:\n${output}`,
    );
    process.kill(child.pid ?? 0, 'SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    process.kill(child.pid ?? 0, 'SIGCONT');
    const line = await eventually(
      async () => /resumed (.*)\n/.exec(output)?.[1],
      30_000,
      `the holder's report:\n${output}`,
    );
    await exited;
    return JSON.parse(line) as Resumed;
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

void t.test('a holder paused past its lease: the synchronous check fails at once on resume', async (t) => {
  const cluster = await PlainCluster.start(t, { count: 3 });
  const leader = await cluster.leader();
  const endpoint = cluster.endpoint(leader.id);
  const reader = await libraryClient(cluster.endpoints, 'reader');
  t.teardown(() => reader.abandon());

  await t.test('stopped past the lease but not the TTL: only the clock can tell', async (t) => {
    // TTL 4 s with driftMax 0.3: the client trusts 1.6 s after its last acknowledged keepalive;
    // a 2.8 s pause lapses that while the cluster still holds the session, so no push says so.
    const seen = await pauseHolder(endpoint, 4_000, 0.3, 2_800);
    t.comment(`first tick after the resume: ${JSON.stringify(seen)}`);
    t.equal(seen.aborted, true, 'signal.aborted read on resume is true');
    t.equal(seen.check, 'LEASE_EXPIRED', 'lock.check() throws LEASE_EXPIRED');
    t.equal(seen.put, 'LEASE_EXPIRED', 'the fenced write is not sent');
  });

  await t.test('stopped past its TTL', async (t) => {
    const seen = await pauseHolder(endpoint, 1_500, 0.01, 3_000);
    t.comment(`first tick after the resume: ${JSON.stringify(seen)}`);
    t.equal(seen.aborted, true, 'signal.aborted read on resume is true');
    // Whichever the process reads first on resume: its own clock, or the expiry pushed meanwhile.
    t.match(seen.check, /^(LEASE_EXPIRED|SESSION_EXPIRED)$/, `lock.check() fails (${seen.check})`);
    t.not(seen.put, 'sent', 'the fenced write is not sent');
  });

  const key = await reader.kv.get('paused/key');
  t.equal(
    key === null ? null : new TextDecoder().decode(key.value),
    'before the pause',
    'no write after a pause reached the store',
  );
});
