import t from 'tap';
import { connect } from '../../src/client/client.js';
import type { RaftlockClient } from '../../src/client/client.js';
import { RaftlockError } from '../../src/client/errors.js';
import type { Lock } from '../../src/client/lock.js';
import type { ConnectOptions } from '../../src/client/options.js';
import { nodeId } from '../../src/raft/types.js';
import { FakeClock } from './fixtures/fake-clock.js';
import type { OpenClient } from './fixtures/with-mini-cluster.js';
import { withMiniCluster } from './fixtures/with-mini-cluster.js';
import { assertFifoChain } from './fixtures/fifo-chain.js';
import { collectElectionViews } from './fixtures/election-views.js';
import { until } from '../fixtures/until.js';

const text = (bytes: Uint8Array | undefined): string => new TextDecoder().decode(bytes);

/**
 * Three clients for the tests where a holder's session runs out mid-test: `a` with a 500 ms
 * session, to take a name and be abandoned, so the name frees up when the test advances log time;
 * `b`, the client under test (`bOptions`), and `c`, a bystander that takes what frees up; b and c
 * with 60 s sessions that outlive anything the test advances.
 */
async function expiringHolderAndTwo(
  open: OpenClient,
  bOptions: Partial<ConnectOptions>,
): Promise<[RaftlockClient, RaftlockClient, RaftlockClient]> {
  const a = await open({ ttlMs: 500 });
  const b = await open({ ttlMs: 60_000, ...bOptions });
  const c = await open({ ttlMs: 60_000 });
  return [a, b, c];
}

void t.test('retries reuse the same (clientId, seq): nothing is applied twice', async (t) => {
  // Proves exactly-once across a lost answer (Raft dissertation §6.3): the connection drops after the
  // command was applied, the client re-sends the same seq, and the cluster answers from its table.
  await withMiniCluster(1, async (cluster, open) => {
    const client = await open({
      clientId: 'retry',
      backoff: { baseMs: 5, maxMs: 20 },
    });
    cluster.dropAfterApply = 1;
    const put = await client.kv.put('k', 'v1');
    t.equal(put.version, 1, 'the put was applied once');
    const puts = cluster.applied.filter((record) => record.type === 'put');
    t.equal(puts.length, 2, 'the put was sent twice');
    t.equal(puts[0]?.seq, puts[1]?.seq, 'with the same seq');
    t.equal(puts[1]?.duplicate, true);
    cluster.unavailable = 2;
    t.equal((await client.kv.put('k', 'v2')).version, 2, 'UNAVAILABLE answers are retried until a definite one');
    t.equal(text((await client.kv.get('k'))?.value), 'v2');
  });
});

void t.test('the client finds and follows the leader', async (t) => {
  // Proves leader following: a Welcome's leader hint moves the client to the leader; a dropped leader
  // connection and a NOT_LEADER answer (with the leader's address) both send it to the new leader.
  await withMiniCluster(3, async (cluster, open) => {
    const client = await open({ endpoints: [cluster.addressOf(nodeId('n2'))], backoff: { baseMs: 5, maxMs: 20 } });
    t.equal(client.welcome?.nodeId, 'n1', 'hopped from n2 to the leader n1');
    cluster.moveLeader(nodeId('n3'));
    await client.kv.put('a', '1');
    t.equal(client.welcome?.nodeId, 'n3', 'followed the leader after the old one dropped us');
    cluster.leader = nodeId('n2');
    await client.kv.put('a', '2');
    t.equal(client.welcome?.nodeId, 'n2', 'followed a NOT_LEADER hint');
    t.equal(cluster.applied.filter((r) => r.type === 'put').length, 2, 'refused attempts were not applied');
    await t.rejects(
      connect({ endpoints: cluster.endpoints, clusterId: 'another' }),
      { code: 'INVALID_ARGUMENT' },
      'a cluster id mismatch is final, not retried',
    );
  });
});

