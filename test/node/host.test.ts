// The node host is the deterministic glue between the Raft core, the state machine and the
// outside world. These tests drive it with a scripted core and prove the Ready ordering rule
// (Raft Figure 2 "respond after persisting"; dissertation §10.2.1), the reply contract of
// proposals and reads (§6.3, §6.4), log time stamping across leaders, and snapshot/compaction.
import t from 'tap';
import fc from 'fast-check';
import { defaultRaftLimits } from '../../src/raft/config.js';
import type { Message } from '../../src/raft/messages.js';
import type { Entry, LogIndex, NodeId, Term } from '../../src/raft/types.js';
import { nodeId } from '../../src/raft/types.js';
import { decodeEnvelope, encodeEnvelope } from '../../src/node/envelope.js';
import { NodeHost } from '../../src/node/host.js';
import type { HostReply } from '../../src/node/host-reply.js';
import { LogTime } from '../../src/node/log-time.js';
import { HashMachine, type HashResult } from '../../src/sim/hash-machine.js';
import { createRng } from '../../src/util/rng.js';
import { FakeCore, commandEntry, readyOf } from './fixtures/fake-core.js';
import { logTimeOps, playLogTimeOps } from './fixtures/log-time-ops.js';
import { makeHost } from './fixtures/make-host.js';

const n1 = nodeId('n1');
const n2 = nodeId('n2');

const heartbeat = (to: NodeId): Message => ({
  type: 'Heartbeat',
  from: n1,
  to,
  term: 1 as Term,
  commit: 0 as LogIndex,
  context: null,
});
const voteResponse = (to: NodeId): Message => ({
  type: 'RequestVoteResponse',
  from: n1,
  to,
  term: 1 as Term,
  preVote: false,
  granted: true,
});

t.test('Ready rule: nothing is sent, applied, replied or advanced before persisted(seq)', async (t) => {
  const { host, core, machine } = makeHost();
  core.role = 'leader';
  core.leader = n1;
  host.propose('r1', new Uint8Array([7]));
  const data = core.proposed[0];
  t.ok(data, 'the proposal reached the core');
  const entry = commandEntry(1, 1, data as Uint8Array);
  const first = readyOf({
    hardState: { term: 1 as Term, vote: n1, commit: 1 as LogIndex },
    entries: [entry],
    committed: [entry],
    earlyMessages: [heartbeat(n2)],
    messages: [voteResponse(n2)],
    mustSync: true,
  });
  const second = readyOf({ messages: [heartbeat(n2)] });
  core.readies.push(first, second);

  const out1 = host.drain();
  t.equal(out1.writes.length, 1, 'one write for the Ready');
  t.equal(out1.writes[0]?.sync, true);
  t.same(out1.earlyMessages, [heartbeat(n2)], 'early messages go out at once');
  t.same(out1.messages, [], 'messages wait for the write');
  t.same(out1.replies, [], 'no reply before the write');
  t.equal(machine.applied, 0, 'nothing applied before the write');
  t.equal(core.advanced.length, 0, 'no advance before the write');
  t.equal(core.readies.length, 1, 'the next Ready is not taken while one is outstanding');

  // Inputs keep flowing while the write is in flight.
  host.receive(heartbeat(n1));
  host.tick(25);
  t.equal(core.ticks, 2, '25 ms at 10 ms per tick');
  t.same(host.drain().writes, [], 'still one Ready outstanding');

  host.persisted(out1.writes[0]?.seq ?? -1);
  const out2 = host.drain();
  t.same(out2.messages, [voteResponse(n2), heartbeat(n2)], 'messages of both Readies, in order');
  t.equal(machine.applied, 1, 'applied after persisting');
  t.equal(core.advanced.length, 2);
  t.equal(out2.replies.length, 1);
  const reply = out2.replies[0];
  t.equal(reply?.code, 'OK');
  if (reply?.code === 'OK' && reply.kind === 'write')
    t.equal(reply.result.index, 1, 'the state machine result comes back');
});

