// A node ends a watch with a `watchCancelled` push: the client reads its code from the one decoder's
// typed push and ends the stream (COMPACTED, PERMISSION_DENIED: definite) or resubscribes (UNAVAILABLE).
import t from 'tap';
import { connect } from '../../src/client/client.js';
import { RaftlockError } from '../../src/client/errors.js';
import { MiniCluster } from './fixtures/mini-cluster.js';
import { until } from '../fixtures/until.js';

for (const code of ['COMPACTED', 'PERMISSION_DENIED'] as const) {
  void t.test(`a watch cancelled with ${code} ends with that code, on the same connection`, async (t) => {
    const cluster = await MiniCluster.start(1);
    t.teardown(() => cluster.close());
    const client = await connect({ endpoints: cluster.endpoints, clientId: 'w' });
    t.teardown(() => client.abandon());
    let connections = 0;
    client.on('connected', () => connections++);
    const stream = client.watch('w/');
    const first = stream.next();
    await until(() => cluster.connectionsTo(cluster.leader) === 1, 'the connection');
    await new Promise((resolve) => setTimeout(resolve, 50));
    cluster.cancelWatches(code, 'cancelled by the test');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error('the stream did not end')), 3_000);
    });
    await t.rejects(Promise.race([first, late]), new RaftlockError(code, 'cancelled by the test'));
    clearTimeout(timer);
    t.equal(connections, 0, 'the push was understood: the connection was not dropped');
  });
}

void t.test('a watch cancelled with UNAVAILABLE resubscribes and goes on', async (t) => {
  const cluster = await MiniCluster.start(1);
  t.teardown(() => cluster.close());
  const client = await connect({ endpoints: cluster.endpoints, clientId: 'w' });
  t.teardown(() => client.abandon());
  const stream = client.watch('w/');
  await new Promise((resolve) => setTimeout(resolve, 50));
  cluster.cancelWatches('UNAVAILABLE', 'the node is shutting down');
  await new Promise((resolve) => setTimeout(resolve, 50));
  await client.kv.put('w/a', 'after');
  const next = await stream.next();
  t.match(next.value, { type: 'put', key: 'w/a' }, 'events flow on the new subscription');
  await stream.return();
});