void t.test('lock, tryLock and withLock', async (t) => {
  // Proves mutual exclusion through the client API and that withLock releases whatever fn does.
  await withMiniCluster(1, async (cluster, open) => {
    const a = await open();
    const b = await open();
    const lock = await a.lock('m');
    t.ok(lock.fencingToken > 0);
    t.equal(await b.tryLock('m'), null, 'tryLock does not wait for a held lock');
    await t.rejects(b.lock('m', { waitMs: 0 }), { code: 'BUSY' });
    await lock.release();
    t.equal(lock.held, false);
    t.equal(lock.signal.aborted, true, 'a released lock signals its holder to stop');
    const seen = await b.withLock('m', (held) => held.fencingToken);
    t.ok(seen > lock.fencingToken, 'fencing tokens grow');
    await t.rejects(
      b.withLock('m', () => {
        throw new Error('boom');
      }),
      { message: 'boom' },
    );
    const again = await a.tryLock('m');
    t.ok(again !== null, 'withLock released after fn threw');
    await again?.release();
    const [first, second] = [a.lock('local'), a.lock('local')];
    const held = await first;
    let secondDone = false;
    void second.then(() => {
      secondDone = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    t.equal(secondDone, false, 'two callers in one client take turns for one name');
    await held.release();
    await (await second).release();
  });
});

void t.test('FIFO hand-off to waiters connected to different nodes', async (t) => {
  // Proves a queued acquire is granted by a Push routed to whichever node the waiter is connected to,
  // in FIFO order, with growing fencing tokens.
  await withMiniCluster(3, async (cluster, open) => {
    cluster.redirect = false;
    const [a, b, c] = await Promise.all(
      cluster.endpoints.map((endpoint) => open({ endpoints: [endpoint], followLeader: false })),
    );
    if (a === undefined || b === undefined || c === undefined) throw new Error('three clients');
    t.same([a.welcome?.nodeId, b.welcome?.nodeId, c.welcome?.nodeId], ['n1', 'n2', 'n3']);
    await assertFifoChain(t, 'q', [a, b, c], (count) =>
      until(() => cluster.machine.state.waiterCount === count, `${count} queued`),
    );
  });
});

void t.test('a grant pushed again for an earlier acquire never completes a newer wait', async (t) => {
  // A node catching up replays old entries and pushes their grants again. Such a push names the
  // same session and lock as a newer wait, but an older seq: taking its (released) token would let
  // two holders believe they hold the lock. Only the real grant may complete the wait.
  await withMiniCluster(1, async (cluster, open) => {
    const a = await open();
    const b = await open();
    const old = await a.lock('r');
    const oldSeq = cluster.applied.filter((r) => r.clientId === a.clientId && r.type === 'acquire').at(-1)?.seq ?? 0;
    await old.release();
    const held = await b.lock('r');
    const waiting = a.lock('r');
    await until(() => cluster.machine.state.waiterCount === 1, 'a queued');
    const stale = {
      kind: 'granted',
      session: old.session,
      clientId: a.clientId,
      seq: oldSeq,
      name: 'r',
      token: old.fencingToken,
    };
    for (const node of cluster.nodes)
      for (const conn of node.conns) conn.framed.writeValue({ type: 'Push', push: stale });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await held.release();
    const fresh = await waiting;
    t.ok(
      fresh.fencingToken > held.fencingToken,
      `the wait got the real grant (${fresh.fencingToken}), not the replayed ${old.fencingToken}`,
    );
    await fresh.release();
  });
});

void t.test('a holder that disappears loses the lock when its session expires', async (t) => {
  // Proves the lease: a client that closes uncleanly keeps its lock only until its session expires on
  // log time; the next waiter is then granted with a larger token (docs/statemachine.md, "Holding a lock safely").
  await withMiniCluster(2, async (cluster, open) => {
    const a = await open({ ttlMs: 500 });
    const b = await open({ ttlMs: 60_000 });
    const held = await a.lock('lease');
    const waiting = b.lock('lease', { waitMs: 120_000 });
    await until(() => cluster.machine.state.waiterCount === 1, 'b queued');
    a.abandon();
    cluster.advance(400);
    t.equal(cluster.machine.state.sessions.size, 2, 'not expired before its TTL');
    cluster.advance(200);
    const next = await waiting;
    t.ok(next.fencingToken > held.fencingToken);
    await next.release();
  });
});

void t.test('a session the cluster expires aborts the lock signal and reports sessionLost', async (t) => {
  // Proves lock.signal fires with SESSION_EXPIRED when the cluster reports the session gone, and that
  // the next call opens a fresh session.
  await withMiniCluster(1, async (cluster, open) => {
    const a = await open({ ttlMs: 60_000 });
    const lost: string[] = [];
    a.on('sessionLost', ({ error }) => lost.push(error.code));
    const lock: Lock = await a.lock('s');
    const releasedFirst: Lock = await a.lock('s2');
    await releasedFirst.release();
    cluster.advance(61_000);
    // Polled through `held`, never touching `signal` first: the state must not depend on it.
    await until(() => !lock.held, 'hold lost');
    t.equal(lock.lostReason?.code, 'SESSION_EXPIRED', 'the loss is why the hold ended');
    t.equal(lock.signal.aborted, true, 'a signal first read after the loss is already aborted');
    const reason: unknown = lock.signal.reason;
    t.ok(reason instanceof RaftlockError && reason.code === 'SESSION_EXPIRED');
    t.equal(releasedFirst.lostReason, undefined, 'a hold released before the loss was not lost');
    t.same(lost, ['SESSION_EXPIRED']);
    const again = await a.lock('s');
    t.not(again.session, lock.session, 'a new session');
    await again.release();
  });
});

void t.test('kv: versions, compare-and-set, fenced writes', async (t) => {
  // Proves conditional writes: CAS reports the current version on a mismatch, and a write fenced with a
  // token that is no longer a current grant is refused with STALE_TOKEN.
  await withMiniCluster(1, async (cluster, open) => {
    const c = await open();
    t.equal((await c.kv.put('cfg', 'one')).version, 1);
    t.same(await c.kv.cas('cfg', 7, 'two'), { ok: false, version: 1 });
    const swapped = await c.kv.cas('cfg', 1, 'two');
    t.equal(swapped.ok && swapped.version, 2);
    await t.rejects(c.kv.put('cfg', 'x', { ifVersion: 0 }), { code: 'VERSION_MISMATCH', version: 2 });
    const lock = await c.lock('fence');
    await c.kv.put('guarded', 'ok', { fence: { lock: 'fence', token: lock.fencingToken } });
    t.equal(await c.checkFence('fence', lock.fencingToken), true);
    await lock.release();
    t.equal(await c.checkFence('fence', lock.fencingToken), false);
    await t.rejects(c.kv.put('guarded', 'late', { fence: { lock: 'fence', token: lock.fencingToken } }), {
      code: 'STALE_TOKEN',
    });
    t.equal(await c.kv.delete('guarded'), true);
    t.equal(await c.kv.get('guarded'), null);
    void cluster;
  });
});

void t.test('watch resumes after a reconnection without gaps or repeats', async (t) => {
  // Proves the watch contract: events missed while disconnected are delivered after the reconnection
  // from the last index seen, each exactly once, in log order.
  await withMiniCluster(1, async (cluster, open) => {
    const watcher = await open({ backoff: { baseMs: 5, maxMs: 20 } });
    const writer = await open();
    const stream = watcher.watch('w/');
    await until(() => stream.watchId !== null, 'subscribed');
    await writer.kv.put('w/a', '1');
    await writer.kv.put('other', 'x');
    const first = await stream.next();
    t.equal(first.done !== true && first.value.type === 'put' && first.value.key, 'w/a');
    const node = cluster.nodes[0];
    for (const conn of node?.conns ?? []) if (conn.watches.size > 0) conn.framed.destroy('test drop');
    await writer.kv.put('w/b', '2');
    await writer.kv.delete('w/a');
    const keys: string[] = [];
    for (let i = 0; i < 2; i++) {
      const next = await stream.next();
      if (next.done !== true && (next.value.type === 'put' || next.value.type === 'delete'))
        keys.push(`${next.value.type}:${next.value.key}`);
    }
    t.same(keys, ['put:w/b', 'delete:w/a']);
    await stream.return();

    // A stream that has seen nothing yet resumes from the index it started at, not from "now".
    const quiet = watcher.watch('q/');
    await until(() => quiet.watchId !== null, 'subscribed');
    watcher.reconnect();
    await writer.kv.put('q/missed', 'x');
    const missed = await quiet.next();
    t.equal(missed.done !== true && missed.value.type === 'put' && missed.value.key, 'q/missed');
    await quiet.return();
  });
});

void t.test('election: campaign, observe, proclaim, resign', async (t) => {
  // Proves the election recipe: one leader at a time, candidates follow in FIFO order, observers see
  // the current leader and then every change.
  await withMiniCluster(1, async (cluster, open) => {
    const a = await open();
    const b = await open();
    const o = await open();
    const leadA = await a.election('e').campaign('alpha');
    const { views, done: observer } = collectElectionViews(o, 'e', (seen) => seen.length === 4);
    await until(() => views.length === 1, 'initial view');
    const campaignB = b.election('e').campaign('beta');
    await until(() => cluster.machine.state.waiterCount === 1, 'b campaigns');
    await leadA.proclaim('alpha2');
    await until(() => views.length === 2, 'proclaim seen');
    await leadA.resign();
    const leadB = await campaignB;
    await observer;
    t.same(views, ['alpha', 'alpha2', 'none', 'beta']);
    t.ok(leadB.token > leadA.token);
    t.same(text((await o.election('e').leader())?.value), 'beta');
    await leadB.resign();
  });
});

void t.test('a queued acquire whose answer is lost is retried under its seq and still granted', async (t) => {
  // Proves exactly-once for waits (docs/statemachine.md, "Exactly once"): the retried seq is answered "queued" from the table, not
  // enqueued twice, and the grant arrives by push when the holder releases.
  await withMiniCluster(1, async (cluster, open) => {
    const a = await open();
    const b = await open({ clientId: 'waiter', backoff: { baseMs: 5, maxMs: 20 } });
    const held = await a.lock('q2');
    cluster.dropAfterApply = 1;
    const waiting = b.lock('q2');
    await until(() => cluster.applied.some((r) => r.clientId === 'waiter' && r.duplicate), 'retried');
    const tries = cluster.applied.filter((r) => r.clientId === 'waiter' && r.type === 'acquire');
    t.equal(tries[0]?.seq, tries[1]?.seq, 'the retry carries the same seq');
    t.equal(tries[1]?.duplicate, true, 'and is answered from the table');
    t.equal(
      cluster.machine.state.waiterCount,
      1,
      'queued once: the retry is answered from the table, nothing else is sent',
    );
    await held.release();
    const granted = await waiting;
    t.ok(granted.fencingToken > held.fencingToken);
    await granted.release();
  });
});

void t.test('a try-acquire whose answer is lost takes nothing more than its own answer says', async (t) => {
  // Proves a reconnection during a try-acquire sends no second acquire: the re-sent seq is answered from
  // the exactly-once table (Raft dissertation §6.3), and no new request may take a permit that frees up
  // meanwhile, or the session would hold a permit its caller was told it did not get (a chaos run's
  // semaphore history showed exactly that: a refused try-acquire, then a holder nobody knew of).
  await withMiniCluster(1, async (cluster, open) => {
    const [a, b, c] = await expiringHolderAndTwo(open, {
      clientId: 'trier',
      backoff: { baseMs: 5, maxMs: 20 },
    });
    await a.semaphore('pool1', 1).acquire();
    a.abandon();
    cluster.onApplied = (record) => {
      if (record.clientId !== 'trier' || record.type !== 'acquireSemaphore' || record.duplicate) return;
      cluster.onApplied = null;
      // Refused (the permit is a's); then a's session expires and the permit is free.
      cluster.advance(1_000);
    };
    cluster.dropAfterApply = 1;
    t.equal(await b.semaphore('pool1', 1).tryAcquire(), null, 'the acquire was refused when it applied');
    // Commands go one at a time: once this one is answered, anything queued before it has applied.
    await b.kv.put('after', 'x');
    const tries = cluster.applied.filter((r) => r.clientId === 'trier' && r.type === 'acquireSemaphore');
    t.same(
      tries.map((r) => [r.seq === tries[0]?.seq, r.duplicate]),
      [
        [true, false],
        [true, true],
      ],
      'one acquire, re-sent once under its seq, and no other',
    );
    t.equal(cluster.machine.state.locks.get('pool1'), undefined, 'nobody holds a permit');
    const taken = await c.semaphore('pool1', 1).tryAcquire();
    t.ok(taken !== null, 'the free permit goes to the next caller');
    await taken?.release();
  });
});

void t.test('a grant whose push is lost is found by asking again after the wait', async (t) => {
  // Proves a waiter does not hang when the granted push never arrives on a live connection: a little
  // after its wait ends it asks again, and a session that already holds the name gets its grant back.
  await withMiniCluster(1, async (cluster, open) => {
    const a = await open();
    const b = await open({ attemptTimeoutMs: 50 });
    const held = await a.lock('lostpush');
    cluster.dropPushes = true;
    const waiting = b.lock('lostpush', { waitMs: 100 });
    await until(() => cluster.machine.state.waiterCount === 1, 'b queued');
    await held.release();
    const granted = await waiting;
    t.ok(granted.fencingToken > held.fencingToken);
    cluster.dropPushes = false;
    await granted.release();
  });
});

void t.test('a re-check granted after its wait timed out hands that grant back', async (t) => {
  // Proves a wait's re-check never leaves the session holding what no caller asked for: the wait ends
  // with TIMEOUT just before the re-check applies, the lock is free by then, and the grant the re-check
  // got is released, so the next client can take the lock.
  await withMiniCluster(1, async (cluster, open) => {
    const [a, b, c] = await expiringHolderAndTwo(open, { clientId: 'rechecker', attemptTimeoutMs: 50 });
    await a.lock('late');
    a.abandon();
    let acquires = 0;
    cluster.beforeApply = (record) => {
      if (record.clientId !== 'rechecker' || record.type !== 'acquire' || record.duplicate) return;
      if (++acquires !== 2) return;
      // The re-check arrives: the wait has timed out on the cluster (b hears TIMEOUT first), and a's
      // session expires afterwards, so the lock is free with nobody waiting.
      cluster.advance(200);
      cluster.advance(1_000);
    };
    await t.rejects(b.lock('late', { waitMs: 100 }), { code: 'TIMEOUT' }, 'the wait ended without a grant');
    await until(() => acquires === 2, 're-checked');
    await until(() => cluster.machine.state.locks.get('late') === undefined, 'the re-check grant handed back');
    const taken = await c.tryLock('late');
    t.ok(taken !== null, 'free for the next client');
    await taken?.release();
  });
});

void t.test('giving up a wait hands a later grant back; DEADLOCK is a typed error', async (t) => {
  // Proves an aborted waiter cannot strand a lock: the grant that arrives after the abort is released at
  // once; and that a wait closing a cycle is refused with DEADLOCK naming the cycle.
  await withMiniCluster(1, async (cluster, open) => {
    const a = await open();
    const b = await open();
    const c = await open();
    const held = await a.lock('g');
    const controller = new AbortController();
    const waiting = b.lock('g', { signal: controller.signal });
    await until(() => cluster.machine.state.waiterCount === 1, 'b queued');
    controller.abort(new Error('not needed any more'));
    await t.rejects(waiting, { message: 'not needed any more' });
    await held.release();
    await until(() => cluster.machine.state.locks.get('g') === undefined, 'handed back');
    const taken = await c.tryLock('g');
    t.ok(taken !== null, 'free for the next client');
    await taken?.release();

    const x = await a.lock('x');
    const y = await b.lock('y');
    const aWaits = a.lock('y');
    await until(() => cluster.machine.state.waiterCount === 1, 'a waits for y');
    const refused = await b.lock('x').catch((error: unknown) => error);
    t.ok(refused instanceof RaftlockError && refused.code === 'DEADLOCK');
    t.equal(refused instanceof RaftlockError ? refused.cycle?.length : 0, 2, 'the cycle names both steps');
    await y.release();
    await (await aWaits).release();
    await x.release();
  });
});

void t.test('semaphore and read/write lock recipes', async (t) => {
  // Proves the counting and shared/exclusive rules through the client: permits bound concurrent holders;
  // readers share, a writer excludes readers.
  await withMiniCluster(1, async (cluster, open) => {
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => open()));
    if (a === undefined || b === undefined || c === undefined) throw new Error('three clients');
    const p1 = await a.semaphore('pool', 2).acquire();
    const p2 = await b.semaphore('pool', 2).acquire();
    t.not(p1.fencingToken, p2.fencingToken, 'each permit has its own token');
    t.equal(await c.semaphore('pool', 2).tryAcquire(), null, 'no third permit');
    await t.rejects(c.semaphore('pool', 3).acquire({ waitMs: 0 }), { code: 'INVALID_ARGUMENT' });
    await p1.release();
    const p3 = await c.semaphore('pool', 2).tryAcquire();
    t.ok(p3 !== null);
    const r1 = await a.rwlock('doc').read();
    const r2 = await b.rwlock('doc').read();
    t.equal(await c.rwlock('doc').tryWrite(), null, 'a writer waits for readers');
    await r1.release();
    await r2.release();
    const w = await c.rwlock('doc').tryWrite();
    t.ok(w !== null);
    t.equal(await a.rwlock('doc').tryRead(), null, 'readers wait for the writer');
    await w?.release();
    await p2.release();
    await p3?.release();
  });
});

