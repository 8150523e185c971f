// A wait's tagged state (client.ts WaitState): an abandoned wait is still one the cluster holds, so a
// reconnection asks what became of it, and a grant whose push was lost is handed back at once.
import t from 'tap';
import { connect } from '../../src/client/client.js';
import { MiniCluster } from './fixtures/mini-cluster.js';
import { until } from '../fixtures/until.js';

void t.test('an abandoned wait whose grant push was lost is re-checked on reconnection and handed back', async (t) => {
  const cluster = await MiniCluster.start(1);
  const a = await connect({ endpoints: cluster.endpoints, backoff: { baseMs: 5, maxMs: 20 } });
  const b = await connect({ endpoints: cluster.endpoints, backoff: { baseMs: 5, maxMs: 20 } });
  t.teardown(async () => {
    a.abandon();
    b.abandon();
    await cluster.close();
  });
  const held = await a.lock('g');
  const controller = new AbortController();
  // A long wait: its own re-check timer (after the wait's end) must not be what finds the grant.
  const waiting = b.lock('g', { waitMs: 60_000, signal: controller.signal });
  await until(() => cluster.machine.state.waiterCount === 1, 'b queued');
  controller.abort(new Error('not needed any more'));
  await t.rejects(waiting, { message: 'not needed any more' });
  cluster.dropPushes = true;
  await held.release();
  t.ok(cluster.machine.state.locks.get('g') !== undefined, 'granted to the abandoned wait, its push lost');
  cluster.dropPushes = false;
  cluster.dropAll();
  await until(() => cluster.machine.state.locks.get('g') === undefined, 'handed back after the reconnection');
  const taken = await a.tryLock('g');
  t.ok(taken !== null, 'free for the next caller');
  await taken?.release();
});
