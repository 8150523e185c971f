// A client library connection that has nothing to say pings (`whoami`) after idlePingMs of
// silence, so a node's idle timeout (docs/client-protocol.md, "Limits") never closes a connection
// that is merely waiting: a client that only watches, or sits between calls. Without the ping
// such a client was cut off at every idle timeout, reconnected, and left a warn line each time.
import t from 'tap';
import { connect } from '../../src/client/index.js';
import { idlePingMs } from '../../src/client/connection.js';
import { FakeClock } from './fixtures/fake-clock.js';
import { startSecureCluster } from '../server/fixtures/secure-cluster.js';

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

t.test('an idle connection pings before the node would close it', async (t) => {
  // The node closes after 1 s of silence (real time); the client's clock is driven by hand, a
  // ping period every 300 ms of real time.
  const cluster = await startSecureCluster({
    dir: t.testdir(),
    nodes: 1,
    overrides: { connectionLimits: { idleTimeoutMs: 1000 } },
  });
  t.teardown(() => cluster.close());
  const node = await cluster.waitForLeader();
  const clock = new FakeClock();
  const root = cluster.userPems.get('root')!;
  const client = await connect({
    endpoints: [`127.0.0.1:${node.clientAddress.port}`],
    clusterId: 'secure',
    tls: root,
    clock,
  });
  t.teardown(() => client.close());
  const watch = client.watch('config/');
  const seen: string[] = [];
  void (async () => {
    for await (const event of watch) seen.push(event.type === 'put' ? `put ${event.key}` : event.type);
  })().catch(() => undefined);
  await client.whoami();
  const connectionsBefore = node.statusView().connections;

  for (let i = 0; i < 10; i++) {
    await pause(300);
    clock.advance(idlePingMs);
  }
  const idleClosures = cluster.lines.filter((line) => line.includes('no frame for idleTimeoutMs'));
  t.same(idleClosures, [], '3 s of real time, three idle timeouts: the connection was never closed for idleness');
  t.equal(node.statusView().connections, connectionsBefore, 'the same connections are open');

  // The watch kept its connection throughout and still delivers.
  const writer = await connect({ endpoints: [`127.0.0.1:${node.clientAddress.port}`], clusterId: 'secure', tls: root });
  t.teardown(() => writer.close());
  await writer.kv.put('config/mode', 'blue');
  for (let i = 0; i < 50 && seen.length === 0; i++) await pause(50);
  t.same(seen, ['put config/mode'], 'the watch delivers');
});
