// The leader's memory of a follower (match, next) must never outlive the follower's log. It can in
// two ways: a node is removed, wiped and re-added under the same id (dissertation §4.1 treats a
// re-added server as a new one), or a follower's disk loses entries it had acknowledged. Either
// way the leader must repair the follower by probing (Raft §5.3) or InstallSnapshot (§7) with a
// bounded number of messages — never a reject/resend loop — and safety must hold.
import t from 'tap';
import type { Message } from '../../src/raft/messages.js';
import type { PeerProgress } from '../../src/raft/status.js';
import type { ConfChange, NodeId } from '../../src/raft/types.js';
import { logIndex, term as mkTerm } from '../../src/raft/types.js';
import { Cluster, bytes, ids } from './fixtures/cluster.js';

const [n1, n2, n3, n4, n5] = ids(5) as [NodeId, NodeId, NodeId, NodeId, NodeId];

/** Every live node ticks once and the network delivers until quiet: a storm shows as many messages. */
const tickCounting = (c: Cluster): number => {
  const mark = c.delivered.length;
  c.tickAll(1);
  return c.delivered.length - mark;
};

function progressOf(c: Cluster, leader: NodeId, peer: NodeId): PeerProgress | undefined {
  return c.status(leader).progress.find((p) => p.id === peer);
}

function change(c: Cluster, leader: NodeId, cc: ConfChange): void {
  const result = c.node(leader).proposeConfChange(cc);
  if (!result.ok) throw new Error(`conf change refused: ${JSON.stringify(result.error)}`);
  c.stabilize();
}

const replicationTo = (id: NodeId) => (m: Message) =>
  (m.to === id && (m.type === 'AppendEntries' || m.type === 'InstallSnapshot')) ||
  (m.from === id && (m.type === 'AppendEntriesResponse' || m.type === 'InstallSnapshotResponse'));

/**
 * A 5-node tick with a proposal carries 4 heartbeats, 4 appends, a commit round and their answers
 * (about 12–24 messages); the storm this guards against was thousands per tick.
 */
const calmTickMessagesMax = 30;

interface ReaddCase {
  readonly name: string;
  /** The leader compacted its log: the re-added node needs InstallSnapshot (§7). */
  readonly compacted: boolean;
  /** An answer the old n4 sent before its wipe reaches the leader after the re-add. */
  readonly staleAnswer: boolean;
  /** n1 proposes the re-add, then hands leadership to n2, which must catch n4 up from scratch. */
  readonly handover: boolean;
}

const readdCases: readonly ReaddCase[] = [
  { name: 'by appends', compacted: false, staleAnswer: false, handover: false },
  { name: 'by InstallSnapshot', compacted: true, staleAnswer: false, handover: false },
  { name: 'despite an answer from its old incarnation', compacted: false, staleAnswer: true, handover: false },
  { name: 'from a new leader that did not propose the re-add', compacted: false, staleAnswer: false, handover: true },
];

