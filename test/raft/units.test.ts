// The pure pieces of the core on their own: quorum arithmetic (Raft §5.2, §5.4), membership change
// validation (dissertation §4.1), the pipelining window, the log's marks and backtracking hint
// (§5.3), snapshot chunk reassembly (§7), the canonical text of messages, and determinism.
import t from 'tap';
import { applyConfChange, validateConfChange } from '../../src/raft/confchange.js';
import { describeEntry, describeMessage } from '../../src/raft/describe.js';
import { RaftLog } from '../../src/raft/log.js';
import { Membership } from '../../src/raft/membership.js';
import { Inflights } from '../../src/raft/progress.js';
import { committedIndex, hasQuorum, voteResult } from '../../src/raft/quorum.js';
import { SnapshotReceiver, snapshotChunk } from '../../src/raft/snapshot-transfer.js';
import type { ConfChange, Entry, NodeId, Snapshot } from '../../src/raft/types.js';
import { logIndex, nodeId, term } from '../../src/raft/types.js';
import { AssertionError } from '../../src/util/assert.js';
import { Cluster, bytes, ids } from './fixtures/cluster.js';

const [a, b, c, d, e] = ids(5) as [NodeId, NodeId, NodeId, NodeId, NodeId];

function entries(terms: number[], from = 1): Entry[] {
  return terms.map((t, i) => ({ index: logIndex(from + i), term: term(t), kind: 'noop' as const }));
}

t.test('committedIndex is the highest index on a majority of voters', async (t) => {
  const match = new Map<NodeId, number>([
    [a, 9],
    [b, 7],
    [c, 3],
    [d, 7],
    [e, 1],
  ]);
  const of = (id: NodeId) => match.get(id) ?? 0;
  t.equal(committedIndex([a, b, c, d, e], of), 7);
  t.equal(committedIndex([a, b, c], of), 7);
  t.equal(committedIndex([a, c], of), 3, 'two voters need both');
  t.equal(committedIndex([e], of), 1);
  t.equal(committedIndex([], of), 0);
});

t.test('voteResult: won with a majority, lost when a majority is out of reach', async (t) => {
  // Each case's votes, granted ones first, as the Map voteResult reads.
  const cases: { voters: NodeId[]; granted: NodeId[]; refused: NodeId[]; result: string; why?: string }[] = [
    { voters: [a, b, c], granted: [a, b], refused: [], result: 'won' },
    { voters: [a, b, c], granted: [a], refused: [b], result: 'pending' },
    { voters: [a, b, c], granted: [a], refused: [b, c], result: 'lost' },
    { voters: [a, b, c, d], granted: [a, b], refused: [], result: 'pending', why: 'half is not a majority' },
    { voters: [a], granted: [a], refused: [], result: 'won' },
    { voters: [a, b, c], granted: [d, e, a], refused: [], result: 'pending', why: 'non-voters do not count' },
  ];
  for (const { voters, granted, refused, result, why } of cases) {
    const votes = new Map([...granted.map((id) => [id, true] as const), ...refused.map((id) => [id, false] as const)]);
    t.equal(voteResult(voters, votes), result, ...(why === undefined ? [] : [why]));
  }
  t.ok(hasQuorum([a, b, c], new Set([a, c])));
  t.notOk(hasQuorum([a, b, c, d], new Set([a, c, e])));
});

t.test('conf changes: validated one at a time, applied idempotently', async (t) => {
  const conf = { voters: [a, b, c], learners: [] };
  const added = validateConfChange(conf, { type: 'addLearner', node: d });
  t.same(added, { ok: true, value: { voters: [a, b, c], learners: [d] } });
  t.notOk(validateConfChange(conf, { type: 'addLearner', node: a }).ok);
  t.notOk(validateConfChange(conf, { type: 'promoteLearner', node: a }).ok);
  t.notOk(validateConfChange(conf, { type: 'removeNode', node: d }).ok);
  t.notOk(validateConfChange({ voters: [a], learners: [] }, { type: 'removeNode', node: a }).ok);
  const promoted = applyConfChange({ voters: [a], learners: [d] }, { type: 'promoteLearner', node: d });
  t.same(promoted, { voters: [a, d], learners: [] });
  t.same(applyConfChange(promoted, { type: 'addLearner', node: d }), promoted, 'replaying an add is a no-op');
  t.same(applyConfChange(promoted, { type: 'removeNode', node: a }), { voters: [d], learners: [] });
});

t.test('membership follows appends, truncation and compaction', async (t) => {
  const m = new Membership({ voters: [a, b, c], learners: [] }, 0);
  const cfg = (index: number, change: ConfChange): Entry => ({
    index: logIndex(index),
    term: term(2),
    kind: 'config' as const,
    change,
  });
  t.ok(m.appended(cfg(5, { type: 'addLearner', node: d })));
  t.ok(m.appended(cfg(8, { type: 'promoteLearner', node: d })));
  t.same(m.current().voters, [a, b, c, d]);
  t.same(m.confAt(6), { voters: [a, b, c], learners: [d] });
  t.ok(m.truncatedFrom(7), 'the promotion is rolled back');
  t.same(m.current(), { voters: [a, b, c], learners: [d] });
  m.compactedTo(6);
  t.same(m.current(), { voters: [a, b, c], learners: [d] });
  t.equal(m.lastChangeIndex(), 6);
});

t.test('the inflight window frees acknowledged appends in order', async (t) => {
  const w = new Inflights(3);
  w.add(10);
  w.add(20);
  w.add(30);
  t.ok(w.full());
  w.freeTo(15);
  t.equal(w.count, 2);
  w.add(40);
  w.freeFirst();
  t.equal(w.count, 2);
  w.freeTo(40);
  t.equal(w.count, 0);
});