t.test('a follower answers NOT_LEADER with the leader hint and proposes nothing', async (t) => {
  const { host, core } = makeHost();
  core.leader = n2;
  host.propose('r1', new Uint8Array([1]));
  const out = host.drain();
  t.same(out.replies, [{ requestId: 'r1', code: 'NOT_LEADER', leader: n2 }]);
  t.equal(core.proposed.length, 0);
});

t.test('isLeading follows the role the handled Readies report (the driver asks it every turn)', async (t) => {
  const { host, core } = makeHost();
  t.notOk(host.isLeading, 'a new node does not lead');
  core.readies.push(readyOf({ softState: { role: 'leader', leader: n1 } }));
  host.drain();
  t.ok(host.isLeading, 'leads once a Ready says so');
  core.readies.push(readyOf({ softState: { role: 'follower', leader: n2 } }));
  host.drain();
  t.notOk(host.isLeading, 'and no longer after stepping down');
});

t.test('overwritten entries and lost leadership answer UNKNOWN; applied ones answer OK', async (t) => {
  const { host, core } = makeHost();
  core.role = 'leader';
  host.propose('a', new Uint8Array([1]));
  host.propose('b', new Uint8Array([2]));
  host.propose('c', new Uint8Array([3]));
  // A new leader's entry of term 2 replaces index 1.
  const other = commandEntry(1, 2, encodeEnvelope(5, new Uint8Array([9])));
  core.readies.push(
    readyOf({ entries: [other], hardState: { term: 2 as Term, vote: null, commit: 0 as LogIndex }, mustSync: true }),
  );
  const out = host.drain();
  t.same(out.replies, [{ requestId: 'a', code: 'UNKNOWN', reason: 'entry overwritten by a new leader' }]);
  host.persisted(out.writes[0]?.seq ?? -1);
  core.role = 'follower';
  core.readies.push(readyOf({ softState: { role: 'follower', leader: n2 } }));
  const lost = host.drain().replies.map((r: HostReply<HashResult>) => [r.requestId, r.code]);
  t.same(
    lost,
    [
      ['b', 'UNKNOWN'],
      ['c', 'UNKNOWN'],
    ],
    'leadership lost: outcome unknown',
  );
  t.equal(host.pendingCount, 0);
});

t.test('reads reply only once the state machine has applied the read point (§6.4)', async (t) => {
  const { host, core, machine } = makeHost();
  host.read('q');
  const context = core.readContexts[0] ?? '';
  core.readies.push(readyOf({ readStates: [{ index: 2 as LogIndex, context }] }));
  t.same(host.drain().replies, [], 'read point 2, applied 0');
  const e1 = commandEntry(1, 1, encodeEnvelope(1, new Uint8Array([1])));
  const e2 = commandEntry(2, 1, encodeEnvelope(2, new Uint8Array([2])));
  core.readies.push(readyOf({ committed: [e1] }));
  t.same(host.drain().replies, [], 'applied 1 < 2');
  core.readies.push(readyOf({ committed: [e2] }));
  t.same(host.drain().replies, [{ requestId: 'q', code: 'OK', kind: 'read', index: 2 }]);
  t.equal(machine.applied, 2);
});