void t.test('lock.signal aborts at the safety margin, while the cluster still holds the session', async (t) => {
  // Proves the client-side lease bound (docs/client.md, "Sessions and the safety margin") through the whole client: with keepalives unanswered,
  // lock.signal aborts at open-send-time + ttl × (1 − 2 × driftMax) on the client's monotonic clock —
  // while the session is still live on the cluster, so the holder stops before anyone else can be granted.
  await withMiniCluster(1, async (cluster, open) => {
    const clock = new FakeClock();
    const a = await open({
      ttlMs: 1_000,
      keepAliveIntervalMs: 300,
      driftMax: 0.01,
      clock,
    });
    const lock = await a.lock('margin');
    cluster.answerKeepAlives = false;
    let liveOnClusterAtAbort = false;
    lock.signal.addEventListener('abort', () => {
      liveOnClusterAtAbort = cluster.machine.state.sessions.has(lock.session);
    });
    clock.advance(979);
    t.equal(lock.signal.aborted, false, 'held until the margin');
    clock.advance(1);
    t.equal(lock.signal.aborted, true, 'aborted at 980 ms = 1000 × (1 − 2 × 0.01)');
    t.equal(liveOnClusterAtAbort, true, 'the cluster had not expired the session yet');
    await until(() => !cluster.machine.state.sessions.has(lock.session), 'the lost session is closed');
    const b = await open();
    const next = await b.tryLock('margin');
    t.ok(next !== null && next.fencingToken > lock.fencingToken, 'the next holder gets a larger token');
    await next?.release();
  });
});

