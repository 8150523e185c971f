// Metrics of a real 3-node in-process cluster under a small workload: the scraped text parses
// strictly, and the counters move as the workload implies (grants counted on every node equal the
// grants the clients saw, requests and latencies per op on the node the clients talk to, proposals
// cover the commands, fsyncs happened, sessions and holds by kind match what is open and held,
// leader changes and elections after a leadership transfer); readiness flips to not ready with a
// reason on a node left without a leader.
import t from 'tap';
import type { RaftlockClient } from '../../src/client/client.js';
import { connect } from '../../src/client/client.js';
import type { Lock } from '../../src/client/lock.js';
import {
  healthAnswer,
  metricsAnswer,
  metricsContentType,
  readinessAnswer,
  renderMetrics,
} from '../../src/metrics/index.js';
import type { ClusterHandle } from '../../src/embed/embed.js';
import { startCluster } from '../../src/embed/embed.js';
import type { NodeServer } from '../../src/server/node-server.js';
import { until } from '../fixtures/until.js';
import type { Family } from './fixtures/prom-text.js';
import { parsePrometheusText, valueOf } from './fixtures/prom-text.js';

async function scrape(node: NodeServer): Promise<Map<string, Family>> {
  return parsePrometheusText(await renderMetrics(node.metrics));
}

/** Every running node has applied everything the leader has committed. */
async function settled(cluster: ClusterHandle): Promise<void> {
  await until(() => {
    const leader = cluster.leader();
    if (leader === null) return false;
    const commit = leader.statusView().commit;
    return cluster.nodes.every((n) => n.isStopped || n.statusView().applied >= commit);
  }, "every node applied the leader's commit");
}

