// A request larger than a frame is refused by the client before sending: INVALID_ARGUMENT, not an
// unknown outcome after the node drops the connection.
import t from 'tap';
import { connect } from '../../src/client/client.js';
import { MiniCluster } from './fixtures/mini-cluster.js';

void t.test('a value over the frame limit is refused before sending', async (t) => {
  const cluster = await MiniCluster.start(1);
  const client = await connect({
    endpoints: cluster.endpoints,
    frameBytesMax: 64 * 1024,
    requestTimeoutMs: 5_000,
    backoff: { baseMs: 5, maxMs: 20 },
  });
  t.teardown(async () => {
    client.abandon();
    await cluster.close();
  });
  const started = Date.now();
  await t.rejects(client.kv.put('big', new Uint8Array(100 * 1024)), {
    code: 'INVALID_ARGUMENT',
    message: /over the frame limit of 65536 bytes/,
  });
  t.ok(Date.now() - started < 2_000, 'at once, not after retries');
  t.equal(cluster.applied.filter((r) => r.name === 'big').length, 0, 'never sent');
  t.equal((await client.kv.put('small', new Uint8Array(1024))).version, 1, 'the client still works');
});
