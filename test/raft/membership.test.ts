// Membership changes one server at a time (Raft dissertation §4.1–§4.2): learners, promotion,
// removal (the leader too), one pending change at a time, and configurations that take effect when
// appended and roll back when their entry is truncated.
import t from 'tap';
import type { ConfChange, NodeId } from '../../src/raft/types.js';
import { nodeId } from '../../src/raft/types.js';
import { Cluster, bytes, ids } from './fixtures/cluster.js';

const [n1, n2, n3] = ids(3) as [NodeId, NodeId, NodeId];
const n4 = nodeId('n4');

function change(c: Cluster, leader: NodeId, cc: ConfChange): void {
  const result = c.node(leader).proposeConfChange(cc);
  if (!result.ok) throw new Error(`conf change refused: ${JSON.stringify(result.error)}`);
  c.stabilize();
  c.tickAll(1);
}

t.test('a learner receives the log (and the membership) but never counts toward a quorum (§4.2.1)', async (t) => {
  const c = new Cluster(ids(3), { joiners: [n4] });
  c.elect(n1);
  c.propose(n1, 'before');
  c.stabilize();
  change(c, n1, { type: 'addLearner', node: n4 });
  t.same(c.status(n4).conf, { voters: [n1, n2, n3], learners: [n4] }, 'joiner learned the membership from the log');
  t.same(c.commands(n4), ['before'], 'learner caught up');
  const commit = c.status(n1).commit;
  c.isolate(n2);
  c.isolate(n3);
  c.propose(n1, 'x');
  c.tickAll(3);
  t.equal(c.status(n1).commit, commit, 'leader + learner is no quorum');
  t.equal(c.disk(n4).entries.at(-1)?.index, commit + 1, 'yet the learner holds the entry');
  c.heal();
  c.tickAll(50);
  t.not(c.status(n4).role, 'leader', 'a learner never campaigns');
  t.equal(c.status(n4).term, c.status(c.leader()!).term);
});

t.test('promoteLearner makes the learner a voter that counts and can lead', async (t) => {
  const c = new Cluster(ids(3), { joiners: [n4] });
  c.elect(n1);
  change(c, n1, { type: 'addLearner', node: n4 });
  change(c, n1, { type: 'promoteLearner', node: n4 });
  for (const id of c.ids) t.same(c.status(id).conf, { voters: [n1, n2, n3, n4], learners: [] }, id);
  // With four voters, three are needed: n1, n2 and n4 commit without n3.
  c.isolate(n3);
  c.propose(n1, 'y');
  c.tickAll(2);
  t.same(c.commands(n4), ['y']);
  c.heal();
  c.crash(n1);
  c.tickAll(30);
  t.ok(c.leader() !== null);
  t.equal(c.checkApplied(), null);
  // n4 is electable now: give it the lead by transfer to prove it.
  const leader = c.leader()!;
  if (leader !== n4) {
    t.ok(c.node(leader).transferLeadership(n4).ok);
    c.stabilize();
  }
  t.equal(c.status(n4).role, 'leader', 'the promoted node can lead');
});

t.test('removing a voter: it stops counting and stops receiving entries', async (t) => {
  const c = new Cluster(ids(3));
  c.elect(n1);
  change(c, n1, { type: 'removeNode', node: n3 });
  for (const id of [n1, n2]) t.same(c.status(id).conf, { voters: [n1, n2], learners: [] }, id);
  const before = c.delivered.length;
  c.propose(n1, 'z');
  c.tickAll(2);
  t.same(c.commands(n2), ['z'], 'two voters commit');
  t.notOk(
    c.delivered.slice(before).some((m) => m.to === n3),
    'nothing is sent to the removed node',
  );
  t.notOk(c.status(n1).progress.some((p) => p.id === n3));
  t.same(c.status(n3).conf.voters, [n1, n2], 'the removed node got its removal entry');
  const term = c.status(n3).term;
  c.tickAll(60);
  t.equal(c.status(n3).term, term, 'so it never campaigns');
  t.equal(c.status(n3).role, 'follower');
});

