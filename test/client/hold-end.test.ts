// A holder learns that its hold ended before anyone else is granted, and a paused holder cannot
// act once after its lease lapsed (docs/client.md, "When a hold ends"): the client aborts
// lock.signal on the cluster's `revoked` push (another client released the hold or closed the
// session), also when that push overtakes the answer that granted the hold, re-checks its holds
// after a reconnection (pushes sent meanwhile are lost), and checks the lease on the clock before
// every fenced write, so the first look after a pause already knows.
import t from 'tap';
import type { RaftlockClient } from '../../src/client/index.js';
import { RaftlockError } from '../../src/client/index.js';
import type { Lock } from '../../src/client/lock.js';
import { FakeClock } from './fixtures/fake-clock.js';
import { withMiniCluster } from './fixtures/with-mini-cluster.js';
import { until } from '../fixtures/until.js';

/** The next grant of `name` after `lock`'s, seen by `client`'s watch, and whether `lock` was held then. */
async function firstGrantAfter(
  client: RaftlockClient,
  name: string,
  lock: Lock,
): Promise<{ token: number; held: boolean }> {
  const stream = client.watch(name, { fromIndex: lock.fencingToken });
  try {
    for await (const event of stream) {
      if (event.type === 'grant' && event.lock === name && event.token > lock.fencingToken)
        return { token: event.token, held: lock.held };
    }
    throw new Error('the watch ended');
  } finally {
    await stream.return();
  }
}

function codeOf(fn: () => void): string | null {
  try {
    fn();
    return null;
  } catch (error: unknown) {
    return error instanceof RaftlockError ? error.code : String(error);
  }
}

void t.test('another client releasing the hold: the holder aborts before the waiter is granted', async (t) => {
  await withMiniCluster(1, async (cluster, open) => {
    const a = await open({ clientId: 'holder' });
    const b = await open({ clientId: 'other' });
    const lock = await a.lock('L');
    // The holder watches its own lock, so it sees the next grant on its own connection, in the
    // order the node wrote it (two clients read two sockets, and the kernel may hand one over
    // before the other): when the grant event arrives the hold must already have ended.
    const heldAtNextGrant = firstGrantAfter(a, 'L', lock);
    const waiting = b.lock('L', { waitMs: 5_000 });
    await until(() => cluster.machine.state.locks.get('L')?.waiting === 1, 'the other client to queue');
    // Insecure mode: any client may release in any session.
    const released = await b.command({ type: 'release', session: lock.session, name: 'L' });
    t.equal(released.code, 'OK');
    const next = await waiting;
    t.same(
      await heldAtNextGrant,
      { token: next.fencingToken, held: false },
      'the hold had ended when the next grant was seen',
    );
    t.equal(lock.held, false);
    t.equal(
      codeOf(() => lock.check()),
      'NOT_HOLDER',
    );
    t.match(String(lock.signal.reason), /another client released L/);
    t.ok(next.fencingToken > lock.fencingToken);
    await t.rejects(
      a.kv.put('k', 'late', { fence: lock }),
      { code: 'STALE_TOKEN' },
      'a fenced write under it is refused without being sent',
    );
    await lock.release();
    t.ok(next.held, 'the holder’s late release does not touch the new grant');
  });
});

void t.test('another client closing the session: the session is lost and its holds abort', async (t) => {
  await withMiniCluster(1, async (cluster, open) => {
    const a = await open({ clientId: 'holder' });
    const b = await open({ clientId: 'other' });
    const lock = await a.lock('L');
    const lost: string[] = [];
    a.on('sessionLost', ({ error }) => lost.push(error.message));
    t.equal((await b.command({ type: 'closeSession', session: lock.session })).code, 'OK');
    await until(() => lock.signal.aborted, 'the holder to abort');
    t.match(lost[0], /another client closed it/);
    t.equal(
      codeOf(() => lock.check()),
      'SESSION_EXPIRED',
    );
  });
});

void t.test('a revoked push that overtakes the answer granting the hold still ends it', async (t) => {
  await withMiniCluster(1, async (cluster, open) => {
    const a = await open({ clientId: 'holder' });
    cluster.onApplied = (record) => {
      if (record.type !== 'acquire') return;
      cluster.onApplied = null;
      // Between the acquire's entry and its answer, another client releases it: the push is
      // written first, as a node that pushes hold endings ahead of the answers of a drain does.
      const session = [...cluster.machine.state.sessions.keys()][0];
      if (session === undefined) return;
      cluster.applyCommand({
        type: 'client',
        clientId: 'intruder',
        seq: 1,
        op: { type: 'release', session, name: 'L' },
      });
    };
    const lock = await a.lock('L');
    t.equal(lock.held, false, 'born revoked');
    t.equal(
      codeOf(() => lock.check()),
      'NOT_HOLDER',
    );
    t.equal(lock.signal.aborted, true);
    // Breaking check: without the remembered tokens this Lock would think it holds L.
  });
});

void t.test('after a reconnection the client asks which holds it still has', async (t) => {
  await withMiniCluster(1, async (cluster, open) => {
    const a = await open({ clientId: 'holder', backoff: { baseMs: 5, maxMs: 20 } });
    const gone = await a.lock('gone');
    const kept = await a.lock('kept');
    cluster.dropPushes = true;
    cluster.applyCommand({
      type: 'client',
      clientId: 'intruder',
      seq: 1,
      op: { type: 'release', session: gone.session, name: 'gone' },
    });
    t.equal(gone.held, true, 'the push was lost');
    a.reconnect();
    await until(() => !gone.held, 'the lost hold to be found');
    t.match(String(gone.signal.reason), /ended while this client was reconnecting/);
    t.equal(kept.held, true, 'a hold the cluster still has stays');
  });
});

void t.test(
  'a paused holder: the first look after the lease lapsed fails, and a fenced write is not sent',
  async (t) => {
    await withMiniCluster(1, async (cluster, open) => {
      const clock = new FakeClock();
      const a = await open({
        clientId: 'paused',
        ttlMs: 1_000,
        keepAliveIntervalMs: 300,
        driftMax: 0.01,
        clock,
      });
      const lock: Lock = await a.lock('L');
      const signal = lock.signal;
      cluster.answerKeepAlives = false;
      clock.jump(979);
      t.equal(
        codeOf(() => lock.check()),
        null,
        'guaranteed up to the margin',
      );
      await a.kv.put('k', 'before', { fence: lock });
      // The process "resumes" past the margin: no timer has run yet.
      clock.jump(1);
      t.equal(signal.aborted, true, 'a signal read after the margin is aborted');
      t.equal((signal.reason as RaftlockError).code, 'LEASE_EXPIRED');
      t.equal(
        codeOf(() => lock.check()),
        'LEASE_EXPIRED',
      );
      t.equal(lock.held, false);
      const puts = (): number => cluster.applied.filter((r) => r.type === 'put').length;
      const sent = puts();
      await t.rejects(a.kv.put('k', 'after', { fence: lock }), { code: 'LEASE_EXPIRED' });
      await t.rejects(a.kv.put('k', 'after', { fence: { lock: 'L', token: lock.fencingToken } }), {
        code: 'LEASE_EXPIRED',
      });
      t.equal(puts(), sent, 'no fenced write went out after the lapse');
    });
  },
);

void t.test('check() on a released hold says NOT_HOLDER', async (t) => {
  await withMiniCluster(1, async (cluster, open) => {
    const a = await open();
    const lock = await a.lock('L');
    t.equal(
      codeOf(() => lock.check()),
      null,
    );
    await lock.release();
    t.equal(
      codeOf(() => lock.check()),
      'NOT_HOLDER',
    );
  });
});
