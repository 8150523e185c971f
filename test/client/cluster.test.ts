// End to end: the client library against a real in-process 3-node cluster (startCluster): Raft,
// durable log, the lock state machine and the client listener, all on 127.0.0.1 port 0.
import t from 'tap';
import type { RaftlockClient } from '../../src/client/client.js';
import type { ConnectOptions } from '../../src/client/options.js';
import { startClusterForTest } from './fixtures/cluster-for-test.js';
import { assertFifoChain } from './fixtures/fifo-chain.js';
import { collectElectionViews } from './fixtures/election-views.js';
import { until } from '../fixtures/until.js';

const text = (bytes: Uint8Array | undefined): string => new TextDecoder().decode(bytes);

async function waiters(client: RaftlockClient, name: string): Promise<number> {
  const [view] = await client.locks(name, 1);
  return view?.name === name ? view.waiters.length : 0;
}

void t.test('client library against a real 3-node cluster', async (t) => {
  const { cluster, connect } = await startClusterForTest(t, { nodes: 3 });
  const open = (options: Partial<ConnectOptions> = {}): Promise<RaftlockClient> =>
    connect({ ...cluster.connectOptions(), ...options });
  await cluster.waitForLeader();

  await t.test('lock, tryLock, withLock and fencing', async (t) => {
    // Proves mutual exclusion and growing fencing tokens through a real replicated log.
    const a = await open();
    const b = await open();
    const lock = await a.lock('job');
    t.equal(await b.tryLock('job'), null);
    await lock.release();
    const token = await b.withLock('job', async (held) => {
      await b.kv.put('out', 'done', { fence: { lock: 'job', token: held.fencingToken } });
      return held.fencingToken;
    });
    t.ok(token > lock.fencingToken);
    await t.rejects(a.kv.put('out', 'late', { fence: { lock: 'job', token: lock.fencingToken } }), {
      code: 'STALE_TOKEN',
    });
    t.equal(text((await a.kv.get('out'))?.value), 'done');
  });

  await t.test('FIFO hand-off across clients connected to different nodes', async (t) => {
    // Proves a grant is pushed by the node the waiter is connected to (every node applies every entry)
    // and waiters are served in arrival order.
    const [a, b, c] = await Promise.all(
      cluster.endpoints.map((e) => open({ endpoints: [e.client], followLeader: false })),
    );
    if (a === undefined || b === undefined || c === undefined) throw new Error('three clients');
    t.equal(new Set([a, b, c].map((x) => x.welcome?.nodeId)).size, 3, 'one client per node');
    await assertFifoChain(t, 'fifo', [a, b, c], (count) =>
      until(async () => (await waiters(a, 'fifo')) === count, `${count} waiting`),
    );
  });

  await t.test('an uncleanly closed holder loses its lock when its session expires', async (t) => {
    // Proves the lease on real log time: the next waiter is granted after the dead holder's TTL.
    const dead = await open({ ttlMs: 1_000 });
    const next = await open();
    const held = await dead.lock('lease');
    const waiting = next.lock('lease', { waitMs: 20_000 });
    await until(async () => (await waiters(next, 'lease')) === 1, 'queued');
    dead.abandon();
    const granted = await waiting;
    t.ok(granted.fencingToken > held.fencingToken);
    await granted.release();
  });

  await t.test('kv compare-and-set', async (t) => {
    // Proves CAS against the replicated version: a stale version is refused with the current one.
    const c = await open();
    const first = await c.kv.put('cas', 'a');
    t.same(await c.kv.cas('cas', first.version + 5, 'x'), { ok: false, version: first.version });
    const swapped = await c.kv.cas('cas', first.version, 'b');
    t.equal(swapped.ok, true);
    t.equal(text((await c.kv.get('cas'))?.value), 'b');
  });

  await t.test('watch resumes after its connection drops', async (t) => {
    // Proves gap-free watches across a reconnection: events written while the watcher was away are
    // delivered once each, in order.
    const watcher = await open({ backoff: { baseMs: 10, maxMs: 50 } });
    const writer = await open();
    const stream = watcher.watch('wr/');
    await until(() => stream.watchId !== null, 'subscribed');
    await writer.kv.put('wr/1', 'a');
    const first = await stream.next();
    t.equal(first.done !== true && first.value.type === 'put' && first.value.key, 'wr/1');
    watcher.reconnect();
    await writer.kv.put('wr/2', 'b');
    await writer.kv.put('wr/3', 'c');
    const keys: string[] = [];
    for (let i = 0; i < 2; i++) {
      const next = await stream.next();
      if (next.done !== true && next.value.type === 'put') keys.push(next.value.key);
    }
    t.same(keys, ['wr/2', 'wr/3']);
    await stream.return();
  });

  await t.test('election: campaign, observe, resign', async (t) => {
    // Proves the election recipe end to end: observers see the leader, then the hand-over in order.
    const a = await open();
    const b = await open();
    const o = await open();
    const leadA = await a.election('boss').campaign('alpha');
    const { views: seen, done: watching } = collectElectionViews(o, 'boss', (views) => views.at(-1) === 'beta');
    await until(() => seen.length === 1, 'first view');
    const bWins = b.election('boss').campaign('beta');
    await until(async () => (await waiters(o, 'boss')) === 1, 'b campaigns');
    await leadA.resign();
    const leadB = await bWins;
    await watching;
    t.same(
      seen.filter((v) => v !== 'none'),
      ['alpha', 'beta'],
    );
    t.ok(leadB.token > leadA.token);
    await leadB.resign();
  });

  await t.test('a lock holder rides through a leader change', async (t) => {
    // Proves leader following end to end: when the leader node stops, the client moves to the new leader,
    // its session survives (log time continues from the last committed entry, docs/architecture.md, "Time") and the hold stays
    // valid: its token is still current and release works.
    const a = await open({ backoff: { baseMs: 10, maxMs: 100 } });
    const lock = await a.lock('failover');
    const old = cluster.leader();
    t.ok(old !== null && a.welcome?.nodeId === old.nodeId, 'connected to the leader');
    await old?.close();
    const next = await cluster.waitForLeader();
    t.not(next.nodeId, old?.nodeId);
    await a.kv.put('after-failover', 'ok');
    t.equal(a.welcome?.nodeId, next.nodeId, 'followed the new leader');
    t.equal(lock.signal.aborted, false, 'the session was never in doubt');
    t.equal(await a.checkFence('failover', lock.fencingToken), true);
    await lock.release();
    t.equal(await a.checkFence('failover', lock.fencingToken), false);
  });

  await t.test('status and members', async (t) => {
    // Proves the operator calls: every node reports itself and the same leader; members lists all three.
    const c = await open();
    const running = cluster.endpoints.filter((e) => cluster.nodes.some((n) => n.nodeId === e.id && !n.isStopped));
    const views = await Promise.all(running.map((e) => c.statusOf(e.client)));
    t.equal(views.length, 2, 'one node was stopped above');
    t.equal(new Set(views.map((v) => v.leader)).size, 1);
    t.equal(views.filter((v) => v.role === 'leader').length, 1);
    t.equal((await c.members('list')).length, 3);
  });

  await t.test(
    'one client waits on many locks at once, through a follower, each grant pushed to its lane',
    async (t) => {
      // Proves pipelined commands through real nodes: concurrent acquires go out on separate lane ids
      // (forwarded by a follower to the leader), each is queued once, and each grant is pushed by the
      // follower to the connection its lane id is bound to.
      const holder = await open();
      const leaderId = (await cluster.waitForLeader()).nodeId;
      const follower = cluster.nodes.find((node) => !node.isStopped && node.nodeId !== leaderId);
      if (follower === undefined) throw new Error('no running follower');
      const waiter = await open({ endpoints: [follower.endpoint.client], followLeader: false });
      t.equal(waiter.welcome?.nodeId, follower.nodeId, 'the waiter stays on the follower');
      const names = Array.from({ length: 12 }, (_, i) => `lanes/${i}`);
      const holds = await Promise.all(names.map((name) => holder.lock(name)));
      const waits = names.map((name) => waiter.lock(name, { waitMs: 60_000 }));
      for (const name of names) await until(async () => (await waiters(holder, name)) === 1, `${name} queued once`);
      for (const hold of holds) await hold.release();
      const granted = await Promise.all(waits);
      granted.forEach((lock, i) =>
        t.ok(lock.fencingToken > (holds[i]?.fencingToken ?? 0), `${lock.name}: a newer token`),
      );
      const views = await holder.locks('lanes/', 100);
      t.equal(
        views.filter((view) => view.holders.length === 1 && view.waiters.length === 0).length,
        12,
        'every lock held once, nobody left waiting',
      );
      await Promise.all(granted.map((lock) => lock.release()));
    },
  );

  await t.test('an on-demand snapshot compacts the log of the node asked', async (t) => {
    // Proves `raftlock snapshot`: the node snapshots its applied state at once and says where.
    const c = await open();
    await c.kv.put('snapshot/marker', new TextEncoder().encode('x'));
    const index = await c.snapshot();
    t.ok(index > 0, `snapshot taken at index ${index}`);
    const again = await c.snapshot();
    t.ok(again >= index, 'a later snapshot is never older');
  });
});
