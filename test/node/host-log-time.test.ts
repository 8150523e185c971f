// The log-time bound (docs/security.md, "Log time bound"): a leader never stamps an entry more than
// logTimeJumpMaxMs ahead of the log time before it, and a follower never appends one that does,
// while every legitimate way log time moves (an idle leader's ticks, a new leader continuing, a far
// behind follower catching up, entries after a snapshot) passes untouched.
import t from 'tap';
import fc from 'fast-check';
import type { Message } from '../../src/raft/messages.js';
import type { Entry, LogIndex, NodeId, Snapshot, Term } from '../../src/raft/types.js';
import { nodeId } from '../../src/raft/types.js';
import { decodeEnvelope, encodeEnvelope } from '../../src/node/envelope.js';
import type { LogTimeEvent } from '../../src/node/log-time.js';
import { checkLogTimeJumps, defaultLogTimeJumpMaxMs, describeLogTimeEvent, LogTime } from '../../src/node/log-time.js';
import { commandEntry, readyOf } from './fixtures/fake-core.js';
import { logTimeOps, playLogTimeOps } from './fixtures/log-time-ops.js';
import { makeHost } from './fixtures/make-host.js';

const n1 = nodeId('n1');
const n2 = nodeId('n2');

const timed = (index: number, logTimeMs: number, term = 1): Entry =>
  commandEntry(index, term, encodeEnvelope(logTimeMs, new Uint8Array([index & 0xff])));

function append(entries: readonly Entry[], prevIndex: number, term = 1, from: NodeId = n2): Message {
  return {
    type: 'AppendEntries',
    from,
    to: n1,
    term: term as Term,
    prevIndex: prevIndex as LogIndex,
    prevTerm: 1 as Term,
    entries,
    commit: 0 as LogIndex,
  };
}

function stampOf(data: Uint8Array | undefined): number {
  const envelope = decodeEnvelope(data ?? new Uint8Array());
  if (!envelope.ok) throw new Error(envelope.error);
  return envelope.value.logTimeMs;
}

/** A follower host whose log holds entries 1..3, the last at log time 5000. */
function followerAt5000(): ReturnType<typeof makeHost> {
  const made = makeHost();
  const { host, core } = made;
  core.leader = n2;
  core.readies.push(readyOf({ entries: [timed(1, 4000), timed(2, 4500), timed(3, 5000)], mustSync: true }));
  const out = host.drain();
  host.persisted(out.writes[0]?.seq ?? -1);
  host.drain();
  core.lastIndex = 3;
  return made;
}

t.test('LogTime: every stamp is monotonic and at most jumpMaxMs beyond the highest before it', async () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5000 }), logTimeOps(20_000), (jumpMaxMs, ops) => {
      const lt = new LogTime(0, jumpMaxMs);
      let last = 0;
      return playLogTimeOps(lt, ops, (now) => {
        const before = lt.highestMs;
        const s = lt.stamp(now);
        if (s.logTimeMs < last || s.logTimeMs < before) return false;
        if (s.logTimeMs - before > jumpMaxMs) return false;
        if (s.previousMs !== before || s.wantedMs < s.logTimeMs) return false;
        last = s.logTimeMs;
        return true;
      });
    }),
  );
});

t.test('LogTime: a clock leap of 10^13 ms is clamped once, then log time goes on at the clock rate', async (t) => {
  const lt = new LogTime(1000);
  lt.becomeLeader(0);
  t.same(lt.stamp(100), { logTimeMs: 1100, wantedMs: 1100, previousMs: 1000 }, 'a normal stamp');
  const leap = lt.stamp(1e13);
  t.equal(leap.logTimeMs, 1100 + defaultLogTimeJumpMaxMs, 'clamped to the bound');
  t.equal(leap.wantedMs, 1e13 + 1000, 'what the clock asked for is reported');
  const next = lt.stamp(1e13 + 250);
  t.same(
    next,
    { logTimeMs: 1100 + defaultLogTimeJumpMaxMs + 250, wantedMs: next.logTimeMs, previousMs: leap.logTimeMs },
    're-anchored: 250 ms later is 250 ms of log time, not another jump',
  );
  t.throws(() => new LogTime(0, 0), /logTimeJumpMaxMs must be a positive integer, got 0/);
});

