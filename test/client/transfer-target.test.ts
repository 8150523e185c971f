// `leader transfer` to the leader itself, to an unknown node or to a learner fails at once with
// INVALID_ARGUMENT (exit 2 in the CLI), instead of retrying until the timeout.
import t from 'tap';
import { connect } from '../../src/client/client.js';
import { nodeId } from '../../src/raft/types.js';
import { startCluster } from '../../src/embed/embed.js';

void t.test('a transfer to a node that cannot lead is refused at once', async (t) => {
  const cluster = await startCluster({ nodes: 3 });
  t.teardown(() => cluster.close());
  const leader = await cluster.waitForLeader();
  const client = await connect({ ...cluster.connectOptions(), requestTimeoutMs: 20_000 });
  t.teardown(() => client.abandon());
  for (const [to, why] of [
    [leader.nodeId, /is already the leader/],
    [nodeId('n9'), /n9 is not a voter/],
  ] as const) {
    const started = Date.now();
    await t.rejects(client.transferLeader(to), { code: 'INVALID_ARGUMENT', message: why }, `to ${to}`);
    t.ok(Date.now() - started < 5_000, `to ${to}: at once (${Date.now() - started} ms)`);
  }
});
