// Membership 3 → 5 → 3 under load, on real `raftlock start` processes: two `join: true` nodes are
// added as learners (one through the CLI, one through the client library), catch up, are promoted
// to voters, then removed again and stopped, one change at a time (Raft dissertation §4.1: single-
// server changes; §4.2.1: new servers join as non-voting members until caught up). Throughout,
// clients keep taking private and shared mutexes: every acquire succeeds (after retries), fencing
// tokens of each lock strictly increase, no mutex is granted to two clients at once, and at the end
// the three remaining voters agree on one leader. The cluster is secure: the lock clients are a
// user with a password and only lock and read rights, so every leader change and every node added
// or removed makes them prove the password again elsewhere, while root's certificate changes the
// membership.
import t from 'tap';
import { connect } from '../../src/client/index.js';
import type { RaftlockClient } from '../../src/client/index.js';
import type { NodeId } from '../../src/raft/types.js';
import { nodeId } from '../../src/raft/types.js';
import { probeStatus } from '../../src/server/server-probe.js';
import type { NodeStatusView } from '../../src/protocol/client-protocol.js';
import type { LockLoad as LockLoadType } from './fixtures/lock-load.js';
import { LockLoad } from './fixtures/lock-load.js';
import type { LocalNode, LocalRootTls } from './fixtures/procs.js';
import {
  eventually,
  allocateLocalNodes,
  runCli,
  nodeProcesses,
  pkiEnv,
  userTls,
  writeClusterFile,
} from './fixtures/procs.js';

const clusterId = 'e2e';
const clientCount = 4;
const sortedIds = (ids: readonly NodeId[]): string[] => [...ids].sort();

function status(node: LocalNode, tls: LocalRootTls): Promise<NodeStatusView | null> {
  return probeStatus({ host: '127.0.0.1', port: node.clientPort }, clusterId, 1000, tls);
}

/** The leader every listed node names, when they all name the same one and it is among them. */
async function agreedLeader(nodes: readonly LocalNode[], tls: LocalRootTls): Promise<NodeStatusView | undefined> {
  const views = await Promise.all(nodes.map((n) => status(n, tls)));
  const leaderId = views[0]?.leader ?? null;
  if (leaderId === null || !views.every((v) => v !== null && v.leader === leaderId)) return undefined;
  const leader = views.find((v) => v?.nodeId === leaderId);
  return leader === undefined || leader === null || leader.role !== 'leader' ? undefined : leader;
}

/**
 * The status of every node of `nodes`, once each sees exactly `voters` (ids joined by commas, in
 * order) as the voters and no learners.
 */
function votersAre(
  nodes: readonly LocalNode[],
  tls: LocalRootTls,
  voters: string,
  what: string,
): Promise<(NodeStatusView | null)[]> {
  return eventually(
    async () => {
      const views = await Promise.all(nodes.map((n) => status(n, tls)));
      const agree = views.every((v) => v !== null && sortedIds(v.voters).join() === voters && v.learners.length === 0);
      return agree ? views : undefined;
    },
    20_000,
    what,
  );
}

/** Resolves once every client has been granted at least one more lock than when it was called. */
async function progress(load: LockLoadType, what: string): Promise<void> {
  const before = Array.from({ length: load.clientCount }, (_, i) => load.grantsOf(i));
  await eventually(
    async () => (before.every((n, i) => load.grantsOf(i) > n) ? true : undefined),
    30_000,
    `every client to lock ${what}`,
  );
}