t.test('log time continues from the log across leaders and never goes back', async (t) => {
  const { host, core, machine } = makeHost({ nowMs: 1000 });
  core.role = 'leader';
  core.readies.push(readyOf({ softState: { role: 'leader', leader: n1 } }));
  host.drain();
  host.propose('a', new Uint8Array([1]));
  host.tick(1050);
  host.propose('b', new Uint8Array([2]));
  const stamps = core.proposed.map((d) => {
    const env = decodeEnvelope(d);
    return env.ok ? env.value.logTimeMs : -1;
  });
  t.same(stamps, [0, 50], 'log time starts at the log (empty: 0) and follows the leader clock');

  // Another leader wrote entries up to log time 9000; this node follows, then leads again.
  core.role = 'follower';
  const foreign = commandEntry(3, 2, encodeEnvelope(9000, new Uint8Array([3])));
  core.readies.push(readyOf({ softState: { role: 'follower', leader: n2 }, entries: [foreign], mustSync: true }));
  const out = host.drain();
  host.persisted(out.writes[0]?.seq ?? -1);
  host.tick(1100);
  core.role = 'leader';
  core.readies.push(readyOf({ softState: { role: 'leader', leader: n1 } }));
  host.drain();
  host.tick(1120);
  host.propose('c', new Uint8Array([4]));
  const last = decodeEnvelope(core.proposed[core.proposed.length - 1] ?? new Uint8Array());
  t.ok(last.ok && last.value.logTimeMs === 9020, 'continues from the highest log time in its log (9000 + 20)');

  // An idle leader proposes an empty entry every logTimeTickMs.
  const before = core.proposed.length;
  host.tick(1300);
  t.equal(core.proposed.length, before + 1, 'one time-advance entry');
  const tickEntry = decodeEnvelope(core.proposed[before] ?? new Uint8Array());
  t.ok(tickEntry.ok && tickEntry.value.payload.byteLength === 0, 'with an empty payload');

  // The state machine never sees time go back, even for an out-of-order stamp.
  core.readies.push(
    readyOf({
      committed: [
        commandEntry(1, 1, encodeEnvelope(500, new Uint8Array())),
        commandEntry(2, 1, encodeEnvelope(400, new Uint8Array())),
      ],
    }),
  );
  host.drain();
  t.equal(host.appliedLogTime, 500);
  t.equal(machine.applied, 2);
});

t.test('LogTime: stamps are monotonic whatever the clock and the log say', async () => {
  fc.assert(
    fc.property(logTimeOps(1000), (ops) => {
      const lt = new LogTime();
      let last = 0;
      return playLogTimeOps(lt, ops, (now) => {
        const s = lt.stamp(now).logTimeMs;
        if (s < last || s < lt.highestMs - 0) return false;
        last = s;
        return true;
      });
    }),
  );
});

t.test('envelope decoding is total and round-trips', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      decodeEnvelope(bytes);
      return true;
    }),
  );
  fc.assert(
    fc.property(fc.nat({ max: 2 ** 40 }), fc.uint8Array({ maxLength: 40 }), (time, payload) => {
      const env = decodeEnvelope(encodeEnvelope(time, payload));
      return env.ok && env.value.logTimeMs === time && Buffer.from(env.value.payload).equals(Buffer.from(payload));
    }),
  );
  t.notOk(decodeEnvelope(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0])).ok, 'unknown version');
});

t.test('snapshots: every snapshotEntries applied entries, compact and persist; restart restores', async (t) => {
  const { host, core, machine } = makeHost({ snapshotEntries: 3 });
  const entries = [1, 2, 3].map((i) => commandEntry(i, 1, encodeEnvelope(i * 10, new Uint8Array([i]))));
  core.readies.push(readyOf({ committed: entries }));
  const out = host.drain();
  t.same(
    core.compacted.map((c) => c.index),
    [3],
    'core compacted through the applied index',
  );
  t.equal(out.writes.length, 1);
  const write = out.writes[0];
  t.equal(
    write?.snapshot?.meta.index,
    3,
    'the write stores the snapshot at the compacted index: storage drops what it covers',
  );
  t.equal(write?.snapshot?.meta.term, 1);
  t.same(write?.snapshot?.meta.conf, { voters: [n1, n2], learners: [] });
  host.persisted(write?.seq ?? -1);

  const snapshot = write?.snapshot ?? null;
  const restarted = makeHost({
    persisted: { hardState: { term: 1 as Term, vote: null, commit: 3 as LogIndex }, snapshot, entries: [] },
  });
  t.equal(restarted.host.applied, 3, 'applied starts at the snapshot');
  t.equal(restarted.machine.hash, machine.hash, 'state restored from the snapshot');
  t.equal(restarted.host.appliedLogTime, 30, 'log time restored from the snapshot');

  const broken = NodeHost.create<HashResult>({
    raft: { ...defaultRaftLimits, id: n1, initialVoters: [n1] },
    persisted: {
      hardState: { term: 1 as Term, vote: null, commit: 3 as LogIndex },
      snapshot: {
        meta: { index: 3 as LogIndex, term: 1 as Term, conf: { voters: [n1], learners: [] } },
        data: new Uint8Array([1, 2]),
      },
      entries: [],
    },
    rng: createRng(1),
    createRaft: (c, p) => new FakeCore(c, p),
    stateMachine: new HashMachine(),
    tickMs: 10,
    logTimeTickMs: 100,
    snapshotEntries: 0,
    nowMs: 0,
  });
  t.notOk(broken.ok, 'an unreadable snapshot refuses to start');
});

