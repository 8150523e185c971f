// Leader election (Raft §5.2) with PreVote (dissertation §9.6) and CheckQuorum (§6.2), driven
// through the deterministic cluster harness.
import t from 'tap';
import { defaultRaftLimits } from '../../src/raft/config.js';
import { createRaftNode } from '../../src/raft/node.js';
import { emptyPersistentState, nodeId } from '../../src/raft/types.js';
import { createRng } from '../../src/util/rng.js';
import { Cluster, ids } from './fixtures/cluster.js';

const [n1, n2, n3, n4, n5] = ids(5) as [
  ReturnType<typeof nodeId>,
  ReturnType<typeof nodeId>,
  ReturnType<typeof nodeId>,
  ReturnType<typeof nodeId>,
  ReturnType<typeof nodeId>,
];

t.test('initial election: exactly one leader, every node agrees on it and its term (§5.2)', async (t) => {
  const c = new Cluster(ids(5), { seed: 7 });
  c.tickAll(30);
  const leaders = c.leaders();
  t.equal(leaders.length, 1, 'one leader');
  const leader = leaders[0]!;
  const term = c.status(leader).term;
  for (const id of c.ids) {
    t.equal(c.status(id).leader, leader, `${id} follows the leader`);
    t.equal(c.status(id).term, term, `${id} is in the leader's term`);
  }
  // The new leader's no-op (§8) commits on every node.
  for (const id of c.ids) t.equal(c.status(id).commit, c.status(leader).lastIndex);
});

t.test('election timeouts are drawn from [electionTicks, 2 × electionTicks) (§5.2)', async (t) => {
  const seen = new Set<number>();
  for (let seed = 0; seed < 60; seed++) {
    const node = createRaftNode(
      { ...defaultRaftLimits, id: n1, initialVoters: [n1, n2, n3], electionTicks: 10, heartbeatTicks: 1 },
      emptyPersistentState(),
      createRng(seed),
    );
    let ticks = 0;
    while (node.status().role === 'follower' && ticks < 100) {
      node.tick();
      ticks++;
    }
    seen.add(ticks);
  }
  t.ok(Math.min(...seen) >= 10, `earliest campaign at ${Math.min(...seen)}`);
  t.ok(Math.max(...seen) < 20, `latest campaign at ${Math.max(...seen)}`);
  t.ok(seen.size >= 5, 'timeouts are spread out');
});

t.test('re-election after the leader is isolated; the old leader rejoins as a follower (§5.2)', async (t) => {
  const c = new Cluster(ids(3), { seed: 3 });
  t.equal(c.elect(n1), n1);
  c.isolate(n1);
  c.tickAll(40);
  const next = c.leader();
  t.ok(next !== null && next !== n1, `new leader ${next}`);
  t.ok(c.status(next!).term > c.status(n1).term || c.status(n1).role !== 'leader');
  c.heal();
  c.tickAll(5);
  t.same(c.leaders(), [next], 'one leader after healing');
  t.equal(c.status(n1).leader, next, 'the old leader follows the new one');
});

t.test('a vote is granted only to a candidate whose log is up to date (§5.4.1)', async (t) => {
  const c = new Cluster(ids(3), { seed: 5 });
  c.elect(n1);
  // n3 misses an entry that the majority (n1, n2) commits.
  c.isolate(n3);
  c.propose(n1, 'a');
  c.stabilize();
  c.heal();
  c.crash(n1);
  // n3 campaigns first, but n2 refuses: n3's log lacks the committed entry.
  c.node(n3).campaign();
  c.stabilize();
  t.not(c.status(n3).role, 'leader', 'stale n3 is not elected');
  c.node(n2).campaign();
  c.stabilize();
  t.equal(c.status(n2).role, 'leader', 'n2, with the committed entry, wins');
});

t.test('PreVote: a node back from a partition neither bumps terms nor deposes the leader (§9.6)', async (t) => {
  const c = new Cluster(ids(3), { seed: 11 });
  c.elect(n1);
  const term = c.status(n1).term;
  c.isolate(n3);
  // The isolated node times out again and again: pre-votes only, its term stays put.
  c.tickAll(100);
  t.equal(c.status(n3).term, term, 'isolated node did not inflate its term');
  t.equal(c.status(n1).role, 'leader');
  c.heal();
  c.node(n3).campaign();
  c.stabilize();
  c.tickAll(3);
  t.equal(c.status(n1).role, 'leader', 'leader undisturbed');
  t.equal(c.status(n1).term, term, 'term unchanged');
  t.equal(c.status(n3).leader, n1, 'n3 follows the leader again');
});

t.test('PreVote: followers that hear from a leader refuse (pre)votes unless transfer is set (§9.6)', async (t) => {
  const c = new Cluster(ids(3), { seed: 13 });
  c.elect(n1);
  const term = c.status(n1).term;
  const request = (transfer: boolean) =>
    ({
      type: 'RequestVote',
      from: n3,
      to: n2,
      term: (term + 1) as typeof term,
      preVote: false,
      lastIndex: c.status(n2).lastIndex,
      lastTerm: term,
      transfer,
    }) as const;
  const voteBefore = c.status(n2).vote;
  c.node(n2).step(request(false));
  c.process(n2);
  t.equal(c.status(n2).term, term, 'ignored inside the lease');
  t.equal(c.status(n2).vote, voteBefore, 'vote unchanged');
  t.notOk(
    c.queue.some((m) => m.type === 'RequestVoteResponse'),
    'no answer at all',
  );
  c.node(n2).step(request(true));
  c.process(n2);
  t.equal(c.status(n2).term, term + 1, 'a transfer request is heard');
  t.equal(c.status(n2).vote, n3, 'and granted');
});

t.test('without PreVote an isolated node inflates its term and disrupts the leader on return', async (t) => {
  const c = new Cluster(ids(3), { seed: 11, config: { preVote: false, checkQuorum: false } });
  c.elect(n1);
  const term = c.status(n1).term;
  c.isolate(n3);
  c.tickAll(60);
  t.ok(c.status(n3).term > term + 1, 'term grew while isolated');
  c.heal();
  c.tickAll(40);
  t.ok(c.status(c.leader()!).term > term, 'the cluster had to move to a higher term');
});

t.test('CheckQuorum: a leader that hears from no quorum for an election timeout steps down (§6.2)', async (t) => {
  const c = new Cluster(ids(5), { seed: 17 });
  c.elect(n1);
  c.isolate(n1);
  c.tickAll(9);
  t.equal(c.status(n1).role, 'leader', 'still leader inside one election timeout');
  c.tickAll(12);
  t.equal(c.status(n1).role, 'follower', 'stepped down after losing the quorum');
  t.equal(c.status(n1).leader, null);
  // The majority side elected a new leader meanwhile, in a higher term.
  const leader = c.leader();
  t.ok(leader !== null && [n2, n3, n4, n5].includes(leader));
});

t.test('a node that is not a voter never campaigns', async (t) => {
  const joiner = nodeId('n9');
  const node = createRaftNode(
    { ...defaultRaftLimits, id: joiner, initialVoters: [], electionTicks: 10, heartbeatTicks: 1 },
    emptyPersistentState(),
    createRng(1),
  );
  for (let i = 0; i < 100; i++) node.tick();
  node.campaign();
  t.equal(node.status().role, 'follower');
  t.equal(node.status().term, 0);
  t.notOk(node.hasReady(), 'nothing to send');
});
