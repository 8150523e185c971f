// The host's write pipeline under load: committed entries that an earlier write already made
// durable are applied and answered without waiting for the current write (a quorum holds them and
// the write cannot change them: Raft §5.3, dissertation §10.2.1), entries the current write stores
// still wait for it, and a Ready that only moves the commit index (volatile state in Raft's
// Figure 2) costs no write: the commit index rides with the next write instead.
import t from 'tap';
import type { LogIndex, Term } from '../../src/raft/types.js';
import { nodeId } from '../../src/raft/types.js';
import { encodeEnvelope } from '../../src/node/envelope.js';
import { HashMachine } from '../../src/sim/hash-machine.js';
import { commandEntry, readyOf } from './fixtures/fake-core.js';
import { makeHost as makeHostWith } from './fixtures/make-host.js';

const n1 = nodeId('n1');
const n2 = nodeId('n2');

function makeHost(snapshotEntries = 0, snapshotMode: 'inline' | 'deferred' = 'inline') {
  return makeHostWith({ snapshotEntries, snapshotMode });
}

const hard = (term: number, commit: number) => ({ term: term as Term, vote: n1, commit: commit as LogIndex });
const entry = (index: number, stamp: number) => commandEntry(index, 1, encodeEnvelope(stamp, new Uint8Array([index])));

type Host = ReturnType<typeof makeHost>['host'];
type Core = ReturnType<typeof makeHost>['core'];

/** Entries 1 and 2 written and made durable, none committed yet. */
function writeOneAndTwo(host: Host, core: Core): void {
  core.readies.push(readyOf({ hardState: hard(1, 0), entries: [entry(1, 1), entry(2, 2)], mustSync: true }));
  host.persisted(host.drain().writes[0]?.seq ?? -1);
}

/**
 * Entries 1-2 commit in a Ready that also writes entry 3: they apply early, before the core has
 * advanced past them. The drain's output, whose write (entry 3) is not yet durable.
 */
function commitOneAndTwoWritingThree(host: Host, core: Core): ReturnType<Host['drain']> {
  core.readies.push(
    readyOf({ hardState: hard(1, 2), entries: [entry(3, 3)], committed: [entry(1, 1), entry(2, 2)], mustSync: true }),
  );
  return host.drain();
}

t.test('committed entries made durable by an earlier write apply without waiting for the current one', async (t) => {
  const { host, core, machine } = makeHost();
  core.role = 'leader';
  core.leader = n1;
  host.propose('a', new Uint8Array([1]));
  host.propose('b', new Uint8Array([2]));
  const [d1, d2] = core.proposed;
  const e1 = commandEntry(1, 1, d1 as Uint8Array);
  const e2 = commandEntry(2, 1, d2 as Uint8Array);
  core.readies.push(readyOf({ hardState: hard(1, 0), entries: [e1], mustSync: true }));
  const first = host.drain();
  host.persisted(first.writes[0]?.seq ?? -1);
  t.equal(machine.applied, 0, 'entry 1 is durable but not yet committed');

  // Entry 1 is now committed and entry 2 is new: one Ready carries both.
  core.readies.push(readyOf({ hardState: hard(1, 2), entries: [e2], committed: [e1, e2], mustSync: true }));
  const second = host.drain();
  t.equal(second.writes.length, 1, 'entry 2 is written');
  t.equal(machine.applied, 1, 'entry 1 applied while entry 2 is being written');
  t.same(
    second.replies.map((r) => [r.requestId, r.code]),
    [['a', 'OK']],
    'its client is answered in the same drain',
  );
  t.equal(core.advanced.length, 1, 'the Ready itself is not advanced before its write');

  host.persisted(second.writes[0]?.seq ?? -1);
  const third = host.drain();
  t.equal(machine.applied, 2, 'entry 2 applies once its own write is durable');
  t.same(
    third.replies.map((r) => [r.requestId, r.code]),
    [['b', 'OK']],
  );
  t.equal(core.advanced.length, 2);
});

t.test('a Ready whose write replaces a suffix applies nothing from that suffix early', async (t) => {
  const { host, core, machine } = makeHost();
  writeOneAndTwo(host, core);
  // A new leader overwrites index 2 and commits through it in the same Ready.
  const replaced = commandEntry(2, 2, encodeEnvelope(3, new Uint8Array([22])));
  core.readies.push(
    readyOf({ hardState: hard(2, 2), entries: [replaced], committed: [entry(1, 1), replaced], mustSync: true }),
  );
  const out = host.drain();
  t.equal(machine.applied, 1, 'index 1 (durable, unchanged) applies at once; index 2 waits for its write');
  host.persisted(out.writes[0]?.seq ?? -1);
  host.drain();
  t.equal(machine.applied, 2);
});

t.test('a Ready carrying a snapshot applies nothing before its write', async (t) => {
  const { host, core, machine } = makeHost();
  core.readies.push(readyOf({ hardState: hard(1, 0), entries: [entry(1, 1)], mustSync: true }));
  host.persisted(host.drain().writes[0]?.seq ?? -1);
  const snapshotData = encodeEnvelope(5, new HashMachine().snapshot());
  const snapshot = {
    meta: { index: 3 as LogIndex, term: 1 as Term, conf: { voters: [n1, n2], learners: [] } },
    data: snapshotData,
  };
  core.readies.push(readyOf({ hardState: hard(1, 3), snapshot, committed: [], mustSync: true }));
  host.drain();
  t.equal(machine.applied, 0, 'the committed entry before the snapshot is not applied early');
});