t.test('snapshots by size: once snapshotBytes of commands were applied since the last one', async (t) => {
  // Each envelope is a few bytes of header plus a 100-byte payload: the third entry crosses 250 bytes.
  const { host, core } = makeHost({ snapshotBytes: 250 });
  const payload = new Uint8Array(100);
  const entries = [1, 2, 3, 4].map((i) => commandEntry(i, 1, encodeEnvelope(i * 10, payload)));
  core.readies.push(readyOf({ committed: entries.slice(0, 2) }));
  t.equal(host.drain().writes.length, 0, 'two entries stay under the byte threshold');
  core.readies.push(readyOf({ committed: entries.slice(2, 4) }));
  const out = host.drain();
  t.same(
    core.compacted.map((c) => c.index),
    [4],
    'crossing the threshold snapshots the applied state',
  );
  t.equal(out.writes[0]?.snapshot?.meta.index, 4, 'the write stores the snapshot at the compacted index');
});

t.test('snapshotNow: an on-demand snapshot at the applied index, once per new applied entry', async (t) => {
  const { host, core } = makeHost();
  t.equal(host.snapshotNow(), 0, 'nothing applied: no snapshot');
  t.equal(host.drain().writes.length, 0);
  const entries = [1, 2].map((i) => commandEntry(i, 1, encodeEnvelope(i, new Uint8Array([i]))));
  core.readies.push(readyOf({ committed: entries }));
  host.drain();
  t.equal(host.snapshotNow(), 2, 'snapshot at the applied index');
  const out = host.drain();
  t.equal(out.writes.length, 1);
  t.equal(out.writes[0]?.snapshot?.meta.index, 2);
  t.same(
    core.compacted.map((c) => c.index),
    [2],
  );
  t.equal(host.snapshotNow(), 2, 'nothing new applied: the same index, no second write');
  t.equal(host.drain().writes.length, 0);
});

t.test('an installed snapshot replaces the state machine after it is persisted', async (t) => {
  const source = new HashMachine();
  source.apply({ index: 1 as LogIndex, term: 1 as Term, logTimeMs: 5, payload: new Uint8Array([1]) });
  const data = encodeEnvelope(77, source.snapshot());
  const { host, core, machine } = makeHost();
  const snapshot = { meta: { index: 10 as LogIndex, term: 2 as Term, conf: { voters: [n1, n2], learners: [] } }, data };
  core.readies.push(readyOf({ snapshot, mustSync: true }));
  const out = host.drain();
  t.equal(out.writes[0]?.snapshot, snapshot);
  t.equal(machine.hash === source.hash, false, 'not installed before persisting');
  host.persisted(out.writes[0]?.seq ?? -1);
  host.drain();
  t.equal(machine.hash, source.hash);
  t.equal(host.applied, 10);
  t.equal(host.appliedLogTime, 77);
});

// ---- deferred snapshots: the host records the point, the caller produces the bytes elsewhere ----

const stamped = (index: number, term: number, timeMs: number): Entry =>
  commandEntry(index, term, encodeEnvelope(timeMs, new Uint8Array([index])));

