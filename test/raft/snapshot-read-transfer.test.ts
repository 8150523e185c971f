// Log compaction and chunked InstallSnapshot (Raft §7, dissertation §5), linearizable reads
// through ReadIndex (dissertation §6.4) and leadership transfer (dissertation §3.10).
import t from 'tap';
import type { Message } from '../../src/raft/messages.js';
import type { NodeId } from '../../src/raft/types.js';
import { logIndex } from '../../src/raft/types.js';
import { Cluster, bytes, ids } from './fixtures/cluster.js';

const [n1, n2, n3] = ids(3) as [NodeId, NodeId, NodeId];

const appendsTo = (to: NodeId) => (m: Message) => m.type === 'AppendEntries' && m.to === to;
const snapshotChunks = (to: NodeId) => (m: Message) => m.type === 'InstallSnapshot' && m.to === to;

/** A cluster where n3 was down while 40 entries were committed and every live node compacted. */
function farBehind(chunkBytes: number, seed = 1): Cluster {
  const c = new Cluster(ids(3), { seed, config: { snapshotChunkBytes: chunkBytes } });
  c.elect(n1);
  c.crash(n3);
  for (let i = 0; i < 40; i++) c.propose(n1, `s${String(i).padStart(2, '0')}`);
  c.stabilize();
  c.tickAll(1);
  c.compact(n1);
  c.compact(n2);
  return c;
}

t.test('compact drops entries through the index and keeps the snapshot with the conf in force', async (t) => {
  const c = farBehind(1024);
  const s = c.status(n1);
  t.equal(s.snapshotIndex, s.applied);
  t.equal(s.firstIndex, s.snapshotIndex + 1);
  t.equal(c.disk(n1).snapshot?.meta.conf.voters.length, 3);
  t.same(c.commands(n1).length, 40, 'the state machine is untouched');
  c.node(n1).compact(logIndex(3), bytes('older'));
  t.equal(c.status(n1).snapshotIndex, s.snapshotIndex, 'compacting below the snapshot is a no-op');
});

t.test(
  'a far-behind follower gets InstallSnapshot in chunks, installs it once complete, then resumes (§7)',
  async (t) => {
    const c = farBehind(64);
    const snapIndex = c.status(n1).snapshotIndex;
    c.restart(n3);
    c.recordReadies = true;
    c.tickAll(3);
    const chunks = c.delivered.filter(snapshotChunks(n3));
    const total = chunks[0]?.type === 'InstallSnapshot' ? chunks[0].totalBytes : 0;
    t.ok(total > 64 * 3, `snapshot of ${total} bytes`);
    t.equal(chunks.length, Math.ceil(total / 64), 'one message per chunk');
    t.ok(
      chunks.every((m) => m.type === 'InstallSnapshot' && m.data.byteLength <= 64),
      'chunks within snapshotChunkBytes',
    );
    const acks = c.delivered.filter((m) => m.type === 'InstallSnapshotResponse' && m.from === n3);
    t.equal(acks.length, chunks.length, 'every chunk acknowledged');
    const installs = c.readies.filter((r) => r.id === n3 && r.ready.snapshot !== null);
    t.equal(installs.length, 1, 'installed exactly once');
    t.equal(installs[0]?.ready.snapshot?.meta.index, snapIndex);
    t.same(c.commands(n3), c.commands(n1), 'state machine restored from the snapshot');
    c.propose(n1, 'later');
    c.stabilize();
    c.tickAll(1);
    t.same(c.commands(n3).at(-1), 'later', 'replication resumed after the snapshot');
    t.equal(c.status(n1).progress.find((p) => p.id === n3)?.state, 'replicate');
    t.equal(c.checkApplied(), null);
  },
);

t.test('a lost chunk is sent again and the transfer resumes where it stopped', async (t) => {
  const c = farBehind(48);
  c.restart(n3);
  let dropped = false;
  c.filter = (m) => {
    if (!dropped && m.type === 'InstallSnapshot' && m.offset === 96) {
      dropped = true;
      return false;
    }
    return true;
  };
  c.tickAll(30);
  t.ok(dropped);
  t.same(c.commands(n3), c.commands(n1));
  const gap = c.delivered.find((m) => m.type === 'InstallSnapshotResponse' && !m.done && m.nextOffset === 0);
  t.equal(gap, undefined, 'no restart from zero was needed');
});