void t.test('one client keeps many commands in flight, each on its own lane, each applied once', async (t) => {
  // Proves pipelining keeps exactly-once: concurrent calls go out under separate lane ids (the
  // client id, then id#k), at most commandsInFlightMax at once; a connection lost mid-flight makes
  // every lane re-send its own (lane, seq), which the cluster answers from its table. Holding many
  // locks in one session is normal use and must not trip Node's listener-leak warning.
  await withMiniCluster(1, async (cluster, open) => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.name);
    process.on('warning', onWarning);
    t.teardown(() => void process.off('warning', onWarning));
    const client = await open({
      clientId: 'many',
      commandsInFlightMax: 6,
      backoff: { baseMs: 5, maxMs: 20 },
    });
    const names = Array.from({ length: 20 }, (_, i) => `many/${i}`);
    cluster.dropAfterApply = 2;
    const locks = await Promise.all(names.map((name) => client.lock(name)));
    t.equal(new Set(locks.map((lock) => lock.fencingToken)).size, 20, 'twenty grants, twenty tokens');
    const acquires = cluster.applied.filter((r) => r.type === 'acquire');
    const lanes = new Set(acquires.map((r) => r.clientId));
    t.ok(lanes.size > 1 && lanes.size <= 6, `acquires went out on ${lanes.size} lanes, at most 6`);
    t.ok(
      [...lanes].every((id) => id === 'many' || /^many#[1-5]$/.test(id)),
      `lane ids ${[...lanes].join(', ')}`,
    );
    const retried = acquires.filter((r) => r.duplicate);
    t.ok(retried.length >= 1, `${retried.length} acquires were re-sent after the dropped connections`);
    t.equal(acquires.length - retried.length, 20, 'each acquire applied once');
    const held = cluster.machine.state.locks.size;
    t.equal(held, 20, 'the cluster holds exactly the twenty');
    await Promise.all(locks.map((lock) => lock.release()));
    t.equal(
      cluster.applied.filter((r) => r.type === 'release' && !r.duplicate).length,
      20,
      'twenty releases applied once each',
    );
    t.same(warnings, [], 'no process warning (twenty holds listen on one session signal)');
  });
});