t.test(
  'checkLogTimeJumps measures each entry from the highest before it; noops and undecodable commands pass',
  async (t) => {
    const noop: Entry = { index: 3 as LogIndex, term: 1 as Term, kind: 'noop' };
    const garbage = commandEntry(4, 1, new Uint8Array([9]));
    const entries = [
      timed(1, 100),
      timed(2, 50),
      noop,
      garbage,
      timed(5, 160),
      timed(6, 161),
      timed(7, 300),
      timed(8, 301),
    ];
    const check = checkLogTimeJumps(entries, 90, 60);
    t.equal(check.accepted, 6, 'entries 1..6 pass: 50 is behind (allowed), 160 is 60 after 100');
    t.same(check.jump, { index: 7, term: 1, logTimeMs: 300, previousMs: 161 });
    t.equal(check.highestMs, 161);
    const clean = checkLogTimeJumps(entries.slice(0, 6), 90, 60);
    t.same(clean, { accepted: 6, jump: null, highestMs: 161 });
    t.equal(checkLogTimeJumps([timed(1, 200)], 100, 60).accepted, 0, 'the first entry is measured from the floor');
  },
);

t.test('a follower refuses a forged AppendEntries 10^13 ms ahead, reports the sender, and keeps serving', async (t) => {
  const { host, core } = followerAt5000();
  const forged = append([timed(4, 5100), timed(5, 5000 + 1e13), timed(6, 5000 + 1e13 + 1)], 3);
  host.receive(forged);
  const stepped = core.stepped.at(-1);
  t.equal(stepped?.type, 'AppendEntries');
  if (stepped?.type === 'AppendEntries') {
    t.same(
      stepped.entries.map((e) => e.index),
      [4],
      'stepped without the forged entry and everything after it',
    );
    t.equal(stepped.prevIndex, 3, 'the header is kept: the leader still hears how the log matches');
  }
  const out = host.drain();
  t.equal(out.logTimeEvents.length, 1);
  const event = out.logTimeEvents[0] as LogTimeEvent;
  t.match(event, {
    kind: 'refused',
    from: n2,
    term: 1,
    dropped: 2,
    jumpMaxMs: defaultLogTimeJumpMaxMs,
    jump: { index: 5, logTimeMs: 5000 + 1e13, previousMs: 5100 },
  });
  t.match(
    describeLogTimeEvent(event),
    /^refused 2 entries from n2 \(term 1\): entry 5 has log time 10000000005000 ms, 9999999999900 ms after 5100 ms, more than logTimeJumpMaxMs 60000$/,
  );
  t.same(host.drain().logTimeEvents, [], 'reported once');

  // The same forged entry again (the leader retries) is refused again; a legitimate one passes.
  core.lastIndex = 4;
  host.receive(append([timed(5, 5000 + 1e13)], 4));
  t.equal(host.drain().logTimeEvents.length, 1, 'refused again');
  const legit = append([timed(5, 5200), timed(6, 5300)], 4);
  host.receive(legit);
  t.equal(core.stepped.at(-1), legit, 'a legitimate AppendEntries is stepped as it is');
  t.same(host.drain().logTimeEvents, []);
});

t.test('an AppendEntries the core would not append from anyway is stepped as it is, without a report', async (t) => {
  const { host, core } = followerAt5000();
  core.term = 3;
  const stale = append([timed(4, 5000 + 1e13)], 3, 2);
  host.receive(stale);
  t.equal(core.stepped.at(-1), stale, 'a stale term: the core rejects it');
  const gap = append([timed(9, 5000 + 1e13)], 8, 3);
  host.receive(gap);
  t.equal(core.stepped.at(-1), gap, 'prevIndex beyond the log: the core answers with its hint');
  t.same(host.drain().logTimeEvents, []);
});