t.test('a follower answers a chunk past a gap with the offset it expects', async (t) => {
  const c = farBehind(32);
  c.restart(n3);
  const snapshot = c.disk(n1).snapshot!;
  c.deliver({
    type: 'InstallSnapshot',
    from: n1,
    to: n3,
    term: c.status(n1).term,
    meta: snapshot.meta,
    offset: 64,
    data: snapshot.data.subarray(64, 96),
    totalBytes: snapshot.data.byteLength,
    done: false,
  });
  const answer = c.queue.find((m) => m.type === 'InstallSnapshotResponse');
  t.ok(answer?.type === 'InstallSnapshotResponse' && answer.nextOffset === 0 && !answer.done);
});

t.test('a leader that hears nothing back falls back to probing, then retries the snapshot', async (t) => {
  const c = farBehind(64);
  c.restart(n3);
  c.filter = (m) => !(m.type === 'InstallSnapshotResponse');
  c.tickAll(2);
  t.equal(c.status(n1).progress.find((p) => p.id === n3)?.state, 'snapshot');
  const started = c.delivered.length;
  c.tickAll(12);
  const after = c.delivered.slice(started);
  t.ok(
    after.some((m) => m.type === 'InstallSnapshot' && m.to === n3 && m.offset === 0),
    'the chunk was resent',
  );
  t.ok(after.some(appendsTo(n3)), 'gave up waiting and probed');
  c.filter = () => true;
  c.tickAll(30);
  t.same(c.commands(n3), c.commands(n1), 'caught up in the end');
});

t.test('restart from a snapshot: applied starts at the snapshot, later committed entries re-apply', async (t) => {
  const c = farBehind(1024);
  c.propose(n1, 'tail');
  c.stabilize();
  c.tickAll(1);
  const before = c.status(n2);
  c.crash(n2);
  c.restart(n2);
  const s = c.status(n2);
  t.equal(s.applied, before.snapshotIndex, 'applied starts at the snapshot index');
  t.equal(s.commit, before.commit);
  c.processAll();
  t.same(c.commands(n2), c.commands(n1), 'snapshot plus re-delivered entries');
});

t.test('ReadIndex: the leader confirms leadership with a heartbeat round before releasing (§6.4)', async (t) => {
  const c = new Cluster(ids(3));
  c.elect(n1);
  c.propose(n1, 'w');
  c.stabilize();
  const { lastIndex, commit } = c.status(n1);
  t.ok(c.readIndex(n1, 'r1'));
  t.same(c.readStates.get(n1), [], 'not released before the quorum answers');
  const beats = c.queue.filter((m) => m.type === 'Heartbeat' && m.context === 'r1');
  t.equal(beats.length, 2, 'a heartbeat round carries the context');
  c.deliver(beats[0]!);
  for (const m of c.queue.splice(0)) c.deliver(m);
  t.same(c.readStates.get(n1), [{ index: commit, context: 'r1' }], 'released with one answer (2 of 3)');
  t.equal(c.status(n1).lastIndex, lastIndex, 'no log write');
});

t.test('ReadIndex: an isolated leader cannot release a read', async (t) => {
  const c = new Cluster(ids(3));
  c.elect(n1);
  c.isolate(n1);
  c.readIndex(n1, 'lonely');
  c.tickAll(5);
  t.same(c.readStates.get(n1), []);
});

t.test('ReadIndex: a single-voter leader releases at once', async (t) => {
  const c = new Cluster([n1]);
  c.elect(n1);
  c.readIndex(n1, 'solo');
  t.same(c.readStates.get(n1), [{ index: c.status(n1).commit, context: 'solo' }]);
});

