// Table tests, one per rule of the lock-service specification (docs/statemachine.md): each test
// applies committed entries through LockStateMachine exactly as the node host does (consecutive
// indexes, leader-stamped log time) and checks the results, notifications and state. The Driver
// fixture also checks every invariant after every applied entry.
import t from 'tap';
import { deadlockSearchStepsMax } from '../../src/statemachine/deadlock.js';
import { Packr } from 'msgpackr';
import { encodeCommand } from '../../src/statemachine/commands.js';
import type { Operation } from '../../src/statemachine/commands.js';
import { checkFence, eventsSince, getKey, listLocks, observe, sessionInfo } from '../../src/statemachine/queries.js';
import type { SessionId } from '../../src/statemachine/ids.js';
import { LockStateMachine } from '../../src/statemachine/machine.js';
import { Driver, tokenOf } from './fixtures/driver.js';
import { acquire, release } from './fixtures/ops.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function put(
  session: SessionId,
  key: string,
  value: string,
  extra: Partial<Extract<Operation, { type: 'put' }>> = {},
): Operation {
  return { type: 'put', session, key, value: bytes(value), ifVersion: null, ephemeral: false, fence: null, ...extra };
}

t.test('sessions', async (t) => {
  t.test('openSession: the id is the log index of the opening entry; TTL bounds are enforced', async (t) => {
    const d = new Driver();
    d.tick(0);
    t.equal(d.open('a', 1_000), 2);
    t.equal(d.open('b', 86_400_000), 3);
    const low = d.op('c', { type: 'openSession', ttlMs: 999 });
    t.equal(low.code, 'INVALID_ARGUMENT');
    t.match(low, { message: /ttlMs must be in \[1000, 86400000\]/ });
    t.equal(d.op('c', { type: 'openSession', ttlMs: 86_400_001 }).code, 'INVALID_ARGUMENT');
    t.equal(d.state.sessions.size, 2);
  });

  t.test('expiry happens exactly when logTime − lastSeen > ttl, before the entry runs', async (t) => {
    const d = new Driver();
    const a = d.open('a', 1_000);
    d.tick(1_000); // logTime − lastSeen = ttl: still live
    t.ok(d.state.sessions.has(a));
    const kept = d.op('a', { type: 'keepAlive', session: a });
    t.same(kept, { code: 'OK', value: { kind: 'kept', session: a, deadlineMs: d.nowMs + 1_000 } });
    d.tick(1_000);
    t.ok(d.state.sessions.has(a));
    // One millisecond more and the keepalive itself finds the session gone (expiry runs first).
    const late = d.op('a', { type: 'keepAlive', session: a }, 1);
    t.equal(late.code, 'SESSION_EXPIRED');
    t.notOk(d.state.sessions.has(a));
    t.same(
      d.takeNotifications().filter((n) => n.kind === 'sessionExpired'),
      [{ kind: 'sessionExpired', session: a, clientId: 'a' }],
    );
  });

  t.test('keepAliveBatch: one command refreshes many sessions and reports the dead ones', async (t) => {
    const d = new Driver();
    const a = d.open('a', 1_000);
    const b = d.open('b', 5_000);
    d.tick(1_001); // a expires here
    const out = d.command({ type: 'keepAliveBatch', sessions: [a, b, 99 as SessionId] });
    t.same(out.result, { code: 'OK', value: { kind: 'keptBatch', alive: [b], expired: [a, 99] } });
    t.equal(sessionInfo(d.state, b)?.lastSeenMs, d.nowMs);
  });

  t.test(
    'closeSession releases holds (no lock-delay), cancels waits, deletes ephemeral keys, grants the next waiter',
    async (t) => {
      const [d, a, b, c] = Driver.withSessions('a', 'b', 'c');
      tokenOf(d.op('a', acquire(a, 'L', 0, 60_000)));
      tokenOf(d.op('b', acquire(b, 'M')));
      t.equal(d.op('a', acquire(a, 'M', 5_000)).code, 'OK');
      t.equal(d.op('c', acquire(c, 'L', 5_000)).code, 'OK');
      t.equal(d.op('a', put(a, 'eph', 'x', { ephemeral: true })).code, 'OK');
      d.takeNotifications();
      t.same(d.op('a', { type: 'closeSession', session: a }), { code: 'OK', value: { kind: 'closed', session: a } });
      t.equal(getKey(d.state, 'eph'), null);
      t.same(observeHolders(d, 'L'), [c], 'the waiter is granted in the same step, no lock-delay on close');
      t.same(observeHolders(d, 'M'), [b]);
      t.equal(d.state.locks.get('M')?.waiting, 0, 'the closed session no longer waits');
      t.ok(d.takeNotifications().some((n) => n.kind === 'granted' && n.session === c));
      t.equal(d.op('a', acquire(a, 'X')).code, 'SESSION_EXPIRED');
    },
  );

  t.test('expiry has the same effects as close, and commands on a dead session are SESSION_EXPIRED', async (t) => {
    const d = new Driver();
    const a = d.open('a', 1_000);
    const b = d.open('b', 60_000);
    tokenOf(d.op('a', acquire(a, 'L')));
    t.equal(d.op('a', put(a, 'eph', 'x', { ephemeral: true })).code, 'OK');
    t.equal(d.op('b', acquire(b, 'L', 30_000)).code, 'OK');
    d.tick(2_000);
    t.notOk(d.state.sessions.has(a));
    t.same(observeHolders(d, 'L'), [b]);
    t.equal(getKey(d.state, 'eph'), null);
    t.equal(d.op('a', release(a, 'L')).code, 'SESSION_EXPIRED');
  });
});

