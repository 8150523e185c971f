// Runs of turns (docs/client.md, "Runs of turns"): with turnsPerGrant above 1, a caller handing a
// mutex on asks for one token per caller of the client queued behind it, and the client passes the
// hold from caller to caller under those tokens without a command each. Against the mini cluster
// (one real state machine, every command applied as its own entry).
import t from 'tap';
import type { Lock } from '../../src/client/lock.js';
import { RaftlockError } from '../../src/client/index.js';
import { takeTurns } from './fixtures/take-turns.js';
import { until } from '../fixtures/until.js';
import { fastRetries } from './fixtures/retries.js';
import { miniClusterForTest } from './fixtures/with-mini-cluster.js';

void t.test('six callers of one client: one handoff entry serves five of them, one holder at a time', async (t) => {
  const { cluster, open } = await miniClusterForTest(t, 1);
  const client = await open({ ...fastRetries, turnsPerGrant: 8 });
  const tokens = await takeTurns(t, client, 'h', 6);
  const entries = cluster.applied.filter((r) => r.name === 'h' && !r.duplicate).map((r) => [r.type, r.turns]);
  t.same(
    entries,
    [
      ['acquire', null],
      ['handoff', 5],
      ['release', null],
    ],
    'the first caller’s acquire, one handoff reserving a turn for each of the five behind it, one release',
  );
  t.same(
    tokens.slice(1),
    Array.from({ length: 5 }, (_, i) => (tokens[1] ?? 0) + i),
    'the run’s callers hold its consecutive tokens in call order',
  );
  t.ok((tokens[1] ?? 0) > (tokens[0] ?? 0), 'tokens only grow');
  t.same(await client.locks('h'), [], 'nothing left held or queued');
});

void t.test('the default is one grant per caller: the entries of before', async (t) => {
  const { cluster, open } = await miniClusterForTest(t, 1);
  const client = await open(fastRetries);
  await Promise.all(Array.from({ length: 3 }, () => client.withLock('d', () => undefined)));
  const entries = cluster.applied.filter((r) => r.name === 'd' && !r.duplicate).map((r) => [r.type, r.turns]);
  t.same(entries, [
    ['acquire', null],
    ['handoff', 1],
    ['handoff', 1],
    ['release', null],
  ]);
});

void t.test(
  'FIFO across sessions: a run serves only callers queued when it was asked for; a session queued after it goes next',
  async (t) => {
    const { cluster, open } = await miniClusterForTest(t, 1);
    const a = await open({ ...fastRetries, turnsPerGrant: 8 });
    const b = await open(fastRetries);
    const c = await open(fastRetries);
    const order: string[] = [];
    const tokens = new Map<string, number>();
    const take = (who: string, lock: Promise<Lock>): Promise<Lock> =>
      lock.then((held) => {
        order.push(who);
        tokens.set(who, held.fencingToken);
        return held;
      });
    const a1 = await a.lock('f');
    const bLock = take('b', b.lock('f'));
    await until(() => cluster.machine.state.locks.get('f')?.waiting === 1, "b's acquire queued");
    const a2 = take('a2', a.lock('f'));
    // ax gives up once the run is asked for, leaving it a spare token that no later caller may use.
    const giveUp = new AbortController();
    const ax = a.lock('f', { signal: giveUp.signal });
    const a3 = take('a3', a.lock('f'));
    await new Promise((resolve) => setTimeout(resolve, 10));
    const handoffApplied = new Promise<void>((resolve) => {
      cluster.onApplied = (record) => {
        if (record.type === 'handoff') resolve();
      };
    });
    const a1Released = a1.release();
    await handoffApplied;
    t.same(
      cluster.applied.filter((r) => r.type === 'handoff').map((r) => r.turns),
      [3],
      'the handoff asks for a turn for each of a2, ax and a3',
    );
    giveUp.abort(new Error('ax stops waiting'));
    await t.rejects(ax, /ax stops waiting/);
    // c queues after the run was asked for, and a4 arrives after that: neither is in the run.
    const cLock = take('c', c.lock('f'));
    // The handoff granted b (queued first) and queued a's run behind it; c queues behind the run.
    await until(() => cluster.machine.state.locks.get('f')?.waiting === 2, "c's acquire queued");
    const a4 = take('a4', a.lock('f'));
    await a1Released;
    const bHeld = await bLock;
    t.same(order, ['b'], 'b, queued before the run, is granted first');
    await bHeld.release();
    const a2Held = await a2;
    const handoffsBefore = cluster.applied.filter((r) => r.type === 'handoff').length;
    await a2Held.release();
    const a3Held = await a3;
    t.equal(
      cluster.applied.filter((r) => r.type === 'handoff').length,
      handoffsBefore,
      'a2 passed the hold to a3 without a command',
    );
    t.equal(a3Held.fencingToken, a2Held.fencingToken + 1, "a3 holds the run's next token");
    await a3Held.release();
    const cHeld = await cLock;
    t.same(
      order,
      ['b', 'a2', 'a3', 'c'],
      "c, queued before a4 asked, is granted before it: a4 is not passed the run's spare token",
    );
    await cHeld.release();
    const a4Held = await a4;
    t.same(order, ['b', 'a2', 'a3', 'c', 'a4']);
    const sequence = ['b', 'a2', 'a3', 'c', 'a4'].map((who) => tokens.get(who) ?? 0);
    t.same(
      sequence,
      [...sequence].sort((x, y) => x - y),
      'tokens only grow',
    );
    await a4Held.release();
  },
);

