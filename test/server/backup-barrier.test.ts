// A backup is encoded only past a read barrier (docs/operations.md, "Backup and restore"): a
// leader that cannot confirm with a quorum that it still leads encodes nothing, so a backup never
// misses a write that another leader acknowledged meanwhile.
import t from 'tap';
import { connect } from '../../src/client/index.js';
import { RaftlockError } from '../../src/client/errors.js';
import { startCluster } from '../../src/embed/embed.js';

t.test('a leader cut off from its quorum refuses a backup instead of encoding what it has', async (t) => {
  // An election timeout of 3 s: the leader goes on believing it leads for that long (CheckQuorum).
  const cluster = await startCluster({ insecure: true, tickMs: 20, electionTicks: 150 });
  t.teardown(() => cluster.close());
  const leader = await cluster.waitForLeader();
  const client = await connect({
    ...cluster.connectOptions(),
    endpoints: [leader.endpoint.client],
    followLeader: false,
    requestTimeoutMs: 1_500,
  });
  t.teardown(() => client.abandon());
  await client.kv.put('acknowledged', 'before the backup');
  const taken = await client.backupChunk(0, 0);
  t.ok(taken.total > 0, 'a leader that hears its quorum backs up');

  for (const node of cluster.nodes) if (node !== leader) await node.close();
  t.equal(leader.statusView().role, 'leader', 'the cut-off leader has not stepped down yet');
  const refused = await client.backupChunk(0, 0).then(
    () => null,
    (error: unknown) => error,
  );
  t.ok(refused instanceof RaftlockError, 'no backup was answered');
  t.equal(refused instanceof RaftlockError ? refused.code : null, 'UNAVAILABLE');
});