function observeHolders(d: Driver, name: string): SessionId[] {
  return [...(d.state.locks.get(name)?.holders.keys() ?? [])];
}

t.test('mutex', async (t) => {
  t.test('a free lock is granted at once with token = the index of the granting entry', async (t) => {
    const d = new Driver();
    const a = d.open('a');
    const result = d.op('a', acquire(a, 'L'));
    t.same(result, { code: 'OK', value: { kind: 'granted', name: 'L', token: d.index } });
  });

  t.test('a held lock answers BUSY at once when waitMs is 0', async (t) => {
    const [d, a, b] = Driver.withSessions('a', 'b');
    tokenOf(d.op('a', acquire(a, 'L')));
    t.match(d.op('b', acquire(b, 'L', 0)), { code: 'BUSY', message: /L is held/ });
    t.equal(d.state.locks.get('L')?.waiting, 0);
  });

  t.test('waiters are FIFO and only the head is granted, in the step that frees the lock', async (t) => {
    const d = new Driver();
    const a = d.open('a');
    const waiters = ['b', 'c', 'd'].map((c) => d.open(c));
    tokenOf(d.op('a', acquire(a, 'L')));
    for (const [i, s] of waiters.entries()) {
      t.match(d.op(['b', 'c', 'd'][i] ?? '', acquire(s, 'L', 10_000)), { code: 'OK', value: { kind: 'queued' } });
    }
    d.takeNotifications();
    d.op('a', release(a, 'L'));
    const grants = d.takeNotifications().filter((n) => n.kind === 'granted');
    t.same(grants, [{ kind: 'granted', session: waiters[0], clientId: 'b', seq: 2, name: 'L', token: d.index }]);
    d.op('b', release(waiters[0] as SessionId, 'L'));
    t.same(observeHolders(d, 'L'), [waiters[1]]);
  });

  t.test('a wait that times out by log time leaves the queue with a TIMEOUT notification', async (t) => {
    const d = new Driver();
    const a = d.open('a', 60_000);
    const b = d.open('b', 60_000);
    const c = d.open('c', 60_000);
    tokenOf(d.op('a', acquire(a, 'L')));
    d.op('b', acquire(b, 'L', 1_000));
    d.op('c', acquire(c, 'L', 5_000));
    d.takeNotifications();
    d.tick(1_000);
    t.equal(d.state.locks.get('L')?.waiting, 2, 'waited exactly waitMs: not yet timed out');
    d.tick(1);
    t.same(d.takeNotifications(), [{ kind: 'timeout', session: b, clientId: 'b', seq: 2, name: 'L' }]);
    t.match(d.retry('b', acquire(b, 'L', 1_000)), { code: 'TIMEOUT' }, 'a retry learns the final outcome');
    d.op('a', release(a, 'L'));
    t.same(observeHolders(d, 'L'), [c]);
  });

  t.test('acquiring a lock the session already holds returns the existing grant', async (t) => {
    const d = new Driver();
    const a = d.open('a');
    const first = tokenOf(d.op('a', acquire(a, 'L')));
    t.equal(tokenOf(d.op('a', acquire(a, 'L', 1_000))), first);
  });

  t.test('release by a non-holder is NOT_HOLDER and changes nothing', async (t) => {
    const [d, a, b] = Driver.withSessions('a', 'b');
    tokenOf(d.op('a', acquire(a, 'L')));
    t.match(d.op('b', release(b, 'L')), { code: 'NOT_HOLDER' });
    t.match(d.op('b', release(b, 'nothing')), { code: 'NOT_HOLDER' });
    t.same(observeHolders(d, 'L'), [a]);
  });

  t.test('fencing tokens strictly increase even when one entry grants several locks', async (t) => {
    const d = new Driver();
    const a = d.open('a', 1_000);
    const b = d.open('b', 60_000);
    for (const name of ['x', 'y', 'z']) tokenOf(d.op('a', acquire(a, name)));
    for (const name of ['x', 'y', 'z']) d.op('b', acquire(b, name, 30_000));
    d.takeNotifications();
    d.tick(5_000);
    const tokens = d.takeNotifications().flatMap((n) => (n.kind === 'granted' ? [n.token] : []));
    t.same(tokens, [d.index, d.index + 1, d.index + 2]);
    t.ok(tokenOf(d.op('b', acquire(b, 'w'))) > d.index + 1, 'later tokens continue above them');
  });
});