t.test(
  'deferred snapshot: requested at the applied point, completed later without later entries leaking in',
  async (t) => {
    // Raft §7: a snapshot holds the state machine's state at its last included index and that
    // entry's term and configuration; entries applied while it is being taken belong after it.
    const { host, core, machine } = makeHost({ snapshotEntries: 3, snapshotMode: 'deferred' });
    core.readies.push(readyOf({ committed: [1, 2, 3].map((i) => stamped(i, 1, i * 10)) }));
    const first = host.drain();
    t.same(first.snapshotRequests, [{ index: 3 }], 'the policy asks for a snapshot at the applied index');
    t.equal(first.writes.length, 0, 'nothing is written before the bytes come back');
    t.same(core.compacted, [], 'the core is not compacted before the bytes come back');
    t.equal(host.snapshotPending, 3);
    // What a mirror of the machine would encode at index 3 (the machine is at 3 right now).
    const at3 = machine.snapshot();
    const hashAt3 = machine.hash;

    const learner = nodeId('n3');
    const later: Entry[] = [
      stamped(4, 2, 40),
      { index: 5 as LogIndex, term: 2 as Term, kind: 'config', change: { type: 'addLearner', node: learner } },
      stamped(6, 2, 60),
      stamped(7, 2, 70),
    ];
    core.readies.push(readyOf({ committed: later }));
    const second = host.drain();
    t.same(second.snapshotRequests, [], 'no second request while one is pending, although 4 entries passed');
    t.equal(host.applied, 7, 'entries keep applying while the snapshot is pending');

    t.equal(host.snapshotTaken(3 as LogIndex, at3), true, 'the completion is accepted');
    t.same(
      core.compacted.map((c) => c.index),
      [3],
      'the core is compacted through the requested index',
    );
    const third = host.drain();
    t.equal(third.writes.length, 1, 'the snapshot is queued for writing');
    const write = third.writes[0];
    t.equal(
      write?.snapshot?.meta.index,
      3,
      'the write stores the snapshot at the requested index: storage drops what it covers',
    );
    t.same(
      write?.snapshot?.meta,
      { index: 3, term: 1, conf: { voters: [n1, n2], learners: [] } },
      'term and configuration as of index 3',
    );
    const envelope = decodeEnvelope(write?.snapshot?.data ?? new Uint8Array(0));
    t.ok(envelope.ok);
    if (envelope.ok) {
      t.equal(envelope.value.logTimeMs, 30, 'the log time recorded at the request, not the later one');
      t.same(Buffer.from(envelope.value.payload), Buffer.from(at3), 'the bytes handed back');
    }
    t.equal(core.compacted[0]?.data, write?.snapshot?.data, 'the core keeps the same envelope it persists');

    const snapshot = write?.snapshot ?? null;
    const restarted = makeHost({
      persisted: { hardState: { term: 2 as Term, vote: null, commit: 3 as LogIndex }, snapshot, entries: [] },
    });
    t.equal(restarted.machine.hash, hashAt3, 'the snapshot restores the state at 3');
    t.not(restarted.machine.hash, machine.hash, 'entries 4..7 did not leak into it');
    t.same(
      third.snapshotRequests,
      [{ index: 7 }],
      'the policy counts from 3 again: 4 entries since, so the next one is due',
    );
  },
);