t.test('removing the leader: it steps down once the removal commits and never campaigns (§4.2.2)', async (t) => {
  const c = new Cluster(ids(3), { seed: 19 });
  c.elect(n1);
  const result = c.node(n1).proposeConfChange({ type: 'removeNode', node: n1 });
  t.ok(result.ok);
  t.same(c.status(n1).conf.voters, [n2, n3], 'in force at once, on the leader too');
  t.equal(c.status(n1).role, 'leader', 'still leading until the removal commits');
  c.stabilize();
  t.equal(c.status(n1).role, 'follower', 'stepped down once committed');
  t.ok(c.status(n2).commit >= (result.ok ? result.value.index : 0), 'the removal committed');
  c.tickAll(40);
  const leader = c.leader();
  t.ok(leader === n2 || leader === n3, `new leader ${leader}`);
  c.propose(leader!, 'after');
  c.stabilize();
  c.tickAll(1);
  t.same(c.commands(leader === n2 ? n3 : n2), ['after']);
  t.not(c.status(n1).role, 'leader', 'the removed node never leads');
  t.notOk(c.status(n1).role === 'candidate' || c.status(n1).role === 'preCandidate', 'nor campaigns');
});

t.test('one change at a time; invalid changes are refused', async (t) => {
  const c = new Cluster(ids(3), { joiners: [n4] });
  c.elect(n1);
  c.isolate(n2);
  c.isolate(n3);
  t.ok(c.node(n1).proposeConfChange({ type: 'addLearner', node: n4 }).ok);
  t.equal(c.status(n1).pendingConfIndex, c.status(n1).lastIndex);
  const second = c.node(n1).proposeConfChange({ type: 'removeNode', node: n3 });
  t.ok(!second.ok && second.error.code === 'DROPPED' && second.error.reason === 'config-change-pending');
  c.heal();
  c.tickAll(2);
  t.equal(c.status(n1).pendingConfIndex, 0);
  const cases: ConfChange[] = [
    { type: 'addLearner', node: n2 },
    { type: 'promoteLearner', node: n3 },
    { type: 'removeNode', node: nodeId('n7') },
  ];
  for (const cc of cases) {
    const r = c.node(n1).proposeConfChange(cc);
    t.ok(!r.ok && r.error.code === 'DROPPED' && r.error.reason === 'invalid-config-change', `${cc.type}(${cc.node})`);
  }
  const notLeader = c.node(n2).proposeConfChange({ type: 'removeNode', node: n3 });
  t.ok(!notLeader.ok && notLeader.error.code === 'NOT_LEADER');
});

t.test('a configuration takes effect when appended and is rolled back if its entry is truncated (§4.1)', async (t) => {
  const c = new Cluster(ids(3), { joiners: [n4], seed: 23 });
  c.elect(n1);
  c.isolate(n1);
  t.ok(c.node(n1).proposeConfChange({ type: 'addLearner', node: n4 }).ok);
  t.same(c.status(n1).conf.learners, [n4], 'in force on the old leader as soon as appended');
  c.tickAll(30);
  const leader = c.leader()!;
  t.not(leader, n1);
  c.propose(leader, 'new');
  c.stabilize();
  c.heal();
  c.tickAll(3);
  t.same(c.status(n1).conf, { voters: [n1, n2, n3], learners: [] }, 'rolled back with the truncated entry');
  t.same(c.commands(n1), ['new']);
});