t.test('lock-delay: a lock freed by expiry is not granted again until the delay has passed', async (t) => {
  const d = new Driver();
  const a = d.open('a', 1_000);
  const b = d.open('b', 60_000);
  tokenOf(d.op('a', acquire(a, 'L', 0, 5_000)));
  d.op('b', acquire(b, 'L', 30_000));
  d.tick(1_001); // a expires; the lock-delay runs until now + 5000
  const freedAt = d.nowMs;
  t.same(observeHolders(d, 'L'), []);
  t.match(d.op('b', acquire(b, 'L', 0)), { code: 'OK', value: { kind: 'queued' } }, 'already queued');
  const c = d.open('c', 60_000);
  t.match(d.op('c', acquire(c, 'L', 0)), { code: 'BUSY', message: /lock-delay/ });
  d.tick(freedAt + 4_999 - d.nowMs);
  t.same(observeHolders(d, 'L'), []);
  d.tick(1);
  t.same(observeHolders(d, 'L'), [b], 'granted at the first entry at or after the delay');
  t.same(listLocks(d.state, 'L', 10)[0]?.delayUntilMs, 0);
});

t.test('semaphore: up to N holders, FIFO waiters, a different N is INVALID_ARGUMENT', async (t) => {
  const d = new Driver();
  const s = ['a', 'b', 'c', 'e'].map((c) => d.open(c));
  const sem = (i: number, permits = 2, waitMs = 10_000): Operation => ({
    type: 'acquireSemaphore',
    session: s[i] as SessionId,
    name: 'S',
    permits,
    waitMs,
    lockDelayMs: 0,
  });
  const ta = tokenOf(d.op('a', sem(0)));
  const tb = tokenOf(d.op('b', sem(1)));
  t.ok(tb > ta);
  t.match(d.op('c', sem(2)), { code: 'OK', value: { kind: 'queued' } });
  t.match(d.op('e', sem(3, 3)), { code: 'INVALID_ARGUMENT', message: /2 permits/ });
  t.match(d.op('e', sem(3, 2, 0)), { code: 'BUSY' });
  t.equal(checkFence(d.state, 'S', ta).code, 'OK', 'every current permit token is current');
  d.op('a', release(s[0] as SessionId, 'S'));
  t.same(observeHolders(d, 'S'), [s[1], s[2]]);
});

