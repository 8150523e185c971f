// Log replication (Raft §5.3, §5.4), the Ready contract (src/raft/ready.ts, dissertation §10.2.1),
// flow control (batching, pipelining, probing, the uncommitted-bytes limit) and restart.
import t from 'tap';
import type { Message } from '../../src/raft/messages.js';
import type { Entry, NodeId, Term } from '../../src/raft/types.js';
import { logIndex, term as mkTerm } from '../../src/raft/types.js';
import { AssertionError } from '../../src/util/assert.js';
import { Cluster, bytes, ids } from './fixtures/cluster.js';

const [n1, n2, n3, n4, n5] = ids(5) as [NodeId, NodeId, NodeId, NodeId, NodeId];

function commands(from: number, to: number, term: number, tag: string): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) {
    out.push({ index: logIndex(i), term: mkTerm(term), kind: 'command', data: bytes(`${tag}${i}`) });
  }
  return out;
}

const appendsTo = (to: NodeId) => (m: Message) => m.type === 'AppendEntries' && m.to === to;

t.test('entries proposed to the leader are replicated, committed and applied everywhere (§5.3)', async (t) => {
  const c = new Cluster(ids(3));
  c.elect(n1);
  for (let i = 0; i < 20; i++) t.ok(c.propose(n1, `cmd${i}`));
  c.stabilize();
  c.tickAll(1);
  const expected = Array.from({ length: 20 }, (_, i) => `cmd${i}`);
  for (const id of c.ids) t.same(c.commands(id), expected, `${id} applied all, in order`);
  t.equal(c.checkApplied(), null);
  const notLeader = c.node(n2).propose(bytes('x'));
  t.same(notLeader, { ok: false, error: { code: 'NOT_LEADER', leader: n1 } }, 'followers refuse proposals');
});

t.test('no commit without a majority; commit follows once the majority is back (§5.3)', async (t) => {
  const c = new Cluster(ids(5));
  c.elect(n1);
  const commit = c.status(n1).commit;
  c.isolate(n3);
  c.isolate(n4);
  c.isolate(n5);
  c.propose(n1, 'a');
  c.tickAll(3);
  t.equal(c.status(n1).commit, commit, 'two of five is not a majority');
  t.same(c.commands(n1), []);
  c.heal();
  c.tickAll(2);
  t.equal(c.status(n1).commit, commit + 1, 'committed once a majority holds it');
  for (const id of c.ids) t.same(c.commands(id), ['a']);
});

t.test('a deposed leader rejoins and its uncommitted entries are replaced (§5.3)', async (t) => {
  const c = new Cluster(ids(3), { seed: 9 });
  c.elect(n1);
  c.isolate(n1);
  c.propose(n1, 'lost1');
  c.propose(n1, 'lost2');
  c.stabilize();
  // The others stop hearing from n1, wait out its lease and elect one of themselves.
  c.tickAll(30);
  const leader = c.leader()!;
  t.ok(leader === n2 || leader === n3, `new leader ${leader}`);
  c.propose(leader, 'kept');
  c.stabilize();
  c.heal();
  c.tickAll(3);
  t.equal(c.status(n1).leader, leader);
  for (const id of c.ids) t.same(c.commands(id), ['kept'], `${id} applied only the new leader's entry`);
  t.notOk(
    c.logOf(n1).some((e) => e.includes('cmd(5B)')),
    'lost entries are gone from the disk',
  );
  t.equal(c.checkApplied(), null);
});

