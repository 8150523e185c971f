// A follower that is stopped while the others write 100,000 entries and compact their logs comes
// back and catches up through InstallSnapshot, on real processes (Raft §7: a leader sends its
// snapshot to a follower whose next entry it has already discarded). Proves the snapshot policy of
// cluster.yml reaches the host and LevelLog, and that the restored follower serves the latest state.
import t from 'tap';
import { probeStatus } from '../../src/server/server-probe.js';
import type { SessionId } from '../../src/statemachine/ids.js';
import {
  eventually,
  allocateLocalNodes,
  leaderNamedBy,
  nodeProcesses,
  userTls,
  writeClusterFile,
} from './fixtures/procs.js';
import { RawClient } from './fixtures/raw-client.js';

const entriesBehind = 100_000;

t.test('a follower 100,000 entries behind catches up by snapshot', async (t) => {
  const dir = t.testdir();
  const nodes = await allocateLocalNodes(3);
  const file = await writeClusterFile(dir, nodes, { snapshotEntries: 20_000 });
  const tls = userTls(dir);
  // Info level: the test reads the catching-up node's log lines.
  const { procs, start } = nodeProcesses(t, file, 'info');
  await Promise.all(nodes.map((n) => start(n.id).ready));
  const leaderId = await leaderNamedBy(nodes[0]!, tls);
  const leader = nodes.find((n) => n.id === leaderId)!;
  const lagging = nodes.find((n) => n.id !== leaderId)!;
  procs.get(lagging.id)!.kill('SIGTERM');
  t.equal(await procs.get(lagging.id)!.exited, 0, 'follower stopped cleanly');

  const client = await RawClient.connect({ port: leader.clientPort, tls });
  t.teardown(() => client.close());
  const open = { type: 'openSession', ttlMs: 600_000 } as const;
  let opened = await client.command('w0', 1, open);
  // Stopping a follower on a loaded machine can cost the leader its lease for a moment: an unknown
  // outcome is retried with the same (clientId, seq), as the writers below do.
  while (opened.code === 'UNAVAILABLE') opened = await client.command('w0', 1, open);
  if (opened.code !== 'OK' || opened.value.kind !== 'session') throw new Error(JSON.stringify(opened));
  const session = opened.value.session as SessionId;
  const before = (await probeStatus({ host: '127.0.0.1', port: leader.clientPort }, 'e2e', 2000, tls))!.lastIndex;

  // 256 writers, each with its own client id and one request at a time: many proposals per fsync.
  const writers = 256;
  const perWriter = Math.ceil(entriesBehind / writers);
  let failures = 0;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let seq = 1; seq <= perWriter; seq++) {
        const value = new Uint8Array([w & 0xff, seq & 0xff]);
        const put = {
          type: 'put',
          session,
          key: `k/${w}`,
          value,
          ifVersion: null,
          ephemeral: false,
          fence: null,
        } as const;
        let r = await client.command(`writer-${w}`, seq, put);
        // A leader change on a loaded machine makes an outcome unknown: retry the same seq.
        while (r.code === 'UNAVAILABLE') r = await client.command(`writer-${w}`, seq, put);
        if (r.code !== 'OK') failures += 1;
      }
    }),
  );
  t.equal(failures, 0, 'every write acknowledged');
  const leaderStatus = (await probeStatus({ host: '127.0.0.1', port: leader.clientPort }, 'e2e', 2000, tls))!;
  t.ok(leaderStatus.lastIndex - before >= entriesBehind, `the log grew by ${leaderStatus.lastIndex - before} entries`);
  t.ok(leaderStatus.snapshotIndex > before, 'the leader compacted its log by snapshot');

  const back = start(lagging.id);
  await back.ready;
  const caughtUp = await eventually(
    async () => {
      const s = await probeStatus({ host: '127.0.0.1', port: lagging.clientPort }, 'e2e', 1000, tls);
      return s !== null && s.applied >= leaderStatus.commit ? s : undefined;
    },
    60_000,
    'the follower to catch up',
  );
  t.ok(caughtUp.snapshotIndex > before, `the follower holds a snapshot (index ${caughtUp.snapshotIndex})`);
  t.match(back.output(), /installed snapshot from the leader/, 'it was installed from the leader');
  const reader = await RawClient.connect({ port: lagging.clientPort, tls });
  const read = await reader.request({ kind: 'read', query: { kind: 'get', key: 'k/7' } });
  t.match(
    read,
    { code: 'OK', value: { kind: 'key', key: { version: perWriter } } },
    'the follower serves the latest value',
  );
  reader.close();
});