t.test('rwlock: shared readers, exclusive writer, FIFO without writer starvation', async (t) => {
  const d = new Driver();
  const [r1, r2, w, r3, r4] = ['r1', 'r2', 'w', 'r3', 'r4'].map((c) => d.open(c)) as SessionId[] &
    [SessionId, SessionId, SessionId, SessionId, SessionId];
  const rw = (s: SessionId, mode: 'read' | 'write', waitMs = 10_000): Operation => ({
    type: 'acquireRw',
    session: s,
    name: 'R',
    mode,
    waitMs,
    lockDelayMs: 0,
  });
  tokenOf(d.op('r1', rw(r1, 'read')));
  tokenOf(d.op('r2', rw(r2, 'read')));
  t.match(d.op('w', rw(w, 'write')), { code: 'OK', value: { kind: 'queued' } });
  t.match(
    d.op('r3', rw(r3, 'read')),
    { code: 'OK', value: { kind: 'queued' } },
    'a new reader does not jump the waiting writer',
  );
  t.match(d.op('r4', rw(r4, 'read', 0)), { code: 'BUSY' });
  d.op('r1', release(r1, 'R'));
  t.same(observeHolders(d, 'R'), [r2]);
  d.op('r2', release(r2, 'R'));
  t.same(observeHolders(d, 'R'), [w], 'the writer goes next');
  t.match(d.op('r4', rw(r4, 'read')), { code: 'OK', value: { kind: 'queued' } });
  d.op('w', release(w, 'R'));
  t.same(observeHolders(d, 'R'), [r3, r4], 'readers queued behind the writer are granted together');
  t.match(
    d.op('r3', rw(r3, 'write')),
    { code: 'DEADLOCK', cycle: [{ session: r3, lock: 'R' }] },
    'upgrade would wait for itself',
  );
  t.match(d.op('r3', { type: 'acquire', session: r3, name: 'R', waitMs: 0, lockDelayMs: 0 }), {
    code: 'INVALID_ARGUMENT',
    message: /R is a rwlock, not a mutex/,
  });
});

t.test(
  'election: campaign waits to lead, observe follows, proclaim changes the value, resign hands over',
  async (t) => {
    const [d, a, b] = Driver.withSessions('a', 'b');
    const camp = (s: SessionId, value: string): Operation => ({
      type: 'campaign',
      session: s,
      name: 'E',
      value: bytes(value),
      waitMs: 60_000,
      lockDelayMs: 0,
    });
    const ta = tokenOf(d.op('a', camp(a, 'host-a')));
    t.match(d.op('b', camp(b, 'host-b')), { code: 'OK', value: { kind: 'queued' } });
    t.same(observe(d.state, 'E'), { session: a, token: ta, value: bytes('host-a') });
    t.same(d.op('a', { type: 'proclaim', session: a, name: 'E', value: bytes('host-a2') }), {
      code: 'OK',
      value: { kind: 'proclaimed', name: 'E', token: ta },
    });
    t.match(d.op('b', { type: 'proclaim', session: b, name: 'E', value: bytes('x') }), { code: 'NOT_HOLDER' });
    t.same(observe(d.state, 'E')?.value, bytes('host-a2'));
    d.takeNotifications();
    d.op('a', { type: 'resign', session: a, name: 'E' });
    const leader = observe(d.state, 'E');
    t.same(leader, { session: b, token: d.index, value: bytes('host-b') });
    const events = d.takeNotifications().flatMap((n) => (n.kind === 'event' ? [n.event.type] : []));
    t.same(events, ['release', 'leader'], 'observers see the handover as watch events');
    t.equal(observe(d.state, 'nothing'), null);
  },
);

