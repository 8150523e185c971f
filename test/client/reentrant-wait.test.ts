// A second acquire of a name this client already holds waits for the local turn first: tryLock
// must not wait at all, and waitMs bounds the local turn as well as the cluster's queue.
import t from 'tap';
import { connect } from '../../src/client/client.js';
import { MiniCluster } from './fixtures/mini-cluster.js';

void t.test('reentrant acquires in one client respect tryLock and waitMs', async (t) => {
  const cluster = await MiniCluster.start(1);
  const a = await connect({ endpoints: cluster.endpoints, backoff: { baseMs: 5, maxMs: 20 } });
  t.teardown(async () => {
    a.abandon();
    await cluster.close();
  });
  const held = await a.lock('r');
  let started = Date.now();
  t.equal(await a.tryLock('r'), null, 'tryLock of a name this client holds: null at once');
  t.ok(Date.now() - started < 1_000, `at once (${Date.now() - started} ms)`);
  started = Date.now();
  await t.rejects(a.lock('r', { waitMs: 300 }), { code: 'TIMEOUT' }, 'lock with waitMs gives up after waitMs');
  const waited = Date.now() - started;
  t.ok(waited >= 250 && waited < 3_000, `after about waitMs (${waited} ms)`);
  const sp = a.semaphore('sp', 2);
  const first = await sp.acquire();
  started = Date.now();
  await t.rejects(sp.acquire({ waitMs: 300 }), { code: 'TIMEOUT' }, 'a second permit in the same client, bounded too');
  t.ok(Date.now() - started < 3_000);
  // The turns given up do not block the next caller once the hold ends.
  await held.release();
  const again = await a.tryLock('r');
  t.ok(again !== null, 'free again after release');
  await again?.release();
  await first.release();
});