void t.test('a client sends one command at a time with commandsInFlightMax 1', async (t) => {
  // The scripted cluster answers each command as it arrives, so only a withheld answer shows
  // whether the client waits for it before sending the next command.
  await withMiniCluster(1, async (cluster, open) => {
    const client = await open({
      clientId: 'serial',
      commandsInFlightMax: 1,
      backoff: { baseMs: 5, maxMs: 20 },
    });
    const from = cluster.applied.length;
    cluster.swallowAnswers = true;
    const locking = Promise.all(['s1', 's2', 's3', 's4'].map((name) => client.lock(name)));
    await until(() => cluster.applied.length > from, 'the first acquire arrived');
    await new Promise((resolve) => setTimeout(resolve, 50));
    t.equal(cluster.applied.length - from, 1, 'one command in flight while its answer is withheld');
    cluster.swallowAnswers = false;
    cluster.dropAll();
    const locks = await locking;
    await Promise.all(locks.map((lock) => lock.release()));
    const ids = new Set(cluster.applied.map((r) => r.clientId));
    t.same([...ids], ['serial'], 'every command on the client id itself');
    const seqs = cluster.applied.filter((r) => r.clientId === 'serial').map((r) => r.seq);
    t.same(
      seqs,
      [...seqs].sort((x, y) => x - y),
      'in seq order',
    );
  });
});