t.test('versioned keys', async (t) => {
  t.test('get returns value, version, createIndex, modifyIndex; ifVersion is compare-and-set', async (t) => {
    const d = new Driver();
    const a = d.open('a');
    t.match(d.op('a', put(a, 'k', 'v1', { ifVersion: 0 })), { code: 'OK', value: { version: 1 } });
    const created = d.index;
    t.same(d.op('a', put(a, 'k', 'v0', { ifVersion: 0 })), {
      code: 'VERSION_MISMATCH',
      message: 'k is at version 1, not 0',
      version: 1,
    });
    t.match(d.op('a', put(a, 'k', 'v2', { ifVersion: 1 })), { code: 'OK', value: { version: 2 } });
    t.same(getKey(d.state, 'k'), {
      key: 'k',
      value: bytes('v2'),
      version: 2,
      createIndex: created,
      modifyIndex: d.index,
      ephemeralSession: null,
    });
    t.match(d.op('a', { type: 'delete', session: a, key: 'k', ifVersion: 1, fence: null }), {
      code: 'VERSION_MISMATCH',
      version: 2,
    });
    t.same(d.op('a', { type: 'delete', session: a, key: 'k', ifVersion: 2, fence: null }), {
      code: 'OK',
      value: { kind: 'deleted', key: 'k', existed: true },
    });
    t.same(d.op('a', { type: 'delete', session: a, key: 'k', ifVersion: null, fence: null }), {
      code: 'OK',
      value: { kind: 'deleted', key: 'k', existed: false },
    });
    t.match(
      d.op('a', put(a, 'k', 'v3')),
      { code: 'OK', value: { version: 1, createIndex: d.index } },
      'recreated from version 1',
    );
  });

  t.test('fenced writes: refused with STALE_TOKEN unless the token is the lock’s current grant', async (t) => {
    const d = new Driver();
    const a = d.open('a', 1_000);
    const b = d.open('b', 60_000);
    const old = tokenOf(d.op('a', acquire(a, 'L')));
    t.equal(d.op('a', put(a, 'data', 'from-a', { fence: { lock: 'L', token: old } })).code, 'OK');
    d.tick(1_001); // a pauses past its TTL and loses the lock
    const fresh = tokenOf(d.op('b', acquire(b, 'L')));
    t.equal(checkFence(d.state, 'L', old).code, 'STALE_TOKEN');
    t.equal(checkFence(d.state, 'L', fresh).code, 'OK');
    const zombie = d.open('a2', 60_000);
    t.match(d.op('a2', put(zombie, 'data', 'stale', { fence: { lock: 'L', token: old } })), { code: 'STALE_TOKEN' });
    t.equal(d.op('b', put(b, 'data', 'from-b', { fence: { lock: 'L', token: fresh } })).code, 'OK');
    t.same(getKey(d.state, 'data')?.value, bytes('from-b'));
  });

  t.test('ephemeral keys are deleted when their session ends; a plain put makes a key persistent', async (t) => {
    const d = new Driver();
    const a = d.open('a', 1_000);
    const b = d.open('b', 60_000);
    d.op('a', put(a, 'e1', 'x', { ephemeral: true }));
    d.op('a', put(a, 'e2', 'x', { ephemeral: true }));
    d.op('b', put(b, 'e2', 'y'));
    d.tick(2_000);
    t.equal(getKey(d.state, 'e1'), null);
    t.same(getKey(d.state, 'e2')?.value, bytes('y'));
  });
});

t.test('watches: events since an index, by prefix, without gaps, or COMPACTED', async (t) => {
  const d = new Driver({ eventHistoryMax: 4 });
  const a = d.open('a');
  d.op('a', put(a, 'app/x', '1'));
  const first = d.index;
  d.op('a', put(a, 'other', '1'));
  d.op('a', put(a, 'app/y', '1'));
  const answer = eventsSince(d.state, 'app/', 0, 10);
  t.match(answer, { code: 'OK', nextAfter: d.index });
  t.same(answer.code === 'OK' ? answer.events.map((e) => e.index) : [], [first, d.index]);
  const page = eventsSince(d.state, '', 0, 1);
  t.same(page.code === 'OK' ? [page.events.length, page.nextAfter] : [], [1, first]);
  d.op('a', put(a, 'app/z', '1'));
  d.op('a', put(a, 'app/w', '1')); // evicts the event at `first`
  t.match(eventsSince(d.state, 'app/', 0, 10), { code: 'COMPACTED' });
  t.match(eventsSince(d.state, 'app/', first, 10), { code: 'OK' });
  t.match(eventsSince(d.state, '', 0, 0), { code: 'INVALID_ARGUMENT' });
  t.ok(
    d.takeNotifications().every((n) => n.kind === 'event'),
    'each event is also pushed from apply',
  );
});