for (const { name, compacted, staleAnswer, handover } of readdCases) {
  t.test(`a removed node wiped and re-added under its id catches up ${name} (§4.1, §5.3)`, async (t) => {
    const c = new Cluster(ids(5), { seed: 11 });
    c.elect(n1);
    c.commitCommands(n1, 'a', 40);
    const oldAnswer = c.delivered.findLast((m) => m.type === 'AppendEntriesResponse' && m.from === n4 && m.accepted);
    // n4's disk is found corrupt: it is down and removed. The removal commits without it, so the
    // leader still tracks its old progress when the wiped node comes back under the same id.
    c.crash(n4);
    change(c, n1, { type: 'removeNode', node: n4 });
    t.same(c.status(n1).conf.voters, [n1, n2, n3, n5], 'the removal is in force');
    t.equal(c.status(n1).pendingConfIndex, 0, 'and committed');
    const stale = progressOf(c, n1, n4);
    t.ok(stale !== undefined && stale.match > 40, `the leader still remembers n4 at match ${stale?.match}`);
    if (compacted) c.compact(n1);
    c.wipe(n4);
    const mark = c.delivered.length;
    if (staleAnswer) {
      // Delivered late, the old answer claims entries the wiped node does not hold.
      if (oldAnswer === undefined) throw new Error('no answer from the old n4 recorded');
      t.ok(c.node(n1).proposeConfChange({ type: 'addLearner', node: n4 }).ok);
      c.process(n1);
      c.deliver(oldAnswer);
      t.ok(
        (progressOf(c, n1, n4)?.match ?? 0) > c.status(n4).lastIndex,
        'the leader believes the old answer for a moment',
      );
      c.stabilize();
    } else if (handover) {
      c.filter = (m) => m.to !== n4 && m.from !== n4;
      change(c, n1, { type: 'addLearner', node: n4 });
      t.ok(c.node(n1).transferLeadership(n2).ok);
      c.stabilize();
      c.filter = () => true;
      t.equal(c.leader(), n2, 'n2 leads, with the re-add n1 proposed in its log');
      t.same(c.status(n2).conf.learners, [n4]);
    } else {
      change(c, n1, { type: 'addLearner', node: n4 });
    }
    const leader = handover ? n2 : n1;
    const [cutA, cutB] = [n2, n3, n5].filter((id) => id !== leader) as [NodeId, NodeId];
    t.equal(
      progressOf(c, leader, n4)?.match ?? 0,
      c.status(n4).lastIndex,
      're-added: the leader knows only what the new n4 acknowledged',
    );

    const perTick: number[] = [];
    for (let tick = 0; tick < 20 && (progressOf(c, leader, n4)?.match ?? 0) < c.status(leader).commit; tick++)
      perTick.push(tickCounting(c));
    t.ok(
      (progressOf(c, leader, n4)?.match ?? 0) >= c.status(leader).commit,
      `caught up within ${perTick.length} ticks`,
    );
    t.ok(
      Math.max(0, ...perTick) <= calmTickMessagesMax,
      `messages per tick bounded over ${perTick.length} tick(s): ${perTick.join(' ')}`,
    );
    const repair = c.delivered.slice(mark).filter(replicationTo(n4)).length;
    t.ok(repair <= (staleAnswer ? 20 : 12), `${repair} append/snapshot messages to and from n4 while it caught up`);
    if (compacted)
      t.ok(
        c.delivered.slice(mark).some((m) => m.type === 'InstallSnapshot' && m.to === n4),
        'through a snapshot',
      );

    change(c, leader, { type: 'promoteLearner', node: n4 });
    c.tickAll(2);
    t.same(c.status(n4).conf.voters, [n1, n2, n3, n5, n4], 'n4 is a voter again');
    // Three of five are needed; with two other voters cut off, n4's copy is one of them.
    c.isolate(cutA);
    c.isolate(cutB);
    t.ok(c.propose(leader, 'with-n4'));
    const busy: number[] = [];
    for (let tick = 0; tick < 3; tick++) busy.push(tickCounting(c));
    t.ok(Math.max(...busy) <= calmTickMessagesMax, `still bounded: ${busy.join(' ')}`);
    t.equal(c.commands(leader).at(-1), 'with-n4', 'committed with n4 in the majority');
    c.heal();
    c.tickAll(3);
    for (const id of c.ids) t.same(c.commands(id), c.commands(leader), `${id} applied the same commands`);
    t.equal(c.checkApplied(), null, 'state machine safety');
  });
}

interface LossCase {
  readonly name: string;
  readonly nodes: number;
  readonly config: { readonly appendEntriesMax?: number; readonly inflightAppendsMax?: number };
  /** The leader compacts past the follower's surviving log, so the repair needs a snapshot. */
  readonly compact: boolean;
}

const lossCases: readonly LossCase[] = [
  { name: 'appends', nodes: 3, config: {}, compact: false },
  {
    name: 'a pipelined window of small appends',
    nodes: 5,
    config: { appendEntriesMax: 2, inflightAppendsMax: 4 },
    compact: false,
  },
  { name: 'a snapshot', nodes: 3, config: {}, compact: true },
];

for (const lc of lossCases) {
  t.test(`a follower that lost acknowledged entries is repaired by ${lc.name}, without a message storm`, async (t) => {
    const c = new Cluster(ids(lc.nodes), { seed: 5, config: lc.config });
    c.elect(n1);
    c.commitCommands(n1, 'old', 10);
    const older = c.saveDisk(n3);
    c.commitCommands(n1, 'new', 20);
    c.node(n1).propose(bytes('calm'));
    const calm = tickCounting(c);
    const acked = progressOf(c, n1, n3)?.match ?? 0;
    t.equal(acked, c.status(n1).lastIndex, 'n3 acknowledged every entry');
    if (lc.compact) {
      c.compact(n1);
      c.compact(n2);
    }
    // The disk lost the writes it had confirmed since `older`.
    c.restartFrom(n3, older);
    t.ok(
      c.status(n3).lastIndex < acked,
      `n3 restarts with ${c.status(n3).lastIndex} of the ${acked} entries it acknowledged`,
    );

    const perTick: number[] = [];
    for (let tick = 0; tick < 10; tick++) {
      c.node(n1).propose(bytes(`more${tick}`));
      perTick.push(tickCounting(c));
    }
    // A calm tick's messages, plus the appends (and answers) that carry the lost entries once, plus a
    // probe round trip, plus the answer to a commit notice from the repaired follower, which has no
    // earlier answer to this leader to rely on (docs/raft.md, "Commit notices").
    const bound = calm + 2 * Math.ceil(acked / (lc.config.appendEntriesMax ?? 1024)) + 5;
    t.ok(Math.max(...perTick) <= bound, `messages per tick at most ${bound} (calm: ${calm}): ${perTick.join(' ')}`);
    t.equal(progressOf(c, n1, n3)?.state, 'replicate', 'the leader replicates to n3 again');
    t.equal(c.status(n3).lastIndex, c.status(n1).lastIndex, 'n3 holds the whole log again');
    t.same(c.commands(n3), c.commands(n1), 'and applied the same commands');
    t.equal(c.commands(n1).length, 41, 'nothing committed was lost');
    t.equal(c.checkApplied(), null, 'state machine safety');
  });
}