t.test('fast backtracking repairs a follower divergent over many terms in a few round trips (§5.3)', async (t) => {
  // Common prefix 1..400 (terms 2, 3); the leader then has terms 3 and 7 up to 1100, the
  // follower terms 4 and 5 up to 1006: 606 conflicting entries in two conflicting terms.
  const c = new Cluster(ids(3), { seed: 21 });
  const prefix = [...commands(1, 300, 2, 'p'), ...commands(301, 400, 3, 'p')];
  const leaderLog = [...prefix, ...commands(401, 600, 3, 'L'), ...commands(601, 1100, 7, 'L')];
  const followerLog = [...prefix, ...commands(401, 700, 4, 'F'), ...commands(701, 1006, 5, 'F')];
  for (const [id, entries, term] of [
    [n1, leaderLog, 7],
    [n2, leaderLog, 7],
    [n3, followerLog, 5],
  ] as const) {
    c.disk(id).entries = entries.slice();
    c.disk(id).hardState = { term: term as Term, vote: null, commit: logIndex(400) };
    c.restart(id);
  }
  c.node(n1).campaign();
  c.stabilize();
  t.equal(c.status(n1).role, 'leader');
  const rejections = c.delivered.filter((m) => m.type === 'AppendEntriesResponse' && m.from === n3 && !m.accepted);
  const appends = c.delivered.filter(appendsTo(n3));
  t.ok(rejections.length <= 3, `${rejections.length} rejected appends for 2 conflicting terms`);
  t.ok(appends.length <= 6, `${appends.length} appends to repair 606 entries`);
  t.same(
    c.disk(n3).entries.map((e) => e.term),
    c.disk(n1).entries.map((e) => e.term),
    'logs now match',
  );
  t.equal(c.status(n3).commit, c.status(n1).commit);
  t.equal(c.checkApplied(), null);
});

// Figure 8 of the Raft paper: an entry from an older term that is stored on a majority may still
// be overwritten, so a leader counts replicas only for entries of its own term (§5.4.2).
t.test('Figure 8: a leader does not commit an older-term entry by counting replicas (§5.4.2)', async (t) => {
  // The paper's setting: no PreVote or CheckQuorum, one entry per append to control the copies.
  const c = new Cluster(ids(5), { seed: 4, config: { appendEntriesMax: 1, preVote: false, checkQuorum: false } });
  c.elect(n1);
  const base = c.status(n1).commit;
  // (a) S1 (term 2) replicates index base+1 to S2 only.
  c.filter = (m) => !(m.type === 'AppendEntries' && m.from === n1 && m.to !== n2);
  c.propose(n1, 'a');
  c.stabilize();
  t.equal(c.disk(n2).entries.at(-1)?.index, base + 1);
  // (b) S1 crashes; S5 wins term 3 with S3 and S4 and appends its no-op at base+1, sending nothing.
  c.crash(n1);
  c.filter = (m) => !(m.type === 'AppendEntries' && m.from === n5);
  c.node(n5).campaign();
  c.stabilize();
  t.equal(c.status(n5).role, 'leader');
  t.equal(c.status(n5).term, 3);
  // (c) S5 crashes; S1 restarts, wins term 4 and copies its term-2 entry to S3: now on a majority.
  c.crash(n5);
  c.restart(n1);
  const term4 = (m: Message) => m.type === 'AppendEntries' && m.entries.some((e) => e.term === 4);
  c.filter = (m) => !term4(m);
  for (let i = 0; i < 3 && c.status(n1).role !== 'leader'; i++) {
    c.node(n1).campaign();
    c.stabilize();
  }
  t.equal(c.status(n1).role, 'leader');
  t.equal(c.status(n1).term, 4);
  // What S1 sends once it has backtracked, without its term-4 no-op (held back by the network).
  const entryA = c.disk(n1).entries.find((e) => e.index === base + 1)!;
  const append = (to: NodeId, prevIndex: number, entries: Entry[]): Message => ({
    type: 'AppendEntries',
    from: n1,
    to,
    term: mkTerm(4),
    prevIndex: logIndex(prevIndex),
    prevTerm: mkTerm(2),
    entries,
    commit: logIndex(base),
  });
  c.deliver(append(n3, base, [entryA]));
  c.deliver(append(n2, base + 1, []));
  c.stabilize();
  t.same(
    c
      .status(n1)
      .progress.filter((p) => p.match === base + 1)
      .map((p) => p.id),
    [n2, n3],
    'S1 knows',
  );
  t.same(
    [n1, n2, n3].map((id) => c.disk(id).entries.find((e) => e.index === base + 1)?.term),
    [2, 2, 2],
  );
  t.equal(c.status(n1).commit, base, 'the term-2 entry on a majority is NOT committed');
  // (d) S1 crashes; S5 restarts and wins term 5 (its last term 3 beats term 2) and overwrites it.
  c.crash(n1);
  c.restart(n5);
  c.filter = () => true;
  for (let i = 0; i < 3 && c.status(n5).role !== 'leader'; i++) {
    c.node(n5).campaign();
    c.stabilize();
  }
  t.equal(c.status(n5).role, 'leader');
  c.tickAll(2);
  for (const id of [n2, n3, n4, n5]) {
    t.equal(c.disk(id).entries.find((e) => e.index === base + 1)?.term, 3, `${id} holds S5's entry`);
    t.same(c.commands(id), [], `${id} never applied 'a'`);
  }
  t.equal(c.checkApplied(), null);
});