t.test('deadlock: a wait that would close a cycle is refused at once, naming the cycle', async (t) => {
  const d = new Driver();
  const [a, b, c] = ['a', 'b', 'c'].map((x) => d.open(x)) as [SessionId, SessionId, SessionId];
  tokenOf(d.op('a', acquire(a, 'X')));
  tokenOf(d.op('b', { type: 'acquireRw', session: b, name: 'Y', mode: 'write', waitMs: 0, lockDelayMs: 0 }));
  tokenOf(d.op('c', { type: 'acquireSemaphore', session: c, name: 'Z', permits: 1, waitMs: 0, lockDelayMs: 0 }));
  d.op('a', { type: 'acquireRw', session: a, name: 'Y', mode: 'read', waitMs: 10_000, lockDelayMs: 0 });
  d.op('b', { type: 'acquireSemaphore', session: b, name: 'Z', permits: 1, waitMs: 10_000, lockDelayMs: 0 });
  const refused = d.op('c', acquire(c, 'X', 10_000));
  t.match(refused, {
    code: 'DEADLOCK',
    cycle: [
      { session: c, lock: 'X' },
      { session: a, lock: 'Y' },
      { session: b, lock: 'Z' },
    ],
  });
  t.equal(d.state.locks.get('X')?.waiting, 0, 'the refused request is not queued');
  t.match(d.op('c', acquire(c, 'X', 0)), { code: 'BUSY' }, 'without waiting there is no cycle to close');
});

t.test('deadlock: waiting behind a queued session is waiting for it (FIFO queues)', async (t) => {
  // b waits for X first; c holds Y and queues for X behind b, so c cannot be granted X before b.
  // If b now waited for Y (held by c), neither could ever proceed: refused, naming the cycle.
  const d = new Driver();
  const [a, b, c] = ['a', 'b', 'c'].map((x) => d.open(x)) as [SessionId, SessionId, SessionId];
  tokenOf(d.op('a', acquire(a, 'X')));
  tokenOf(d.op('c', acquire(c, 'Y')));
  t.match(d.op('b', acquire(b, 'X', 10_000)), { code: 'OK', value: { kind: 'queued' } });
  t.match(d.op('c', acquire(c, 'X', 10_000)), { code: 'OK', value: { kind: 'queued' } });
  t.match(d.op('b', acquire(b, 'Y', 10_000)), {
    code: 'DEADLOCK',
    cycle: [
      { session: b, lock: 'Y' },
      { session: c, lock: 'X' },
    ],
  });
  t.equal(d.state.locks.get('Y')?.waiting, 0, 'the refused request is not queued');
  // A session queued behind others but holding nothing closes no cycle.
  const e = d.open('e');
  t.match(d.op('e', acquire(e, 'X', 10_000)), { code: 'OK', value: { kind: 'queued' } });
  t.equal(d.state.locks.get('X')?.waiting, 3);
});

t.test('deadlock: the search is bounded; a cycle past the bound ends by its wait deadline', async (t) => {
  // Each session i holds L{i} and waits for L{i+1}; the last one then asks for L0, closing a cycle
  // through every session. A short chain is refused; one longer than the search bound is let wait
  // (deterministically on every replica), and its wait times out like any other.
  const chain = (length: number): { result: unknown; waiting: number } => {
    const d = new Driver();
    const sessions = Array.from({ length }, (_, i) => d.open(`s${i}`));
    sessions.forEach((s, i) => tokenOf(d.op(`s${i}`, acquire(s, `L${i}`))));
    sessions.slice(0, -1).forEach((s, i) => d.op(`s${i}`, acquire(s, `L${i + 1}`, 60_000)));
    const last = sessions[length - 1] as SessionId;
    const result = d.op(`s${length - 1}`, acquire(last, 'L0', 60_000));
    return { result, waiting: d.state.locks.get('L0')?.waiting ?? 0 };
  };
  t.match(chain(10).result, { code: 'DEADLOCK' }, 'a 10-session cycle is refused');
  const long = chain(deadlockSearchStepsMax + 50);
  t.match(long.result, { code: 'OK', value: { kind: 'queued' } }, 'a cycle longer than the bound waits');
  t.equal(long.waiting, 1);
});