t.test('a re-elected single voter sends its first appends only after its new term is durable', async (t) => {
  const c = new Cluster([n1], { joiners: [n4] });
  c.elect(n1);
  change(c, n1, { type: 'addLearner', node: n4 });
  c.crash(n1);
  c.restart(n1);
  c.processAll();
  c.node(n1).campaign();
  // One voter wins at once: term, vote and the appends to the learner are all in one Ready.
  const rd = c.node(n1).ready();
  t.equal(rd.softState?.role, 'leader');
  t.ok(rd.hardState !== null && rd.mustSync);
  t.same(rd.earlyMessages, [], 'no early appends while the term is unpersisted');
  t.ok(rd.messages.some((m) => m.type === 'AppendEntries' && m.to === n4));
  c.handle(n1, rd);
  c.stabilize();
  t.ok(c.node(n1).propose(bytes('solo')).ok);
  c.stabilize();
  t.same(c.commands(n4), ['solo']);
});

t.test('a new leader refuses a conf change until it commits an entry of its own term', async (t) => {
  // The single-server change rule (dissertation §4.1, with the 2015 erratum): until its no-op
  // commits, an older configuration entry in the log may still be replaced.
  const c = new Cluster(ids(3), { joiners: [n4], config: { preVote: false } });
  c.processAll();
  c.filter = (m) => m.type !== 'AppendEntriesResponse';
  c.node(n1).campaign();
  c.stabilize();
  t.equal(c.status(n1).role, 'leader');
  const early = c.node(n1).proposeConfChange({ type: 'addLearner', node: n4 });
  t.ok(!early.ok && early.error.code === 'DROPPED' && early.error.reason === 'config-change-pending');
  c.filter = () => true;
  c.tickAll(2);
  t.ok(c.node(n1).proposeConfChange({ type: 'addLearner', node: n4 }).ok, 'accepted once the no-op commits');
});

t.test('after a restart, membership comes from the snapshot conf plus the config entries after it', async (t) => {
  const c = new Cluster(ids(3), { joiners: [n4] });
  c.elect(n1);
  change(c, n1, { type: 'addLearner', node: n4 });
  c.compact(n2); // the addLearner entry is now inside n2's snapshot
  change(c, n1, { type: 'promoteLearner', node: n4 }); // and this one is in its log after it
  c.crash(n2);
  c.restart(n2);
  t.same(c.disk(n2).snapshot?.meta.conf, { voters: [n1, n2, n3], learners: [n4] }, 'the snapshot holds the learner');
  t.same(c.status(n2).conf, { voters: [n1, n2, n3, n4], learners: [] }, 'the logged promotion applies on top');
  c.crash(n4);
  c.restart(n4);
  t.same(c.status(n4).conf.voters, [n1, n2, n3, n4], 'a joiner restarts with what its log taught it');
});

t.test(
  'a member added with its addresses keeps them through compaction, a restart and a snapshot install',
  async (t) => {
    const c = new Cluster(ids(3), { joiners: [n4] });
    c.elect(n1);
    c.isolate(n3); // n3 misses the change and is later brought up to date by a snapshot
    const addresses = [{ node: n4, peer: '10.0.0.4:7101', client: '10.0.0.4:7201' }];
    change(c, n1, { type: 'addMember', node: n4, peer: '10.0.0.4:7101', client: '10.0.0.4:7201' });
    change(c, n1, { type: 'promoteLearner', node: n4 });
    c.propose(n1, 'after');
    c.stabilize();
    t.same(c.status(n1).conf, { voters: [n1, n2, n3, n4], learners: [], addresses }, 'promotion keeps the addresses');
    c.compact(n1);
    c.compact(n2);
    c.crash(n2);
    c.restart(n2);
    t.same(c.status(n2).conf.addresses, addresses, 'a restart on a compacted log keeps them');
    c.heal();
    c.tickAll(5);
    c.stabilize();
    t.equal(c.status(n3).snapshotIndex, c.status(n1).snapshotIndex, 'n3 installed the snapshot');
    t.same(c.status(n3).conf.addresses, addresses, 'the installed snapshot carried them');
    change(c, c.leader()!, { type: 'removeNode', node: n4 });
    t.same(c.status(n1).conf, { voters: [n1, n2, n3], learners: [] }, 'removing the member drops its addresses');
  },
);
