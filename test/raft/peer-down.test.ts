// A dead leader's followers elect a new one early. When the transport sees the leader's address
// refuse connections, a follower forgets that leader (so it stops defending the leader's lease
// against pre-votes and votes, dissertation §9.6 / §6.2) and campaigns after a short random delay
// instead of a whole election timeout. It changes only when elections happen, never how votes are
// granted or entries committed (§5.2, §5.4): these tests show the gain and that a false report
// cannot depose a live leader.
import t from 'tap';
import type { NodeId } from '../../src/raft/types.js';
import { Cluster, ids } from './fixtures/cluster.js';

const [n1, n2, n3, n4, n5] = ids(5) as [NodeId, NodeId, NodeId, NodeId, NodeId];

/** Ticks every live node once per round until some node leads a term above `term`. */
function ticksToNewLeader(c: Cluster, term: number, roundsMax: number): number {
  for (let round = 1; round <= roundsMax; round++) {
    c.tickAll(1);
    const leader = c.leader();
    if (leader !== null && c.status(leader).term > term) return round;
  }
  return Number.POSITIVE_INFINITY;
}

t.test('followers told the leader is down usually elect a new leader well within an election timeout', async (t) => {
  const electionTicks = 10;
  const rounds: number[] = [];
  for (let seed = 1; seed <= 60; seed++) {
    const c = new Cluster(ids(3), { seed, config: { electionTicks } });
    t.equal(c.elect(n1), n1);
    const term = c.status(n1).term;
    c.crash(n1);
    c.node(n2).reportPeerDown(n1);
    c.node(n3).reportPeerDown(n1);
    t.equal(c.status(n2).leader, null, 'the follower forgets the dead leader');
    const r = ticksToNewLeader(c, term, 6 * electionTicks);
    t.ok(r < 6 * electionTicks, `seed ${seed}: a new leader after ${r} ticks`);
    const leader = c.leader();
    t.ok(leader === n2 || leader === n3, `seed ${seed}: ${leader} leads`);
    rounds.push(r);
  }
  rounds.sort((a, b) => a - b);
  const median = rounds[rounds.length >> 1] ?? Number.POSITIVE_INFINITY;
  const early = rounds.filter((r) => r <= electionTicks).length;
  t.ok(median <= electionTicks / 2, `median ${median} ticks (without the report: at least ${electionTicks})`);
  t.ok(early >= rounds.length * 0.8, `${early} of ${rounds.length} elections finished within one election timeout`);
});

t.test('without the report, a dead leader is replaced only after an election timeout (the baseline)', async (t) => {
  const electionTicks = 10;
  for (let seed = 1; seed <= 10; seed++) {
    const c = new Cluster(ids(3), { seed, config: { electionTicks } });
    t.equal(c.elect(n1), n1);
    const term = c.status(n1).term;
    c.crash(n1);
    const rounds = ticksToNewLeader(c, term, 4 * electionTicks);
    t.ok(rounds >= electionTicks, `seed ${seed}: ${rounds} ticks`);
  }
});

t.test('a false report cannot depose a live leader: the other followers keep its lease', async (t) => {
  const c = new Cluster(ids(5), { seed: 11 });
  t.equal(c.elect(n1), n1);
  const term = c.status(n1).term;
  // n2's dials to n1 are refused (say, a firewall), though n1 is alive and heard by everyone.
  c.isolate(n2);
  c.node(n2).reportPeerDown(n1);
  c.tick(n2, 10);
  c.heal();
  c.tickAll(1);
  for (const id of [n3, n4, n5]) t.equal(c.status(id).leader, n1, `${id} still follows n1`);
  t.equal(c.leader(), n1, 'n1 still leads');
  t.equal(c.status(n1).term, term, 'no term was bumped: the pre-vote was refused');
  t.equal(c.status(n2).leader, n1, 'n2 follows n1 again once it hears from it');
});

t.test('a report about a peer that is not the leader changes nothing on a follower', async (t) => {
  const c = new Cluster(ids(3), { seed: 5 });
  t.equal(c.elect(n1), n1);
  c.node(n2).reportPeerDown(n3);
  t.equal(c.status(n2).leader, n1);
  c.tickAll(3);
  t.equal(c.leader(), n1);
  t.equal(c.status(n1).term, c.status(n2).term);
});

t.test('a leader told a follower is down drops it back to probing', async (t) => {
  const c = new Cluster(ids(3), { seed: 9 });
  t.equal(c.elect(n1), n1);
  c.propose(n1, 'a');
  c.stabilize();
  const before = c.status(n1).progress.find((p) => p.id === n3);
  t.equal(before?.state, 'replicate');
  c.node(n1).reportPeerDown(n3);
  t.equal(c.status(n1).progress.find((p) => p.id === n3)?.state, 'probe');
  t.equal(c.leader(), n1, 'and keeps leading');
});