t.test('exactly once', async (t) => {
  t.test('a retried seq returns the first result and changes nothing', async (t) => {
    const d = new Driver();
    const a = d.open('a');
    const first = d.op('a', put(a, 'k', 'v'));
    const snapshot = d.machine.snapshot();
    const again = d.retry('a', put(a, 'k', 'v'));
    t.same(again, first);
    t.same(getKey(d.state, 'k')?.version, 1);
    t.notSame(d.machine.snapshot(), snapshot, 'only the applied index and log time moved');
    t.match(d.command({ type: 'client', clientId: 'a', seq: 1, op: put(a, 'k', 'v') }).result, {
      code: 'INVALID_ARGUMENT',
      message: /older than its last applied seq 2/,
    });
  });

  t.test('a retried openSession returns the same session instead of opening another', async (t) => {
    const d = new Driver();
    const a = d.open('a');
    t.same(d.retry('a', { type: 'openSession', ttlMs: 10_000 }), {
      code: 'OK',
      value: { kind: 'session', session: a, ttlMs: 10_000 },
    });
    t.equal(d.state.sessions.size, 1);
  });

  t.test('a retried acquire that was queued returns the grant once granted, without queueing twice', async (t) => {
    const [d, a, b] = Driver.withSessions('a', 'b');
    tokenOf(d.op('a', acquire(a, 'L')));
    t.match(d.op('b', acquire(b, 'L', 10_000)), { code: 'OK', value: { kind: 'queued' } });
    t.match(d.retry('b', acquire(b, 'L', 10_000)), { code: 'OK', value: { kind: 'queued' } });
    t.equal(d.state.locks.get('L')?.waiting, 1);
    d.op('a', release(a, 'L'));
    t.same(d.retry('b', acquire(b, 'L', 10_000)), {
      code: 'OK',
      value: { kind: 'granted', name: 'L', token: d.index - 1 },
    });
  });

  t.test('the client table is trimmed when the client’s session ends', async (t) => {
    const d = new Driver();
    const a = d.open('a', 1_000);
    d.op('a', put(a, 'k', 'v'));
    t.ok(d.state.clients.has('a'));
    d.tick(2_000);
    t.notOk(d.state.clients.has('a'));
    t.equal(d.retry('a', put(a, 'k', 'v')).code, 'SESSION_EXPIRED', 'the retry does not write again');
    t.equal(getKey(d.state, 'k')?.version, 1);
  });
});