void t.test('queued waits on several lanes get their grants, also after a reconnection', async (t) => {
  // Proves grant pushes reach waits on any lane: the cluster pushes to the lane id the acquire went
  // out on, and after a reconnection each wait's re-check goes out on that same lane, which binds
  // the lane id to the new connection (a re-check on another lane would leave the grant unrouted).
  await withMiniCluster(1, async (cluster, open) => {
    const holder = await open();
    const waiter = await open({
      clientId: 'lanes',
      backoff: { baseMs: 5, maxMs: 20 },
    });
    const names = ['w0', 'w1', 'w2'];
    const holds = await Promise.all(names.map((name) => holder.lock(name)));
    const waits = names.map((name) => waiter.lock(name, { waitMs: 60_000 }));
    await until(() => cluster.machine.state.waiterCount === 3, 'three queued');
    const laneOf = (records: typeof cluster.applied): Record<string, string> =>
      Object.fromEntries(
        records
          .filter((r) => r.type === 'acquire' && r.clientId.startsWith('lanes'))
          .map((r) => [r.name ?? '', r.clientId]),
      );
    const waitLanes = laneOf(cluster.applied);
    t.ok(new Set(Object.values(waitLanes)).size > 1, `the waits went out on lanes ${JSON.stringify(waitLanes)}`);
    // Lane 0 busy with a put while the re-checks are sent: none may take a free lane instead of its own.
    const applied = cluster.applied.length;
    cluster.beforeApply = (record) => {
      if (record.type === 'acquire') return;
      cluster.beforeApply = null;
      waiter.reconnect();
    };
    await waiter.kv.put('lanes/k', 'v');
    await until(
      () => cluster.applied.slice(applied).filter((r) => r.type === 'acquire').length === 3,
      'three re-checks',
    );
    t.same(laneOf(cluster.applied.slice(applied)), waitLanes, 'each re-check went out on its own wait lane');
    await Promise.all(holds.map((hold) => hold.release()));
    const granted = await Promise.all(waits);
    granted.forEach((lock, i) =>
      t.ok(lock.fencingToken > (holds[i]?.fencingToken ?? 0), `${lock.name} granted by push`),
    );
    await Promise.all(granted.map((lock) => lock.release()));
  });
});

