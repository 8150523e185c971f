// Proves that a member removed from the chaos cluster and re-added empty still talks to its peers
// only through the proxy mesh: each node dials the addresses in its own cluster file (the proxy
// ports) and a membership change names node ids, not addresses (Raft dissertation §4.1, membership
// changes are log entries over server ids). Three real node processes; one follower is removed,
// re-added and caught up, then every link to and from it is dropped at the proxies. The cluster
// keeps committing writes while the re-added node's applied index stays where it was over several
// election timeouts, and the leader's link towards it discards what it sends; once the links heal
// the node catches up to the same applied index as the others (§3.5: the leader repairs a
// follower's log once it can reach it again). The cluster is secure (TLS through the proxies, which
// relay bytes they cannot read); the writer acts as root.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { connect } from '../../src/client/client.js';
import type { RaftlockClient } from '../../src/client/client.js';
import { NodeCluster } from '../../src/chaos/node-cluster.js';

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const tickMs = 50;
const electionTicks = 10;
const electionTimeoutMs = tickMs * electionTicks;

/** Polls `probe` until it returns a value, failing with `what` after `timeoutMs`. */
async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await pause(100);
  }
}

t.test('links to a re-added node pass through the proxies: cutting them stops its log', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'raftlock-rejoin-test-'));
  const cluster = await NodeCluster.start({
    dir,
    count: 3,
    clusterId: 'rejoin',
    tickMs,
    electionTicks,
    sessionTtlMinMs: 500,
    logLevel: 'info',
  });
  let client: RaftlockClient | null = null;
  t.teardown(async () => {
    await client?.close().catch(() => undefined);
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const first = await cluster.waitForLeader(20_000);
  if (first === null) throw new Error('no leader after start');
  const ids = cluster.nodes.map((n) => n.id);
  const rejoiner = ids.find((id) => id !== first) as string;
  const others = ids.filter((id) => id !== rejoiner);

  await cluster.removeMember(rejoiner);
  t.same(await cluster.memberIds(), others, `${rejoiner} is out of the membership`);
  const carried = (from: string, to: string): number => cluster.mesh.link(from, to).stats().forwardedBytes;
  const carriedWhileOut = new Map(
    others.flatMap(
      (id) =>
        [
          [`${id}->${rejoiner}`, carried(id, rejoiner)],
          [`${rejoiner}->${id}`, carried(rejoiner, id)],
        ] as const,
    ),
  );
  await cluster.addMember(rejoiner);
  t.same(await cluster.memberIds(), ids, `${rejoiner} is a member again`);
  t.ok(await cluster.waitConverged(20_000), 'the re-added node caught up');

  // The cut below is meant for a follower: if the re-added node leads by now, hand leadership back.
  if ((await cluster.waitForLeader(10_000)) === rejoiner) {
    await cluster.transferLeadership(first);
    await eventually('leadership moves off the re-added node', 10_000, async () =>
      (await cluster.leader()) === first ? true : null,
    );
  }
  const leader = await cluster.waitForLeader(10_000);
  if (leader === null || leader === rejoiner) throw new Error(`unexpected leader ${String(leader)} after re-adding`);
  const leaderNode = cluster.nodes.find((n) => n.id === leader);
  if (leaderNode === undefined) throw new Error(`no node ${leader}`);
  t.ok(
    carried(leader, rejoiner) > (carriedWhileOut.get(`${leader}->${rejoiner}`) ?? 0),
    'since re-adding, the leader reached the node through its proxy',
  );
  t.ok(
    carried(rejoiner, leader) > (carriedWhileOut.get(`${rejoiner}->${leader}`) ?? 0),
    'since re-adding, the node reached the leader through its proxy',
  );
  const toRejoiner = cluster.mesh.link(leader, rejoiner);

  const writer = await connect({
    endpoints: [`127.0.0.1:${leaderNode.clientPort}`],
    clusterId: 'rejoin',
    tls: cluster.rootTls,
    requestTimeoutMs: 5000,
  });
  client = writer;
  await writer.kv.put('before-cut', 'x');
  const caughtUp = await eventually('the put reaches the re-added node', 10_000, async () => {
    const [mine, theirs] = await Promise.all([cluster.status(rejoiner), cluster.status(leader)]);
    return mine !== null && theirs !== null && mine.applied === theirs.applied ? mine.applied : null;
  });

  const blocked = cluster.mesh.partition({ kind: 'isolate', node: rejoiner });
  const expected = others.flatMap((id) => [`${id}->${rejoiner}`, `${rejoiner}->${id}`]);
  t.same(blocked.sort(), expected.sort(), 'every link to and from the re-added node is dropped');
  const discardedBefore = toRejoiner.stats().discardedBytes;
  // The leader may commit an entry of its own between the catch-up read and the cut, and a frame
  // already through the proxy is still applied: the node's index is read once the cut has settled.
  await pause(300);
  const atCut = (await cluster.status(rejoiner))?.applied ?? -1;
  t.ok(atCut >= caughtUp, `the node kept what it had caught up to (${caughtUp}, ${atCut} at the cut)`);
  for (let i = 0; i < 5; i++) await writer.kv.put(`during-cut-${i}`, String(i));
  const leaderApplied = (await cluster.status(leader))?.applied ?? -1;
  t.ok(leaderApplied > atCut, 'the majority kept committing while the node was cut off');
  const seen = new Set<number>();
  const watchUntil = Date.now() + 4 * electionTimeoutMs;
  while (Date.now() < watchUntil) {
    const view = await cluster.status(rejoiner);
    if (view !== null) seen.add(view.applied);
    await pause(100);
  }
  t.same([...seen], [atCut], `the cut-off node's applied index stayed at ${atCut} over four election timeouts`);
  t.ok(toRejoiner.stats().discardedBytes > discardedBefore, "the leader's messages to it were discarded at the proxy");

  cluster.mesh.heal();
  await writer.kv.put('after-heal', 'y');
  const applied = await eventually('the re-added node catches up after healing', 15_000, async () => {
    const views = await Promise.all(cluster.nodes.map((n) => cluster.status(n.id)));
    const indexes = new Set(views.map((v) => v?.applied ?? -1));
    const only = [...indexes][0];
    return indexes.size === 1 && only !== undefined && only >= 0 ? only : null;
  });
  t.ok(applied > leaderApplied, `every node applied the same index (${applied}), past the writes made during the cut`);
});