void t.test('metrics of a 3-node cluster under a workload', async (t) => {
  // Secure (the default): TLS and root's certificate, as a real deployment runs.
  const cluster = await startCluster({ nodes: 3 });
  const clients: RaftlockClient[] = [];
  t.teardown(async () => {
    for (const client of clients) client.abandon();
    await cluster.close();
  });
  // The machine is shared and slow at times: an election may come in the middle, so what is
  // checked per node holds whoever leads, and the clients stay on one node (the first leader),
  // whose request counters then see each of their requests exactly once.
  const served = await cluster.waitForLeader();
  const endpoint = cluster.endpoints.find((e) => e.id === served.nodeId)?.client ?? '';
  const open = async (): Promise<RaftlockClient> => {
    const client = await connect({ ...cluster.connectOptions(), endpoints: [endpoint], followLeader: false });
    clients.push(client);
    return client;
  };
  const [a, b, c] = [await open(), await open(), await open()];
  const before = await scrape(served);
  const acquiresOkBefore = valueOf(before, 'raftlock_client_requests_total', { op: 'acquire', code: 'OK' });

  let grantsSeen = 0;
  let acquires = 0;
  const pairs = 20;
  for (let i = 0; i < pairs; i++) {
    const lock = await a.lock(`own-${i % 3}`, { waitMs: 0 });
    acquires += 1;
    grantsSeen += 1;
    await lock.release();
  }
  // A hand-off: b holds, c queues, b releases, c is granted by a push.
  const held = await b.lock('handoff');
  const waiting = c.lock('handoff', { waitMs: 10_000 });
  await until(async () => (await b.locks('handoff'))[0]?.waiters.length === 1, 'c waits');
  await new Promise((resolve) => setTimeout(resolve, 30));
  await held.release();
  const handedOff = await waiting;
  await handedOff.release();
  acquires += 2;
  grantsSeen += 2;
  // Held at the scrape: two mutexes, a semaphore by two sessions, an rwlock read by three.
  const kept: Lock[] = [await a.lock('m1'), await b.lock('m2')];
  acquires += 2;
  kept.push(await a.semaphore('s', 3).acquire(), await b.semaphore('s', 3).acquire());
  kept.push(await a.rwlock('r').read(), await b.rwlock('r').read(), await c.rwlock('r').read());
  grantsSeen += kept.length;
  await settled(cluster);

  const parsed = await Promise.all(cluster.nodes.map(scrape));
  for (const [i, metrics] of parsed.entries()) {
    const node = cluster.nodes[i]?.nodeId ?? '?';
    t.equal(
      valueOf(metrics, 'raftlock_lock_grants_total'),
      grantsSeen,
      `${node}: grants counted = grants the clients saw`,
    );
    t.equal(
      valueOf(metrics, 'raftlock_lock_handoff_wait_seconds_count', { kind: 'mutex' }),
      1,
      `${node}: one hand-off`,
    );
    t.ok(
      valueOf(metrics, 'raftlock_lock_handoff_wait_seconds_sum', { kind: 'mutex' }) >= 0.02,
      `${node}: it waited at least the test's pause (log time)`,
    );
    t.equal(
      valueOf(metrics, 'raftlock_lock_hold_seconds_count', { kind: 'mutex' }),
      pairs + 2,
      `${node}: every released mutex hold timed`,
    );
    t.equal(valueOf(metrics, 'raftlock_sessions'), 3, `${node}: sessions gauge = the three open sessions`);
    t.equal(valueOf(metrics, 'raftlock_lock_holds', { kind: 'mutex' }), 2, `${node}: mutexes held`);
    t.equal(valueOf(metrics, 'raftlock_lock_holds', { kind: 'semaphore' }), 2, `${node}: semaphore permits held`);
    t.equal(valueOf(metrics, 'raftlock_lock_holds', { kind: 'rwlock' }), 3, `${node}: rwlock readers`);
    t.equal(valueOf(metrics, 'raftlock_lock_holds', { kind: 'election' }), 0, `${node}: no election held`);
    t.ok(
      valueOf(metrics, 'raftlock_storage_fsync_duration_seconds_count', { sync: 'true' }) > 0,
      `${node}: fsyncs measured`,
    );
    t.ok(valueOf(metrics, 'raftlock_storage_entries_per_sync_sum') > 0, `${node}: entries made durable`);
    t.ok(valueOf(metrics, 'raftlock_storage_written_bytes_total') > 0, `${node}: bytes written`);
    t.ok(valueOf(metrics, 'raftlock_storage_disk_bytes') > 0, `${node}: data directory size`);
    t.ok(
      valueOf(metrics, 'raftlock_raft_applied_index') >= valueOf(metrics, 'raftlock_raft_commit_index') - 0,
      `${node}: applied caught up`,
    );
    t.equal(valueOf(metrics, 'raftlock_raft_role'), 1, `${node}: one role is current`);
    t.ok(
      valueOf(metrics, 'raftlock_raft_messages_sent_total', { type: 'AppendEntries' }) +
        valueOf(metrics, 'raftlock_raft_messages_received_total', { type: 'AppendEntries' }) >
        0,
      `${node}: sent or received AppendEntries`,
    );
    t.ok(valueOf(metrics, 'raftlock_raft_term') >= 1, `${node}: term`);
    t.ok(
      valueOf(metrics, 'raftlock_process_resident_memory_bytes', { node }) > 0,
      `${node}: process metrics, with the node label`,
    );
    t.ok(valueOf(metrics, 'raftlock_nodejs_heap_size_used_bytes') > 0, `${node}: heap`);
  }
  const onServed = parsed[cluster.nodes.indexOf(served)] ?? new Map<string, Family>();
  // Sessions, then mutex acquires, releases, and the semaphore and rwlock acquires.
  const commands = 3 + acquires + (pairs + 2) + (kept.length - 2);
  const proposed = parsed.reduce((sum, metrics) => sum + valueOf(metrics, 'raftlock_raft_proposals_total'), 0);
  t.ok(proposed >= commands, `the leaders proposed at least every command (${proposed} ≥ ${commands})`);
  t.ok(valueOf(onServed, 'raftlock_raft_entries_per_batch_count') > 0, 'write batches counted');
  // During an election a request may be answered UNAVAILABLE and retried: the OKs are exact.
  const acquiresOk =
    valueOf(onServed, 'raftlock_client_requests_total', { op: 'acquire', code: 'OK' }) - acquiresOkBefore;
  t.equal(acquiresOk, acquires, "acquires answered OK on the clients' node = acquires made");
  t.equal(
    valueOf(onServed, 'raftlock_client_request_duration_seconds_count', { op: 'acquire' }),
    valueOf(onServed, 'raftlock_client_requests_total', { op: 'acquire' }),
    'each one timed',
  );
  t.ok(valueOf(onServed, 'raftlock_client_pushes_total', { kind: 'granted' }) >= 1, 'the hand-off was pushed');
  t.equal(valueOf(onServed, 'raftlock_client_connections'), 3, 'three client connections');

  const answer = await metricsAnswer(served.metrics);
  t.equal(answer.status, 200);
  t.equal(answer.contentType, metricsContentType);
  t.match(answer.contentType, /^text\/plain; version=0\.0\.4/);
  t.same(JSON.parse(healthAnswer(served.metrics).body), { healthy: true, reason: `node ${served.nodeId} is serving` });
  await cluster.waitForLeader();
  for (const node of cluster.nodes) {
    const ready = readinessAnswer(node.metrics);
    t.equal(ready.status, 200, `${node.nodeId} is ready: ${ready.body}`);
    t.match(JSON.parse(ready.body), { ready: true, reason: /is a voter, leader n\d/ });
  }
  for (const lock of kept) await lock.release();

  await t.test(
    'a leadership transfer is a leader change on every node and an election on the new leader',
    async (t) => {
      const leader = await cluster.waitForLeader();
      const changes = await Promise.all(
        cluster.nodes.map(async (n) => valueOf(await scrape(n), 'raftlock_raft_leader_changes_total')),
      );
      const target = cluster.nodes.find((n) => n !== leader);
      if (target === undefined) throw new Error('no follower');
      const elections = valueOf(await scrape(target), 'raftlock_raft_elections_started_total');
      await a.transferLeader(target.nodeId);
      await until(() => cluster.nodes.every((n) => n.leader === target.nodeId), 'the transfer completed');
      for (const [i, node] of cluster.nodes.entries()) {
        t.ok(
          valueOf(await scrape(node), 'raftlock_raft_leader_changes_total') > (changes[i] ?? 0),
          `${node.nodeId} saw the change`,
        );
      }
      t.ok(
        valueOf(await scrape(target), 'raftlock_raft_elections_started_total') >= elections + 1,
        'the target ran an election',
      );
      t.equal(valueOf(await scrape(target), 'raftlock_raft_role', { role: 'leader' }), 1);
    },
  );

  await t.test('a snapshot taken on demand is counted', async (t) => {
    const node = cluster.nodes[0];
    if (node === undefined) throw new Error('no node');
    const direct = await connect({
      ...cluster.connectOptions(),
      endpoints: [cluster.endpoints[0]?.client ?? ''],
      followLeader: false,
    });
    clients.push(direct);
    const index = await direct.snapshot();
    // The snapshot is encoded on a worker thread and written at a later drain: seconds on a busy machine.
    const written = async (): Promise<boolean> =>
      valueOf(await scrape(node), 'raftlock_snapshots_total', { kind: 'taken' }) >= 1;
    await until(
      written,
      `the snapshot at ${index} was written (the node's snapshot index is ${node.statusView().snapshotIndex})`,
      30_000,
    );
    t.ok(node.statusView().snapshotIndex >= index, 'the node has the snapshot');
    t.ok(
      valueOf(await scrape(node), 'raftlock_snapshot_take_duration_seconds_count') >= 1,
      'its duration measured (background mode)',
    );
  });

  await t.test('readiness flips to not ready on a node left without a leader', async (t) => {
    const [survivor, ...others] = cluster.nodes;
    if (survivor === undefined) throw new Error('no node');
    await Promise.all(others.map((n) => n.close()));
    await until(() => !survivor.metrics.readiness().ready, 'the survivor is not ready', 15_000);
    const answer = readinessAnswer(survivor.metrics);
    t.equal(answer.status, 503);
    t.match(JSON.parse(answer.body), { ready: false, reason: new RegExp(`node ${survivor.nodeId} knows no leader`) });
    t.equal(healthAnswer(survivor.metrics).status, 200, 'still healthy: the process serves');
    t.equal(valueOf(await scrape(survivor), 'raftlock_raft_leader_known'), 0);
    const closed = others[0];
    if (closed === undefined) throw new Error('no closed node');
    t.match(closed.metrics.readiness(), { ready: false, reason: /has stopped/ }, 'a closed node is not ready');
  });
});