t.test('a commit-only Ready costs no write; the commit index rides with the next write', async (t) => {
  const { host, core, machine } = makeHost();
  core.readies.push(readyOf({ hardState: hard(1, 0), entries: [entry(1, 1)], mustSync: true }));
  host.persisted(host.drain().writes[0]?.seq ?? -1);

  core.readies.push(readyOf({ hardState: hard(1, 1), committed: [entry(1, 1)] }));
  const commitOnly = host.drain();
  t.same(commitOnly.writes, [], 'no write for a moved commit index');
  t.equal(machine.applied, 1, 'the entry applies at once');
  t.equal(core.advanced.length, 2, 'and the Ready is advanced');

  core.readies.push(readyOf({ entries: [entry(2, 2)], mustSync: true }));
  const next = host.drain();
  t.same(next.writes[0]?.hardState, hard(1, 1), 'the next write carries the unsaved commit index');
  host.persisted(next.writes[0]?.seq ?? -1);

  core.readies.push(readyOf({ hardState: hard(1, 1), committed: [] }));
  host.drain();
  core.readies.push(readyOf({ hardState: hard(2, 1), entries: [entry(3, 3)], mustSync: true }));
  t.same(host.drain().writes[0]?.hardState, hard(2, 1), "a write's own (newer) hard state wins");
});

t.test('a snapshot write carries the unsaved commit index, so the stored commit covers the snapshot', async (t) => {
  const { host, core } = makeHost(2);
  writeOneAndTwo(host, core);
  core.readies.push(readyOf({ hardState: hard(1, 2), committed: [entry(1, 1), entry(2, 2)] }));
  const out = host.drain();
  t.equal(out.writes.length, 1, 'only the snapshot write');
  t.equal(out.writes[0]?.snapshot?.meta.index, 2);
  t.same(out.writes[0]?.hardState, hard(1, 2), 'with the commit index that covers it');
});

t.test('a deferred snapshot of early-applied entries compacts only once the core has advanced past them', async (t) => {
  const { host, core } = makeHost(2, 'deferred');
  writeOneAndTwo(host, core);
  // The snapshot policy asks for index 2 while the core has not advanced past 1-2 yet.
  const out = commitOneAndTwoWritingThree(host, core);
  t.same(out.snapshotRequests, [{ index: 2 }], 'the request covers the early-applied entries');
  t.equal(core.applied, 0, 'the core has not advanced them');
  t.equal(host.snapshotTaken(2 as LogIndex, new HashMachine().snapshot()), true, 'the completion is accepted');
  t.same(core.compacted, [], 'but nothing is compacted before the core advances');
  host.persisted(out.writes[0]?.seq ?? -1);
  const after = host.drain();
  t.same(
    core.compacted.map((c) => c.index),
    [2],
    'compacted once advanced',
  );
  t.equal(after.writes.find((w) => w.snapshot !== null)?.snapshot?.meta.index, 2, 'and the snapshot is written');
});

t.test(
  'an on-demand snapshot asked for while another waits for the core is requested after it is written',
  async (t) => {
    const { host, core } = makeHost(0, 'deferred');
    writeOneAndTwo(host, core);
    const out = commitOneAndTwoWritingThree(host, core);
    t.equal(host.snapshotNow(), 2, 'the operator asks once 1-2 applied early');
    t.same(host.drain().snapshotRequests, [{ index: 2 }]);
    t.equal(host.snapshotTaken(2 as LogIndex, new HashMachine().snapshot()), true);
    t.equal(host.snapshotPending, null, 'taken, waiting for the core: no request outstanding');
    t.equal(host.snapshotNow(), 2, 'asked again meanwhile');
    t.same(host.drain().snapshotRequests, [], 'no second request while the first waits for the core');
    host.persisted(out.writes[0]?.seq ?? -1);
    core.readies.push(readyOf({ hardState: hard(1, 3), committed: [entry(3, 3)] }));
    const after = host.drain();
    t.same(
      core.compacted.map((c) => c.index),
      [2],
      'the first is written once the core advanced',
    );
    t.same(after.snapshotRequests, [{ index: 3 }], 'the second wish is kept and asked for at the next drain');
  },
);

t.test('a refused peer is reported to the core as down, any other failure as unreachable', async (t) => {
  // docs/raft.md "A dead leader": only a refused connection proves the peer's process is gone.
  const { host, core } = makeHost();
  host.reportUnreachable(n2, 'lost');
  t.same(core.peersDown, [], 'a lost link proves nothing');
  t.same(core.unreachable, [n2]);
  host.reportUnreachable(n2, 'refused');
  t.same(core.peersDown, [n2], 'a refused dial reaches reportPeerDown');
  t.same(core.unreachable, [n2], 'and not reportUnreachable');
});