t.test('the leader counts its own entries only once they are durable (dissertation §10.2.1)', async (t) => {
  const c = new Cluster(ids(3));
  c.elect(n1);
  const commit = c.status(n1).commit;
  const leader = c.node(n1);
  leader.propose(bytes('x'));
  const rd = leader.ready();
  t.equal(rd.entries.length, 1, 'the new entry is to be persisted');
  t.equal(rd.earlyMessages.filter((m) => m.type === 'AppendEntries').length, 2, 'appends go out before the write');
  // Only n2 gets the append and answers: n2 + an unpersisted leader copy is not a quorum.
  c.deliver(rd.earlyMessages.find(appendsTo(n2))!);
  for (const m of c.queue.splice(0)) if (m.to === n1) leader.step(m);
  t.equal(leader.status().commit, commit, 'not committed while the leader write is in flight');
  leader.advance(rd);
  t.equal(leader.status().commit, commit + 1, 'committed once the leader write is durable');
});

t.test('Ready: hardState only when changed, mustSync rules, committed only durable, ready twice asserts', async (t) => {
  const c = new Cluster(ids(3));
  c.elect(n1);
  c.tickAll(2);
  c.recordReadies = true;
  c.tickAll(1);
  const heartbeatOnly = c.readies.filter((r) => r.id === n1);
  t.ok(heartbeatOnly.length > 0);
  t.ok(
    heartbeatOnly.every((r) => r.ready.hardState === null && !r.ready.mustSync),
    'idle heartbeats persist nothing',
  );
  c.readies.length = 0;
  c.propose(n1, 'y');
  c.stabilize();
  for (const { id, ready } of c.readies) {
    if (ready.entries.length > 0) t.ok(ready.mustSync, `${id}: new entries must be synced`);
    if (ready.hardState !== null && ready.entries.length === 0) {
      t.notOk(ready.mustSync, `${id}: a commit-only change need not be synced`);
    }
    for (const entry of ready.committed) {
      t.ok(entry.index <= c.disk(id).entries.at(-1)!.index, `${id}: committed ${entry.index} is durable`);
    }
    for (const m of ready.messages) t.not(m.type, 'Heartbeat');
  }
  const responses = c.readies
    .flatMap((r) => [...r.ready.earlyMessages])
    .filter((m) => m.type === 'AppendEntriesResponse');
  t.same(responses, [], 'responses never go out before the write');
  const node = c.node(n2);
  node.tick();
  node.ready();
  t.throws(() => node.ready(), AssertionError, 'ready() twice without advance() is an assertion failure');
});

t.test('a candidate persists its term and vote before its vote requests leave', async (t) => {
  const c = new Cluster(ids(3), { config: { preVote: false } });
  c.processAll();
  const node = c.node(n1);
  node.campaign();
  const rd = node.ready();
  t.equal(rd.hardState?.term, 2);
  t.equal(rd.hardState?.vote, n1);
  t.ok(rd.mustSync);
  t.same(rd.earlyMessages, [], 'nothing may leave before the vote is durable');
  t.equal(rd.messages.filter((m) => m.type === 'RequestVote').length, 2);
  node.advance(rd);
});

t.test('batching: every proposal pending at send time goes into one AppendEntries', async (t) => {
  const c = new Cluster(ids(3));
  c.elect(n1);
  c.tickAll(1);
  const before = c.delivered.length;
  for (let i = 0; i < 50; i++) t.ok(c.node(n1).propose(bytes(`b${i}`)).ok);
  c.stabilize();
  const appends = c.delivered.slice(before).filter(appendsTo(n2));
  t.equal(appends.filter((m) => m.type === 'AppendEntries' && m.entries.length > 0).length, 1);
  t.equal(appends[0]?.type === 'AppendEntries' ? appends[0].entries.length : 0, 50);
});

