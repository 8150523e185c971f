// A mutex passed between callers of one client costs one command (one log entry) per handoff: the
// releasing caller's release goes out with the next caller's acquire as one `handoff` command.
// Against the mini cluster (one real state machine, every command applied as its own entry).
import t from 'tap';
import type { Lock } from '../../src/client/lock.js';
import { takeTurns } from './fixtures/take-turns.js';
import { until } from '../fixtures/until.js';
import { fastRetries } from './fixtures/retries.js';
import { miniClusterForTest } from './fixtures/with-mini-cluster.js';

void t.test('callers of one client taking turns on a mutex: one entry per handoff, never two holders', async (t) => {
  const { cluster, open } = await miniClusterForTest(t, 1);
  const client = await open(fastRetries);
  const callers = 6;
  const tokens = await takeTurns(t, client, 'h', callers);
  const entries = cluster.applied
    .filter((record) => record.name === 'h' && !record.duplicate)
    .map((record) => record.type);
  t.same(
    entries,
    ['acquire', ...Array<string>(callers - 1).fill('handoff'), 'release'],
    `${callers - 1} handoffs, one entry each`,
  );
  t.same(
    tokens,
    [...tokens].sort((x, y) => x - y),
    'tokens only grow',
  );
  t.equal(new Set(tokens).size, callers);
  t.same(await client.locks('h'), [], 'nothing left held or queued');
});

void t.test('a local handoff never overtakes another session queued earlier (FIFO across sessions)', async (t) => {
  const { cluster, open } = await miniClusterForTest(t, 1);
  const a = await open(fastRetries);
  const b = await open(fastRetries);
  const a1 = await a.lock('f');
  const order: string[] = [];
  const bLock = b.lock('f').then((lock) => {
    order.push('b');
    return lock;
  });
  await until(
    () => cluster.applied.some((r) => r.name === 'f' && r.clientId.startsWith(b.clientId)),
    "b's acquire queued",
  );
  const a2Lock = a.lock('f').then((lock) => {
    order.push('a2');
    return lock;
  });
  await a1.release();
  t.equal(cluster.applied.at(-1)?.type, 'handoff', "a1's release went out with a2's acquire");
  const bHeld: Lock = await bLock;
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.same(order, ['b'], 'b, queued before a2, is granted; a2 waits behind it');
  t.ok(bHeld.fencingToken > a1.fencingToken);
  await bHeld.release();
  const a2 = await a2Lock;
  t.same(order, ['b', 'a2']);
  t.ok(a2.fencingToken > bHeld.fencingToken, 'tokens only grow');
  t.ok(a2.held);
  await a2.release();
});

void t.test(
  'a handoff whose answer is lost with the connection is applied once, and leaves no phantom hold',
  async (t) => {
    const { cluster, open } = await miniClusterForTest(t, 1);
    const client = await open(fastRetries);
    const first = await client.lock('d');
    const second = client.lock('d');
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The handoff is applied, then the connection drops before its answer: the client re-sends the
    // same (clientId, seq) and gets the recorded answer, the grant, instead of a second apply.
    cluster.dropAfterApply = 1;
    await first.release();
    const next = await second;
    t.ok(next.held);
    t.ok(next.fencingToken > first.fencingToken);
    const handoffs = cluster.applied.filter((r) => r.name === 'd' && r.type === 'handoff');
    t.ok(
      handoffs.length >= 1 && handoffs.slice(1).every((r) => r.duplicate),
      'applied once, retries answered from the exactly-once table',
    );
    const view = await client.locks('d');
    t.same(
      view[0]?.holders.map((h) => h.token),
      [next.fencingToken],
      'held once, by the caller that was handed the name',
    );
    await next.release();
    t.same(await client.locks('d'), [], 'released: nothing left held or queued');
  },
);

void t.test(
  'against a node that refuses the handoff command, the release goes alone and the next caller asks as before',
  async (t) => {
    const { cluster, open } = await miniClusterForTest(t, 1);
    cluster.unknownOps.add('handoff');
    const client = await open(fastRetries);
    const first = await client.lock('o');
    const second = client.lock('o');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await first.release();
    const next = await second;
    t.ok(next.held);
    t.ok(next.fencingToken > first.fencingToken, 'a new grant, not the released one handed back');
    const entries = cluster.applied.filter((r) => r.name === 'o').map((r) => r.type);
    t.same(entries, ['acquire', 'release', 'acquire'], 'release applied before the plain acquire');
    await next.release();
    t.same(await client.locks('o'), []);
  },
);

void t.test(
  'a handoff whose outcome stays unknown: both callers are told, the release goes alone, and the name is not left held',
  async (t) => {
    const { cluster, open } = await miniClusterForTest(t, 1);
    const client = await open({ ...fastRetries, requestTimeoutMs: 600, attemptTimeoutMs: 150 });
    const first = await client.lock('u');
    const second = client.lock('u');
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Every answer is lost: the handoff (applied once, its retries answered from the table) and then
    // the release sent alone after it.
    cluster.swallowAnswers = true;
    const released = first.release();
    await t.rejects(second, 'the next caller learns its acquire failed');
    await t.rejects(released, 'the releasing caller learns its release is not confirmed');
    cluster.swallowAnswers = false;
    const types = cluster.applied.filter((r) => r.name === 'u' && !r.duplicate).map((r) => r.type);
    t.same(
      types,
      ['acquire', 'handoff', 'release'],
      'the release went alone after the handoff, before any later acquire',
    );
    t.same(await client.locks('u'), [], 'the grant the handoff made was released with it: no phantom hold');
    const third = await client.lock('u');
    t.ok(third.fencingToken > first.fencingToken);
    await third.release();
  },
);