t.test('bad input is a deterministic INVALID_ARGUMENT with a message', async (t) => {
  const d = new Driver();
  const a = d.open('a');
  const cases: { readonly name: string; readonly op: Operation; readonly message: RegExp }[] = [
    { name: 'empty name', op: acquire(a, ''), message: /name must not be empty/ },
    { name: 'name over 512 bytes', op: acquire(a, 'é'.repeat(257)), message: /514 bytes, more than 512/ },
    { name: 'lone surrogate', op: acquire(a, 'x\ud800'), message: /not valid UTF-8/ },
    { name: 'value over 1 MiB', op: put(a, 'k', 'x'.repeat(1_048_577)), message: /more than 1048576/ },
    { name: 'wait out of range', op: acquire(a, 'L', -1), message: /waitMs must be in/ },
    {
      name: 'permits 0',
      op: { type: 'acquireSemaphore', session: a, name: 'S', permits: 0, waitMs: 0, lockDelayMs: 0 },
      message: /permits must be in \[1,/,
    },
    { name: 'negative ifVersion', op: put(a, 'k', 'v', { ifVersion: -1 }), message: /ifVersion/ },
    { name: 'fractional TTL', op: { type: 'openSession', ttlMs: 1500.5 }, message: /ttlMs must be an integer/ },
  ];
  for (const c of cases) {
    const result = d.op('a', c.op);
    t.equal(result.code, 'INVALID_ARGUMENT', c.name);
    t.match(result, { message: c.message }, c.name);
  }
  const packr = new Packr({ useRecords: false });
  t.match(d.applyBytes(new Uint8Array([0xc1])).result, {
    code: 'INVALID_ARGUMENT',
    message: 'a command must be an array',
  });
  t.match(d.applyBytes(new Uint8Array([0x92, 0x01])).result, { code: 'INVALID_ARGUMENT', message: /malformed/ });
  t.match(d.applyBytes(packr.pack(['nope'])).result, {
    code: 'INVALID_ARGUMENT',
    message: 'unknown command tag "nope"',
  });
  t.match(d.applyBytes(packr.pack([2, 'x', 1, 3, a, 'L'])).result, {
    code: 'INVALID_ARGUMENT',
    message: 'acquire takes 4 operands, got 2',
  });
  // Found by the robustness property: a tag whose String() conversion throws.
  t.match(d.applyBytes(packr.pack([2, 'x', 1, [{ toString: 0 }], 5_000])).result, {
    code: 'INVALID_ARGUMENT',
    message: 'unknown operation code of type object',
  });
});

t.test('log time is whole milliseconds and never goes backwards, whatever the entry says', async (t) => {
  const d = new Driver();
  d.tick(5_000);
  const before = d.state.logTimeMs;
  d.nowMs -= 4_000;
  d.tick(0);
  t.equal(d.state.logTimeMs, before);
  d.nowMs = before + 0.75;
  d.tick(0);
  t.equal(d.state.logTimeMs, before, 'a fraction is floored');
  d.nowMs = Number.NaN;
  d.tick(0);
  t.equal(d.state.logTimeMs, before, 'a non-finite stamp keeps the previous time');
  d.nowMs = before + 1_500.5;
  const a = d.open('a', 1_000);
  t.equal(sessionInfo(d.state, a)?.lastSeenMs, before + 1_500);
  const restored = new LockStateMachine();
  t.ok(restored.restore(d.machine.snapshot()).ok, 'the snapshot holds whole milliseconds only');
});

t.test('queries never mutate the state', async (t) => {
  const d = new Driver();
  const a = d.open('a');
  tokenOf(d.op('a', acquire(a, 'L')));
  d.op('a', put(a, 'k', 'v'));
  const before = d.machine.snapshot();
  getKey(d.state, 'k');
  checkFence(d.state, 'L', 1);
  observe(d.state, 'L');
  listLocks(d.state, '', 10);
  sessionInfo(d.state, a);
  eventsSince(d.state, '', 0, 10);
  t.same(d.machine.snapshot(), before);
});

t.test('restore rejects bad snapshots and keeps the current state', async (t) => {
  const d = new Driver();
  const a = d.open('a');
  tokenOf(d.op('a', acquire(a, 'L')));
  const before = d.machine.snapshot();
  for (const bad of [
    new Uint8Array([1, 2, 3]),
    new Uint8Array(0),
    encodeCommand({ type: 'keepAliveBatch', sessions: [] }),
  ]) {
    t.notOk(d.machine.restore(bad).ok);
  }
  t.same(d.machine.snapshot(), before);
});

t.test('deadline indexes stay proportional to live sessions and waiters (stale timers are compacted)', async (t) => {
  const d = new Driver();
  const sessions = ['a', 'b', 'c'].map((c) => d.open(c, 86_400_000));
  const [a, b] = sessions as [SessionId, SessionId];
  tokenOf(d.op('a', acquire(a, 'L')));
  // 3,000 handovers with day-long waits and a keepalive batch per step: each leaves a stale timer.
  let holder = a;
  let waiter = b;
  for (let i = 0; i < 3_000; i++) {
    d.op(waiter === a ? 'a' : 'b', acquire(waiter, 'L', 86_400_000));
    d.op(holder === a ? 'a' : 'b', release(holder, 'L'), 1);
    d.command({ type: 'keepAliveBatch', sessions }, 1);
    [holder, waiter] = [waiter, holder];
  }
  t.ok(d.state.waitTimers.size <= 2 * d.state.waiterCount + 1_025, `wait timers: ${d.state.waitTimers.size}`);
  t.ok(
    d.state.sessionTimers.size <= 2 * d.state.sessions.size + 1_025,
    `session timers: ${d.state.sessionTimers.size}`,
  );
  t.same(observeHolders(d, 'L'), [holder]);
});