t.test('pipelining: appendEntriesMax per message, at most inflightAppendsMax unacknowledged', async (t) => {
  const c = new Cluster(ids(3), { config: { appendEntriesMax: 4, inflightAppendsMax: 3 } });
  c.elect(n1);
  c.tickAll(1);
  t.equal(c.status(n1).progress.find((p) => p.id === n2)?.state, 'replicate');
  for (let i = 0; i < 40; i++) c.node(n1).propose(bytes(`p${i}`));
  c.process(n1);
  const inFlight = c.queue.filter(appendsTo(n2));
  t.equal(inFlight.length, 3, 'window of three appends');
  t.ok(
    inFlight.every((m) => m.type === 'AppendEntries' && m.entries.length === 4),
    'four entries each',
  );
  t.equal(c.status(n1).progress.find((p) => p.id === n2)?.inflight, 3);
  c.stabilize();
  t.equal(c.commands(n2).length, 40, 'the rest follows as acknowledgements free the window');
});

t.test('probe state: one append per heartbeat interval until the follower answers', async (t) => {
  const c = new Cluster(ids(3));
  c.elect(n1);
  c.tickAll(1);
  c.node(n1).reportUnreachable(n3);
  t.equal(c.status(n1).progress.find((p) => p.id === n3)?.state, 'probe');
  // n3's answers to appends are lost; heartbeats still get through.
  c.filter = (m) => !(m.type === 'AppendEntriesResponse' && m.from === n3);
  for (let i = 0; i < 5; i++) c.node(n1).propose(bytes(`q${i}`));
  const before = c.delivered.length;
  c.stabilize();
  t.equal(c.delivered.slice(before).filter(appendsTo(n3)).length, 1, 'one probe');
  for (let tick = 0; tick < 3; tick++) {
    const mark = c.delivered.length;
    c.tickAll(1);
    t.equal(c.delivered.slice(mark).filter(appendsTo(n3)).length, 1, `one append in heartbeat interval ${tick + 1}`);
  }
  c.filter = () => true;
  c.tickAll(2);
  t.equal(c.status(n1).progress.find((p) => p.id === n3)?.state, 'replicate', 'back to replicate after a match');
  t.equal(c.commands(n3).length, 5);
});

t.test('uncommittedBytesMax: proposals are dropped while too many bytes are uncommitted', async (t) => {
  const c = new Cluster(ids(3), { config: { uncommittedBytesMax: 100 } });
  c.elect(n1);
  c.isolate(n2);
  c.isolate(n3);
  const results = Array.from({ length: 5 }, (_, i) => c.node(n1).propose(bytes(`0123456789${i}`)));
  t.same(
    results.map((r) => r.ok),
    [true, true, true, false, false],
    '27-byte entries: three fit in 100',
  );
  const refused = results[3]!;
  t.ok(!refused.ok && refused.error.code === 'DROPPED' && refused.error.reason === 'uncommitted-limit');
  c.heal();
  c.tickAll(2);
  t.equal(c.commands(n1).length, 3);
  t.ok(c.node(n1).propose(bytes('again')).ok, 'accepted again once committed');
});

t.test('crash and restart: term, vote, log and commit come back from disk; committed entries re-apply', async (t) => {
  const c = new Cluster(ids(3), { seed: 31 });
  c.elect(n1);
  c.commitCommands(n1, 'r', 5);
  const before = new Map(c.ids.map((id) => [id, c.status(id)] as const));
  for (const id of c.ids) c.crash(id);
  for (const id of c.ids) c.restart(id);
  for (const id of c.ids) {
    const s = c.status(id);
    const b = before.get(id)!;
    t.equal(s.term, b.term, `${id} term restored`);
    t.equal(s.vote, b.vote, `${id} vote restored`);
    t.equal(s.commit, b.commit, `${id} commit restored`);
    t.equal(s.lastIndex, b.lastIndex, `${id} log restored`);
    t.equal(s.role, 'follower');
    t.same(s.conf.voters, [n1, n2, n3], `${id} membership from the log`);
    t.same(c.commands(id), [], 'state machine restarts empty');
  }
  c.processAll();
  for (const id of c.ids) t.same(c.commands(id), ['r0', 'r1', 'r2', 'r3', 'r4'], `${id} re-applied committed entries`);
  c.tickAll(30);
  const leader = c.leader();
  t.ok(leader !== null, 'a leader is elected after the restart');
  c.propose(leader!, 'after');
  c.stabilize();
  c.tickAll(1);
  for (const id of c.ids) t.same(c.commands(id).at(-1), 'after');
  t.equal(c.checkApplied(), null);
});

