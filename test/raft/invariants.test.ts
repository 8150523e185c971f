// The log's marks (snapshotIndex ≤ applied ≤ applying ≤ commit ≤ lastIndex) move only through
// RaftLog's methods, and both RaftLog and RaftNode check their invariants after every mutation and
// every call into the node: a state that breaks them stops the node with a message naming the marks.
import t from 'tap';
import { defaultRaftLimits } from '../../src/raft/config.js';
import { RaftLog } from '../../src/raft/log.js';
import { createRaftNode } from '../../src/raft/node.js';
import type { Entry, NodeId, Snapshot } from '../../src/raft/types.js';
import { emptyPersistentState, logIndex, term } from '../../src/raft/types.js';
import { AssertionError } from '../../src/util/assert.js';
import { createRng } from '../../src/util/rng.js';
import { ids } from './fixtures/cluster.js';

const [a, b, c] = ids(3) as [NodeId, NodeId, NodeId];

function entries(terms: number[], from = 1): Entry[] {
  return terms.map((t, i) => ({ index: logIndex(from + i), term: term(t), kind: 'noop' as const }));
}

function snapshotAt(index: number, snapshotTerm: number): Snapshot {
  return {
    meta: { index: logIndex(index), term: term(snapshotTerm), conf: { voters: [a, b, c], learners: [] } },
    data: new Uint8Array(0),
  };
}

/** Reach a private mark the way a bug inside the class would; only to show the check catches it. */
function corrupt(log: RaftLog, mark: 'commitIndex' | 'appliedIndex', value: number): void {
  (log as unknown as Record<string, number>)[mark] = value;
}

t.test('the marks are read-only outside RaftLog', async (t) => {
  const log = new RaftLog(null, entries([1, 1, 2]), 2);
  t.throws(() => {
    // @ts-expect-error the commit index moves only through commitTo and restore
    log.commit = 3;
  }, TypeError);
  t.throws(() => {
    // @ts-expect-error the applied index moves only through appliedTo and snapshotApplied
    log.applied = 1;
  }, TypeError);
  t.equal(log.commit, 2);
  t.equal(log.applied, 0);
});

t.test('applied may lag the snapshot only while a restored snapshot is on its way to the host', async (t) => {
  const log = new RaftLog(null, entries([1, 1, 2]), 2);
  t.same(
    log.takeCommitted().map((e) => e.index),
    [1, 2],
  );
  log.appliedTo(2);
  const snapshot = snapshotAt(10, 3);
  log.restore(snapshot);
  t.equal(log.snapshotIndex, 10);
  t.equal(log.applied, 2, 'not applied until the host says so');
  t.ok(log.hasUnstable(), 'the snapshot waits for the next Ready');
  t.equal(log.takePendingSnapshot(), snapshot);
  t.equal(log.takePendingSnapshot(), null, 'handed out once');
  log.snapshotApplied(10);
  t.equal(log.applied, 10);
  t.equal(log.persisted, 10);
  // Settled again: applied behind the snapshot is now a broken log, caught at the next mutation.
  corrupt(log, 'appliedIndex', 4);
  t.throws(() => log.stableTo(10, 3), /log marks out of order: snapshotIndex 10, applied 4/);
});

t.test('an older snapshot acknowledged after a newer restore leaves the newer one on its way', async (t) => {
  const log = new RaftLog(null, entries([1, 1]), 1);
  log.restore(snapshotAt(5, 2));
  t.ok(log.takePendingSnapshot() !== null);
  log.restore(snapshotAt(9, 3));
  log.snapshotApplied(5);
  t.equal(log.applied, 5, 'behind the log snapshot at 9, which is still on its way');
  t.equal(log.takePendingSnapshot()?.meta.index, 9);
  log.snapshotApplied(9);
  t.equal(log.applied, 9);
});

t.test('applying beyond what was handed out, or committing beyond the log, is refused', async (t) => {
  const log = new RaftLog(null, entries([1, 1, 2]), 1);
  t.throws(() => log.appliedTo(1), AssertionError, 'nothing handed out yet');
  t.throws(() => log.commitTo(4), AssertionError);
  corrupt(log, 'commitIndex', 7);
  t.throws(() => log.checkInvariants(), /commit 7, lastIndex 3/);
});

t.test('a bootstrap log has nothing on disk: all of it goes out in the first Ready', async (t) => {
  const log = new RaftLog(null, entries([1, 1]), 2, 'bootstrap');
  t.equal(log.persisted, 0);
  t.equal(log.unstableFrom, 1);
  t.same(
    log.takeUnstable().map((e) => e.index),
    [1, 2],
  );
});

t.test('RaftNode checks its invariants after every call into it', async (t) => {
  const node = createRaftNode(
    { ...defaultRaftLimits, id: a, initialVoters: [a] },
    emptyPersistentState(),
    createRng(1),
  );
  node.campaign();
  while (node.hasReady()) node.advance(node.ready());
  t.equal(node.status().role, 'leader');
  // Reach inside as a bug in a role handler would: the node names itself leader as a follower.
  const state = (node as unknown as { s: { role: string } }).s;
  state.role = 'follower';
  t.throws(() => node.tick(), /node n1, term 2: role follower with leader n1/, 'tick');
  t.throws(() => node.reportUnreachable(b), AssertionError, 'reportUnreachable');
  state.role = 'leader';
  node.tick();
  t.pass('a repaired state passes again');
});