t.test('a leader whose clock leaps clamps its stamp and reports it', async (t) => {
  const { host, core } = makeHost({ logTimeJumpMaxMs: 1000 });
  core.role = 'leader';
  core.leader = n1;
  core.readies.push(readyOf({ softState: { role: 'leader', leader: n1 } }));
  host.drain();
  host.propose('a', new Uint8Array([1]));
  host.tick(5000);
  host.propose('b', new Uint8Array([2]));
  host.tick(5040);
  host.propose('c', new Uint8Array([3]));
  // a; the idle leader's time-advance entry at 5000 (clamped); b in the same millisecond; c.
  t.same(core.proposed.map(stampOf), [0, 1000, 1000, 1040], 'clamped to 1000 ms, then on at the clock rate');
  const out = host.drain();
  t.same(out.logTimeEvents, [{ kind: 'clamped', wantedMs: 5000, stampedMs: 1000, previousMs: 0, jumpMaxMs: 1000 }]);
  t.match(
    describeLogTimeEvent(out.logTimeEvents[0] as LogTimeEvent),
    /clock asked for 5000 ms, 5000 ms after the log's 0 ms; stamped 1000 ms/,
  );
});

t.test(
  'legitimate log time is never refused: idle ticks, a new leader, a far-behind follower, after a snapshot',
  async (t) => {
    // An idle leader ticks for ten minutes of its clock; a follower far behind receives the whole
    // log at once in two AppendEntries in one turn, the second while the first one's write is in flight.
    const leader = makeHost({ nowMs: 0 });
    leader.core.role = 'leader';
    leader.core.leader = n1;
    leader.core.readies.push(readyOf({ softState: { role: 'leader', leader: n1 } }));
    leader.host.drain();
    for (let now = 100; now <= 600_000; now += 100) leader.host.tick(now);
    // A new leader continues the log after an election pause.
    leader.core.role = 'follower';
    leader.core.readies.push(readyOf({ softState: { role: 'follower', leader: n2 } }));
    leader.host.drain();
    leader.host.tick(601_000);
    leader.core.role = 'leader';
    leader.core.readies.push(readyOf({ softState: { role: 'leader', leader: n1 } }));
    leader.host.drain();
    for (let now = 601_100; now <= 700_000; now += 100) leader.host.tick(now);
    t.same(leader.host.drain().logTimeEvents, [], 'the leader never clamped');
    const log = leader.core.proposed.map((data, i) => commandEntry(i + 1, 1, data));
    t.ok(stampOf(leader.core.proposed.at(-1)) > 690_000, 'the log spans over eleven minutes of log time');

    const { host, core } = makeHost();
    core.leader = n2;
    const half = Math.floor(log.length / 2);
    host.receive(append(log.slice(0, half), 0));
    core.lastIndex = half; // the core appended the first half (not yet written: no Ready taken)
    host.receive(append(log.slice(half), half));
    core.readies.push(readyOf({ entries: log.slice(0, half), mustSync: true }));
    const first = host.drain();
    host.receive(append(log.slice(half), half));
    core.readies.push(readyOf({ entries: log.slice(half), mustSync: true }));
    host.persisted(first.writes[0]?.seq ?? -1);
    t.same(host.drain().logTimeEvents, []);
    t.same(
      core.stepped.map((m) => (m.type === 'AppendEntries' ? m.entries.length : -1)),
      [half, log.length - half, log.length - half],
      'every entry stepped',
    );

    // A follower whose log ends at 5000 installs a snapshot taken hours later; the entries after it
    // arrive before the snapshot's write has finished.
    const behind = followerAt5000();
    const hours = 5 * 3600_000;
    const snapshot: Snapshot = {
      meta: { index: 100 as LogIndex, term: 1 as Term, conf: { voters: [n1, n2], learners: [] } },
      data: encodeEnvelope(hours, behind.machine.snapshot()),
    };
    behind.core.readies.push(readyOf({ snapshot, mustSync: true }));
    behind.host.drain();
    behind.core.lastIndex = 100;
    const after = append([timed(101, hours + 100)], 100);
    behind.host.receive(after);
    t.equal(behind.core.stepped.at(-1), after, 'entries continuing from the snapshot pass');
    t.same(behind.host.drain().logTimeEvents, []);
  },
);