t.test('deferred snapshot: completions that are stale, failed or after a stop are dropped safely', async (t) => {
  // A snapshot older than one installed from the leader must never be written after it (Raft §7:
  // a node's snapshot only moves forward), and a stopped node writes nothing.
  const source = new HashMachine();
  source.apply({ index: 1 as LogIndex, term: 1 as Term, logTimeMs: 5, payload: new Uint8Array([9]) });
  const installed = {
    meta: { index: 10 as LogIndex, term: 2 as Term, conf: { voters: [n1, n2], learners: [] } },
    data: encodeEnvelope(77, source.snapshot()),
  };

  await t.test('an InstallSnapshot while pending', async (t) => {
    const { host, core, machine } = makeHost({ snapshotEntries: 2, snapshotMode: 'deferred' });
    core.readies.push(readyOf({ committed: [stamped(1, 1, 10), stamped(2, 1, 20)] }));
    t.same(host.drain().snapshotRequests, [{ index: 2 }]);
    const at2 = machine.snapshot();
    core.readies.push(readyOf({ snapshot: installed, mustSync: true }));
    const out = host.drain();
    host.persisted(out.writes[0]?.seq ?? -1);
    host.drain();
    t.equal(host.applied, 10, 'the leader snapshot is installed');
    t.equal(host.snapshotTaken(2 as LogIndex, at2), false, 'the older completion is stale');
    t.same(core.compacted, [], 'no compaction');
    t.same(host.drain().writes, [], 'no write');
    t.equal(host.snapshotPending, null);
  });

  await t.test('the core holds a newer snapshot the host has not installed yet', async (t) => {
    const { host, core, machine } = makeHost({ snapshotEntries: 2, snapshotMode: 'deferred' });
    core.readies.push(readyOf({ committed: [stamped(1, 1, 10), stamped(2, 1, 20)] }));
    host.drain();
    core.readies.push(readyOf({ snapshot: installed, mustSync: true }));
    core.snapshotIndex = 10;
    const out = host.drain();
    t.equal(out.writes[0]?.snapshot, installed, 'the leader snapshot is being written');
    t.equal(host.snapshotTaken(2 as LogIndex, machine.snapshot()), false, 'ours must not be written after it');
    t.same(core.compacted, []);
    host.persisted(out.writes[0]?.seq ?? -1);
    t.same(host.drain().writes, [], 'no older snapshot follows the installed one');
  });

  await t.test('a stop discards the pending snapshot', async (t) => {
    const { host, core, machine } = makeHost({ snapshotEntries: 2, snapshotMode: 'deferred' });
    core.readies.push(readyOf({ committed: [stamped(1, 1, 10), stamped(2, 1, 20)] }));
    host.drain();
    const bytes = machine.snapshot();
    host.stop('shutting down');
    t.equal(host.snapshotTaken(2 as LogIndex, bytes), false);
    t.same(core.compacted, []);
  });

  await t.test('a completion for another index, then a failure: the policy asks again', async (t) => {
    const { host, core, machine } = makeHost({ snapshotEntries: 2, snapshotMode: 'deferred' });
    core.readies.push(readyOf({ committed: [stamped(1, 1, 10), stamped(2, 1, 20)] }));
    host.drain();
    t.equal(host.snapshotTaken(1 as LogIndex, machine.snapshot()), false, 'not the outstanding request');
    t.equal(host.snapshotPending, 2, 'the real request stays pending');
    host.snapshotFailed(2 as LogIndex);
    t.equal(host.snapshotPending, null, 'a failure clears the request');
    t.same(core.compacted, []);
    t.same(host.drain().snapshotRequests, [{ index: 2 }], 'the next drain asks again');
  });
});

t.test('deferred snapshotNow: asks at the end of the next drain and answers the covered index', async (t) => {
  const { host, core, machine } = makeHost({ snapshotMode: 'deferred' });
  t.equal(host.snapshotNow(), 0, 'nothing applied: nothing to snapshot');
  t.same(host.drain().snapshotRequests, []);
  core.readies.push(readyOf({ committed: [stamped(1, 1, 10), stamped(2, 1, 20)] }));
  host.drain();
  t.equal(host.snapshotNow(), 2, 'the applied index the snapshot will cover');
  t.same(core.compacted, [], 'nothing is encoded or compacted inline');
  const out = host.drain();
  t.same(out.snapshotRequests, [{ index: 2 }]);
  t.equal(host.snapshotNow(), 2, 'a pending request answers its own index');
  t.same(host.drain().snapshotRequests, [], 'and is not asked twice');
  t.ok(host.snapshotTaken(2 as LogIndex, machine.snapshot()));
  t.equal(host.drain().writes[0]?.snapshot?.meta.index, 2);
  t.equal(host.snapshotNow(), 2, 'nothing new applied: the same index');
  t.same(host.drain().snapshotRequests, []);
});