t.test('a follower that crashed catches up after restart; its vote survives the crash', async (t) => {
  const c = new Cluster(ids(5), { seed: 8 });
  c.elect(n2);
  const vote = c.status(n4).vote;
  c.crash(n4);
  for (let i = 0; i < 10; i++) c.propose(n2, `c${i}`);
  c.stabilize();
  c.restart(n4);
  t.equal(c.status(n4).vote, vote);
  c.tickAll(2);
  t.equal(c.commands(n4).length, 10);
  t.equal(c.checkApplied(), null);
});

t.test('step refuses misaddressed messages and answers from peers outside the configuration', async (t) => {
  const c = new Cluster(ids(3));
  c.elect(n1);
  const term = c.status(n1).term;
  const wrong = c.node(n2).step({ type: 'HeartbeatResponse', from: n3, to: n1, term, context: null });
  t.same(wrong, { ok: false, error: { code: 'WRONG_RECIPIENT', to: n1 } });
  const stranger = c.node(n1).step({ type: 'HeartbeatResponse', from: n5, to: n1, term, context: null });
  t.same(stranger, { ok: false, error: { code: 'UNKNOWN_PEER', peer: n5 } });
  t.equal(c.status(n1).role, 'leader', 'and nothing changed');
});

t.test(
  'a commit notice is not answered: one answer per follower per commit, and every node applies at once',
  async (t) => {
    const c = new Cluster(ids(3));
    c.elect(n1);
    c.tickAll(1);
    const before = c.delivered.length;
    t.ok(c.propose(n1, 'one'));
    c.stabilize();
    const sent = c.delivered.slice(before);
    const answers = sent.filter((m) => m.type === 'AppendEntriesResponse');
    const notices = sent.filter((m) => m.type === 'AppendEntries' && m.entries.length === 0);
    t.equal(notices.length, 2, 'the leader told each follower of the commit');
    t.same(
      answers.map((m) => m.from),
      [n2, n3],
      'each follower answered the append that carried the entry, and not the notice',
    );
    for (const id of c.ids) t.same(c.commands(id), ['one'], `${id} applied the entry without waiting for a heartbeat`);
  },
);

t.test('a follower whose answer was lost is answered for at the next heartbeat, not by the notice', async (t) => {
  const c = new Cluster(ids(3));
  c.elect(n1);
  c.tickAll(1);
  const last = c.status(n1).lastIndex + 1;
  c.filter = (m) => !(m.type === 'AppendEntriesResponse' && m.from === n2);
  t.ok(c.propose(n1, 'one'));
  c.stabilize();
  c.filter = () => true;
  const matchOfN2 = (): number => c.status(n1).progress.find((p) => p.id === n2)?.match ?? -1;
  t.equal(c.status(n2).commit, last, 'n2 learned the commit from the notice (n3 made the quorum)');
  t.ok(matchOfN2() < last, 'the leader has not heard that n2 holds the entry');
  c.tickAll(1);
  t.equal(matchOfN2(), last, 'the heartbeat answer made the leader ask again, and n2 answered');
});

t.test(
  'an empty append that moves no commit index is answered: probes and retries still get their answer',
  async (t) => {
    const c = new Cluster(ids(3));
    c.elect(n1);
    c.tickAll(1);
    const { term, lastIndex, commit } = c.status(n1);
    const prevTerm = c.status(n2).term;
    const before = c.delivered.length;
    c.deliver({ type: 'AppendEntries', from: n1, to: n2, term, prevIndex: lastIndex, prevTerm, entries: [], commit });
    c.stabilize();
    const answers = c.delivered.slice(before).filter((m) => m.type === 'AppendEntriesResponse' && m.from === n2);
    t.equal(answers.length, 1, 'answered');
  },
);