t.test('RaftLog: merge, conflict truncation, hints, marks and asserted invariants', async (t) => {
  const log = new RaftLog(null, entries([1, 1, 2, 2, 3]), 2);
  t.equal(log.lastIndex(), 5);
  t.equal(log.persisted, 5);
  t.ok(log.isUpToDate(5, 3));
  t.notOk(log.isUpToDate(9, 2), 'a higher last term wins over length');
  // Leader's suffix conflicts from index 4 (term 4 instead of 2).
  const merged = log.mergeFrom(entries([2, 4, 4], 3), 0);
  t.same(merged, { truncatedFrom: 4, appendedFrom: 4 });
  t.same(
    [1, 2, 3, 4, 5].map((i) => log.termAt(i)),
    [1, 1, 2, 4, 4],
  );
  t.equal(log.persisted, 3, 'the replaced suffix is no longer durable');
  t.equal(log.unstableFrom, 4);
  t.same(log.findConflictByTerm(5, 3), { index: 3, term: 2 }, 'hint: last entry with term ≤ 3');
  t.same(log.findConflictByTerm(9, 1), { index: 2, term: 1 });
  t.same(
    log.takeUnstable().map((x) => x.index),
    [4, 5],
  );
  log.stableTo(5, 4);
  t.equal(log.persisted, 5);
  log.commitTo(4);
  t.same(
    log.takeCommitted().map((x) => x.index),
    [1, 2, 3, 4],
    'a fresh log re-delivers from the snapshot on',
  );
  t.throws(() => log.mergeFrom(entries([9], 2), 0), AssertionError, 'committed entries are never truncated');
  t.throws(
    () => log.append({ index: logIndex(9), term: term(5), kind: 'noop' }),
    AssertionError,
    'indexes are contiguous',
  );
  t.throws(() => new RaftLog(null, [...entries([1]), ...entries([1], 3)], 0), AssertionError, 'a gap is refused');
});

t.test('RaftLog: slice honours the count and byte limits but always returns one entry', async (t) => {
  const big: Entry[] = [1, 2, 3, 4].map((i) => ({
    index: logIndex(i),
    term: term(1),
    kind: 'command',
    data: new Uint8Array(100),
  }));
  const log = new RaftLog(null, big, 0);
  t.equal(log.slice(1, 5, 3).length, 3);
  t.equal(log.slice(1, 5, 10, 250).length, 2);
  t.equal(log.slice(1, 5, 10, 10).length, 1);
});

t.test('snapshot chunks reassemble in order only; gaps answer the expected offset', async (t) => {
  const snapshot: Snapshot = {
    meta: { index: logIndex(10), term: term(2), conf: { voters: [a], learners: [] } },
    data: Uint8Array.from({ length: 25 }, (_, i) => i),
  };
  const chunk = (offset: number) => {
    const part = snapshotChunk(snapshot, offset, 10);
    return {
      type: 'InstallSnapshot' as const,
      from: a,
      to: b,
      term: term(2),
      meta: snapshot.meta,
      offset,
      data: part.data,
      totalBytes: 25,
      done: part.done,
    };
  };
  const r = new SnapshotReceiver();
  t.same(r.accept(chunk(10)), { kind: 'ack', nextOffset: 0 }, 'unknown transfer: start again');
  t.same(r.accept(chunk(0)), { kind: 'ack', nextOffset: 10 });
  t.same(r.accept(chunk(20)), { kind: 'ack', nextOffset: 10 }, 'gap: the expected offset');
  t.same(r.accept(chunk(10)), { kind: 'ack', nextOffset: 20 });
  const done = r.accept(chunk(20));
  t.equal(done.kind, 'complete');
  t.same(done.kind === 'complete' ? [...done.snapshot.data] : [], [...snapshot.data]);
});

t.test('describe gives one canonical line per entry and message', async (t) => {
  t.equal(describeEntry({ index: logIndex(5), term: term(2), kind: 'command', data: bytes('abc') }), '5/2 cmd(3B)');
  t.equal(
    describeEntry({
      index: logIndex(6),
      term: term(2),
      kind: 'config',
      change: { type: 'addLearner', node: nodeId('n4') },
    }),
    '6/2 addLearner(n4)',
  );
  t.equal(
    describeMessage({
      type: 'AppendEntriesResponse',
      from: b,
      to: a,
      term: term(3),
      accepted: false,
      index: logIndex(9),
      hintIndex: logIndex(4),
      hintTerm: term(2),
    }),
    'n2→n1 t3 AppendEntriesResponse rejected index=9 hint=4/2',
  );
  t.equal(
    describeMessage({
      type: 'RequestVote',
      from: a,
      to: b,
      term: term(4),
      preVote: true,
      lastIndex: logIndex(7),
      lastTerm: term(3),
      transfer: false,
    }),
    'n1→n2 t4 RequestVote pre last=7/3',
  );
});

t.test('determinism: the same seed and calls give the same messages and outcomes', async (t) => {
  const runOnce = (): string[] => {
    const cluster = new Cluster(ids(5), { seed: 99 });
    cluster.tickAll(25);
    const leader = cluster.leader()!;
    for (let i = 0; i < 5; i++) cluster.propose(leader, `d${i}`);
    cluster.isolate(leader);
    cluster.tickAll(25);
    cluster.heal();
    cluster.tickAll(5);
    return cluster.trace();
  };
  const first = runOnce();
  t.ok(first.length > 100);
  t.same(runOnce(), first);
});