void t.test('a caller whose turn in the run has passed cannot write under its token', async (t) => {
  const { cluster, open } = await miniClusterForTest(t, 1);
  const client = await open({ ...fastRetries, turnsPerGrant: 4 });
  const first = await client.lock('w');
  const second = client.lock('w');
  const third = client.lock('w');
  await first.release();
  const secondHeld = await second;
  const putsBefore = cluster.applied.filter((r) => r.type === 'put').length;
  await client.kv.put('k', 'second', { fence: secondHeld });
  await secondHeld.release();
  const thirdHeld = await third;
  t.equal(thirdHeld.fencingToken, secondHeld.fencingToken + 1);
  await t.rejects(
    client.kv.put('k', 'late', { fence: secondHeld }),
    { code: 'STALE_TOKEN', message: /w was released/ },
    'the passed caller is refused before anything is sent',
  );
  await client.kv.put('k', 'third', { fence: thirdHeld });
  t.equal(
    cluster.applied.filter((r) => r.type === 'put').length,
    putsBefore + 2,
    'only the two current writes went out',
  );
  const stored = await client.kv.get('k');
  t.equal(stored === null ? null : new TextDecoder().decode(stored.value), 'third');
  await thirdHeld.release();
});

void t.test(
  'another client ending the run: the caller holding it now learns, the next asks the cluster afresh',
  async (t) => {
    const { cluster, open } = await miniClusterForTest(t, 1);
    const a = await open({ ...fastRetries, turnsPerGrant: 4 });
    const b = await open(fastRetries);
    const first = await a.lock('r');
    const second = a.lock('r');
    const third = a.lock('r');
    const fourth = a.lock('r');
    await first.release();
    const secondHeld = await second;
    await secondHeld.release();
    const thirdHeld = await third;
    t.ok(thirdHeld.held, 'the third caller holds the run');
    const runToken = secondHeld.fencingToken;
    const released = await b.command({ type: 'release', session: thirdHeld.session, name: 'r' });
    t.equal(released.code, 'OK');
    await until(() => !thirdHeld.held, 'the revocation to reach the holder');
    t.ok(thirdHeld.lostReason instanceof RaftlockError, 'told why');
    t.match(String(thirdHeld.lostReason?.message), new RegExp(`another client released r`));
    const fourthHeld = await fourth;
    t.ok(fourthHeld.fencingToken > runToken + 2, 'the next caller is granted afresh, after every token of the run');
    t.equal(
      cluster.applied.filter((r) => r.name === 'r' && r.type === 'acquire').length,
      2,
      'by a new acquire, not a pass under the revoked run',
    );
    await fourthHeld.release();
  },
);

void t.test('turnsPerGrant out of range is refused when connecting', async (t) => {
  const { open } = await miniClusterForTest(t, 1);
  for (const turnsPerGrant of [0, 1.5, 1025]) {
    await t.rejects(open({ turnsPerGrant }), {
      code: 'INVALID_ARGUMENT',
      message: /turnsPerGrant must be an integer in \[1, 1024\]/,
    });
  }
});