t.test('ReadIndex: a leader waits for an entry of its own term before serving reads', async (t) => {
  // Answers to appends are held back, so the new leader's no-op stays uncommitted.
  const c2 = new Cluster(ids(3), { config: { preVote: false } });
  c2.processAll();
  c2.filter = (m) => m.type !== 'AppendEntriesResponse';
  c2.node(n1).campaign();
  c2.stabilize();
  t.equal(c2.status(n1).role, 'leader');
  t.ok(c2.readIndex(n1, 'early'));
  c2.tickAll(2);
  t.same(c2.readStates.get(n1), [], 'held while the no-op is uncommitted');
  c2.filter = () => true;
  c2.tickAll(2);
  t.same(
    c2.readStates.get(n1)?.map((r) => r.context),
    ['early'],
    'served once the no-op commits',
  );
});

t.test('ReadIndex from a follower is forwarded; the answer comes back as a ReadState', async (t) => {
  const c = new Cluster(ids(3));
  c.elect(n1);
  c.stabilize();
  t.ok(c.readIndex(n2, 'f1'));
  c.stabilize();
  t.same(c.readStates.get(n2), [{ index: c.status(n1).commit, context: 'f1' }]);
  t.same(c.readStates.get(n1), [], 'the leader releases it to the follower, not to itself');
  // A node that is not the leader answers a forwarded request with a null index.
  c.deliver({ type: 'ReadIndex', from: n3, to: n2, term: c.status(n3).term, context: 'wrong' });
  const reply = c.queue.find((m) => m.type === 'ReadIndexResponse');
  t.ok(reply?.type === 'ReadIndexResponse' && reply.index === null && reply.context === 'wrong');
  const none = new Cluster(ids(3));
  const refused = none.node(n2).readIndex('nobody');
  t.same(refused, { ok: false, error: { code: 'NOT_LEADER', leader: null } });
});

t.test('leadership transfer: catch the target up, then TimeoutNow; proposals refused meanwhile (§3.10)', async (t) => {
  const c = new Cluster(ids(3));
  c.elect(n1);
  c.isolate(n3);
  for (let i = 0; i < 5; i++) c.propose(n1, `t${i}`);
  c.stabilize();
  c.heal();
  const term = c.status(n1).term;
  t.ok(c.node(n1).transferLeadership(n3).ok);
  t.equal(c.status(n1).transferringTo, n3);
  const refused = c.node(n1).propose(bytes('no'));
  t.ok(!refused.ok && refused.error.code === 'DROPPED' && refused.error.reason === 'transfer-in-progress');
  c.stabilize();
  const timeoutNow = c.delivered.filter((m) => m.type === 'TimeoutNow');
  t.equal(timeoutNow.length, 1);
  const caughtUp = c.delivered.findIndex((m) => m.type === 'AppendEntriesResponse' && m.from === n3 && m.accepted);
  t.ok(caughtUp >= 0 && caughtUp < c.delivered.indexOf(timeoutNow[0]!), 'TimeoutNow only after n3 caught up');
  t.equal(c.status(n3).role, 'leader');
  t.equal(c.status(n3).term, term + 1);
  t.equal(c.status(n1).leader, n3);
  t.same(c.commands(n3), ['t0', 't1', 't2', 't3', 't4']);
});

t.test('leadership transfer is aborted after an election timeout if it does not complete', async (t) => {
  const c = new Cluster(ids(3));
  c.elect(n1);
  c.isolate(n3);
  t.ok(c.node(n1).transferLeadership(n3).ok);
  c.tickAll(5);
  t.equal(c.status(n1).transferringTo, n3);
  c.tickAll(6);
  t.equal(c.status(n1).transferringTo, null, 'aborted');
  t.equal(c.status(n1).role, 'leader');
  t.ok(c.node(n1).propose(bytes('ok again')).ok, 'proposals accepted again');
  const self = c.node(n1).transferLeadership(n1);
  t.ok(!self.ok && self.error.code === 'INVALID_TARGET');
  const follower = c.node(n2).transferLeadership(n3);
  t.ok(!follower.ok && follower.error.code === 'NOT_LEADER');
});