t.test('membership 3 → 5 → 3 while clients keep locking', async (t) => {
  const dir = t.testdir();
  const nodes = await allocateLocalNodes(5);
  const joiners = new Set(['n4', 'n5']);
  const all: LocalNode[] = nodes.map((n) => (joiners.has(n.id) ? { ...n, join: true } : n));
  const file = await writeClusterFile(dir, all);
  const tls = userTls(dir);
  const [n1, n2, n3, n4, n5] = all as [LocalNode, LocalNode, LocalNode, LocalNode, LocalNode];
  const founders = [n1, n2, n3];
  const { procs, start } = nodeProcesses(t, file);
  await Promise.all(founders.map((n) => start(n.id).ready));
  await eventually(() => agreedLeader(founders, tls), 15_000, 'a leader among n1–n3');

  const endpoints = founders.map((n) => `127.0.0.1:${n.clientPort}`);
  const clients: RaftlockClient[] = [];
  let loadRef: LockLoadType | null = null;
  t.teardown(async () => {
    // Loops first: a closed client must not keep a loop retrying.
    loadRef?.halt();
    for (const c of clients) await c.close().catch(() => undefined);
  });
  const admin = await connect({ endpoints, clusterId, tls });
  clients.push(admin);
  await admin.roles.add('locker');
  await admin.roles.grant('locker', '', ['lock', 'read']);
  await admin.users.add('app', { password: 'app password' });
  await admin.users.grant('app', 'locker');
  const app = { endpoints, clusterId, tls: { ca: tls.ca }, credentials: { user: 'app', password: 'app password' } };
  for (let i = 0; i < clientCount; i++) clients.push(await connect(app));
  t.match(await clients[1]!.whoami(), { principal: 'app', admin: false }, 'the lock clients act as app, not an admin');
  const load = new LockLoad(clients.slice(1), ['shared/a', 'shared/b']);
  loadRef = load;
  await progress(load, 'on 3 voters');

  /** `raftlock members …` against n1–n3; a refusal while the cluster is busy is retried. */
  const cli = async (args: readonly string[]): Promise<void> => {
    let last = '';
    for (let attempt = 0; attempt < 10; attempt++) {
      const result = await runCli(
        ['members', ...args, '--endpoints', endpoints.join(','), '--cluster-id', clusterId],
        30_000,
        pkiEnv(dir),
      );
      if (result.code === 0) return;
      last = `exit ${String(result.code)}: ${result.output}`;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    throw new Error(`raftlock members ${args.join(' ')} kept failing; ${last}`);
  };
  /** The same through the client library, without addresses: they come from cluster.yml. */
  const library = async (action: 'addLearner' | 'promote' | 'remove', node: LocalNode): Promise<void> => {
    let last: unknown;
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        await admin.members(action, { node: nodeId(node.id) });
        return;
      } catch (error: unknown) {
        last = error;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    }
    throw new Error(`members ${action} ${node.id} kept failing: ${String(last)}`);
  };

  // 3 → 3 + 2 learners.
  await Promise.all([start(n4.id).ready, start(n5.id).ready]);
  await cli(['add', n4.id, '--peer', `127.0.0.1:${n4.peerPort}`, '--client', `127.0.0.1:${n4.clientPort}`]);
  await library('addLearner', n5);
  const withLearners = await eventually(
    async () => {
      const leader = await agreedLeader(founders, tls);
      return leader !== undefined && sortedIds(leader.learners).join() === 'n4,n5' ? leader : undefined;
    },
    15_000,
    'n4 and n5 to be learners',
  );
  t.same(sortedIds(withLearners.voters), ['n1', 'n2', 'n3'], 'learners do not vote');
  // Caught up: each learner has applied everything the leader had committed a moment ago.
  const commitBefore = withLearners.commit;
  for (const learner of [n4, n5]) {
    const view = await eventually(
      async () => {
        const s = await status(learner, tls);
        return s !== null && s.applied >= commitBefore ? s : undefined;
      },
      20_000,
      `${learner.id} to catch up to ${commitBefore}`,
    );
    t.equal(view.role, 'follower', `${learner.id} follows the leader`);
  }
  await progress(load, 'with two learners');

  // Promote both: 5 voters.
  await cli(['promote', n4.id]);
  await library('promote', n5);
  const five = await votersAre(all, tls, 'n1,n2,n3,n4,n5', 'all five nodes to see five voters');
  t.equal(five.length, 5, 'every node reports five voters and no learners');
  await progress(load, 'on 5 voters');

  // Remove both again, then stop them.
  await cli(['remove', n4.id]);
  await library('remove', n5);
  const three = await votersAre(founders, tls, 'n1,n2,n3', 'n1–n3 to see three voters again');
  t.equal(three.length, 3, 'n1–n3 report three voters and no learners');
  for (const removed of [n4, n5]) {
    const p = procs.get(removed.id)!;
    p.kill('SIGTERM');
    t.equal(await p.exited, 0, `removed ${removed.id} stops cleanly`);
  }
  await progress(load, 'after n4 and n5 left');

  const report = await load.stop();
  t.comment(
    `${report.grants.length} grants; retried: ${JSON.stringify([...report.retries])}; lost holds: ${report.lostHolds}`,
  );
  t.same(report.abandoned, [], 'every acquire eventually succeeded');
  t.same(report.overlaps, [], 'no mutex was granted while another client held it');
  t.same(report.fenceFailures, [], "every holder's token was current while it held the lock");
  const lastToken = new Map<string, number>();
  const regressions: string[] = [];
  for (const g of report.grants) {
    const previous = lastToken.get(g.name) ?? 0;
    if (g.token <= previous) regressions.push(`${g.name}: ${g.token} after ${previous}`);
    lastToken.set(g.name, g.token);
  }
  t.same(regressions, [], 'fencing tokens of each lock strictly increase');
  t.ok(
    report.grants.filter((g) => g.name.startsWith('shared/')).length > 0,
    'shared locks were handed between clients',
  );

  const finalLeader = await eventually(() => agreedLeader(founders, tls), 15_000, 'n1–n3 to agree on a leader');
  t.same(sortedIds(finalLeader.voters), ['n1', 'n2', 'n3'], 'the final status shows three voters');
  t.ok(['n1', 'n2', 'n3'].includes(finalLeader.nodeId), 'the leader is one of them');
});