void t.test('every lane re-sends its own command when many applied answers are lost at once', async (t) => {
  // Proves exactly-once with many commands in flight: 16 workers share one client, each running a
  // compare-and-set chain on its own key. Their commands are applied but the answers are lost, and
  // then the connection breaks, three times over. Each lane re-sends its own (lane, seq) and gets
  // the recorded result. Had two commands shared an id, the older one's re-send would be refused
  // as stale; had one been applied twice, its worker's next compare-and-set would meet a version
  // it does not expect.
  await withMiniCluster(1, async (cluster, open) => {
    const client = await open({ clientId: 'lost', backoff: { baseMs: 5, maxMs: 20 } });
    const workers = 16;
    let stop = false;
    const acknowledged = new Array<number>(workers).fill(0);
    const loops = Array.from({ length: workers }, async (_, i) => {
      while (!stop) {
        const expected = acknowledged[i] as number;
        const result = await client.kv.cas(`lost/${i}`, expected, String(expected + 1));
        if (!result.ok) throw new Error(`lost/${i}: expected version ${expected}, found ${result.version}`);
        acknowledged[i] = result.version;
      }
    });
    let swallowed = 0;
    for (let round = 0; round < 3; round++) {
      await new Promise((resolve) => setTimeout(resolve, 30));
      const from = cluster.applied.length;
      cluster.swallowAnswers = true;
      await until(() => cluster.applied.length - from >= workers, 'every worker has an applied, unanswered command');
      swallowed += cluster.applied.length - from;
      cluster.swallowAnswers = false;
      cluster.dropAll();
    }
    await new Promise((resolve) => setTimeout(resolve, 30));
    stop = true;
    await Promise.all(loops);
    const puts = cluster.applied.filter((r) => r.type === 'put' && r.clientId.startsWith('lost'));
    const resent = puts.filter((r) => r.duplicate).length;
    t.ok(resent >= swallowed, `${resent} re-sends answered from the table, for ${swallowed} lost answers`);
    t.ok(new Set(puts.map((r) => r.clientId)).size > 1, 'the commands were on several lanes');
    for (let i = 0; i < workers; i++) {
      t.equal(
        (await client.kv.get(`lost/${i}`))?.version,
        acknowledged[i],
        `lost/${i}: its version is its acknowledged writes`,
      );
    }
  });
});