t.test('a rejection at the match index resets that peer to probing from its hint (§5.3)', async (t) => {
  // The follower's answer says it lacks an entry it acknowledged: the leader must stop believing
  // the old match (it counted toward commit and bounds the probe) and probe where the hint points.
  const c = new Cluster(ids(3), { seed: 3 });
  c.elect(n1);
  c.commitCommands(n1, 'x', 8);
  const pr = progressOf(c, n1, n2)!;
  const { term } = c.status(n1);
  c.node(n1).reportUnreachable(n2);
  const lost = c.node(n1).step({
    type: 'AppendEntriesResponse',
    from: n2,
    to: n1,
    term,
    accepted: false,
    index: pr.match,
    hintIndex: logIndex(3),
    hintTerm: mkTerm(1),
  });
  t.ok(lost.ok);
  const after = progressOf(c, n1, n2)!;
  t.equal(after.state, 'probe');
  t.equal(after.match, 0, 'the old match is forgotten');
  t.equal(after.next, 4, 'probing right after the hint');
  c.process(n1);
  const probes = c.queue.filter((m) => m.type === 'AppendEntries' && m.to === n2);
  t.equal(probes.length, 1, 'one probe');
  t.equal(probes[0]?.type === 'AppendEntries' ? probes[0].prevIndex : -1, 3);
  c.stabilize();
  t.equal(progressOf(c, n1, n2)?.match, c.status(n1).lastIndex, 'n2 (which had the entries) matches again');
  t.equal(progressOf(c, n1, n2)?.state, 'replicate');
});

t.test('heartbeat answers re-send a probe at most once per heartbeat interval', async (t) => {
  // ReadIndex rounds (dissertation §6.4) add heartbeats between ticks; their answers must not each
  // trigger another probe to a follower whose append answers are lost.
  const c = new Cluster(ids(3));
  c.elect(n1);
  c.tickAll(1);
  c.node(n1).reportUnreachable(n3);
  c.filter = (m) => !(m.type === 'AppendEntriesResponse' && m.from === n3);
  c.propose(n1, 'p');
  c.stabilize();
  for (let interval = 0; interval < 3; interval++) {
    // One interval: the tick's heartbeat round, then four read rounds before the next tick.
    const mark = c.delivered.length;
    c.tickAll(1);
    for (let read = 0; read < 4; read++) {
      c.readIndex(n1, `r${interval}.${read}`);
      c.stabilize();
    }
    const answers = c.delivered.slice(mark).filter((m) => m.type === 'HeartbeatResponse' && m.from === n3).length;
    const appends = c.delivered.slice(mark).filter((m) => m.type === 'AppendEntries' && m.to === n3).length;
    t.equal(answers, 5, 'five heartbeat answers from n3');
    t.equal(appends, 1, `interval ${interval}: one probe to n3`);
  }
  t.equal(c.readStates.get(n1)?.length, 12, 'every read was released');
  c.filter = () => true;
  c.tickAll(2);
  t.same(c.commands(n3), ['p'], 'n3 catches up once its answers get through');
});

t.test('a new leader starts every peer from fresh progress', async (t) => {
  // Raft §5.3: a new leader initialises nextIndex after its last entry and knows no match.
  const c = new Cluster(ids(5), { seed: 2 });
  c.elect(n1);
  c.commitCommands(n1, 'y', 5);
  c.crash(n1);
  c.tickAll(40);
  const leader = c.leader()!;
  t.ok(leader !== null && leader !== n1);
  const s = c.status(leader);
  const peers = s.progress.map((p) => p.id).sort();
  t.same(peers, [n1, n2, n3, n4, n5].filter((id) => id !== leader).sort(), 'one progress per other member');
  t.ok(
    s.progress.filter((p) => p.id === n1).every((p) => p.match === 0),
    'the crashed old leader acknowledged nothing to the new one',
  );
});
