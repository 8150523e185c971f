// The state machine's metrics follow what apply returns: grants and releases by kind, holds in
// force equal to a scan of the state after every entry, hand-off waits and hold times in log time,
// timeouts and expiries, retries not counted twice, and a restore (snapshot) picks up the holds.
import { Registry } from 'prom-client';
import t from 'tap';
import type { Test } from 'tap';
import { LockMetrics, lockKinds } from '../../src/metrics/lock-metrics.js';
import type { Command, Operation } from '../../src/statemachine/commands.js';
import type { SessionId } from '../../src/statemachine/ids.js';
import type { LockKind } from '../../src/statemachine/results.js';
import type { LockState } from '../../src/statemachine/state.js';
import { Driver } from '../statemachine/fixtures/driver.js';
import { acquire, release } from '../statemachine/fixtures/ops.js';
import { parsePrometheusText, valueOf } from './fixtures/prom-text.js';

/** Holds by kind as a full scan of the state counts them. */
function scanHolds(state: LockState): Record<LockKind, number> {
  const out: Record<LockKind, number> = { mutex: 0, semaphore: 0, rwlock: 0, election: 0 };
  for (const lock of state.locks.values()) out[lock.kind] += lock.holders.size;
  return out;
}

/** A Driver whose every applied command also feeds a LockMetrics, checked against the state. */
class Metered {
  readonly d = new Driver();
  readonly registry = new Registry();
  metrics = new LockMetrics(this.registry, () => this.d.state);

  op(t: Test, client: string, op: Operation, advanceMs = 0): ReturnType<Driver['op']> {
    const output = this.d.opAs(null, client, op, advanceMs);
    this.metrics.applied(this.d.state, output);
    this.check(t);
    return output.result;
  }

  command(t: Test, command: Command): ReturnType<Driver['op']> {
    const output = this.d.command(command);
    this.metrics.applied(this.d.state, output);
    this.check(t);
    return output.result;
  }

  tick(t: Test, advanceMs: number): void {
    this.metrics.applied(this.d.state, this.d.tick(advanceMs));
    this.check(t);
  }

  open(t: Test, client: string, ttlMs = 10_000): SessionId {
    const result = this.op(t, client, { type: 'openSession', ttlMs });
    if (result.code !== 'OK' || result.value.kind !== 'session') throw new Error('open failed');
    return result.value.session;
  }

  async value(name: string, labels: Record<string, string> = {}): Promise<number> {
    return valueOf(parsePrometheusText(await this.registry.metrics()), name, labels);
  }

  private check(t: Test): void {
    const scan = scanHolds(this.d.state);
    const tracked = Object.fromEntries(lockKinds.map((k) => [k, this.metrics.holds(k)]));
    if (JSON.stringify(tracked) !== JSON.stringify(scan))
      t.fail(`holds ${JSON.stringify(tracked)} differ from the state's ${JSON.stringify(scan)} at ${this.d.index}`);
  }
}

void t.test('mutex hand-off: grants, queued, hand-off wait and hold time in log time', async (t) => {
  const m = new Metered();
  const a = m.open(t, 'a');
  const b = m.open(t, 'b');
  m.op(t, 'a', acquire(a, 'M'), 100);
  t.match(m.op(t, 'b', acquire(b, 'M', 60_000), 250), { code: 'OK', value: { kind: 'queued' } });
  const retried = m.command(t, { type: 'client', clientId: 'b', seq: 2, op: acquire(b, 'M', 60_000) });
  t.match(retried, { value: { kind: 'queued' } }, 'a retried acquire is answered from the table');
  m.op(t, 'a', release(a, 'M'), 400);
  m.op(t, 'b', release(b, 'M'), 2_000);
  t.equal(await m.value('raftlock_lock_grants_total', { kind: 'mutex' }), 2);
  t.equal(await m.value('raftlock_lock_releases_total', { kind: 'mutex' }), 2);
  t.equal(await m.value('raftlock_lock_queued_total', { kind: 'mutex' }), 1, 'the retry is not a second wait');
  t.equal(await m.value('raftlock_lock_handoff_wait_seconds_count', { kind: 'mutex' }), 1);
  t.equal(await m.value('raftlock_lock_handoff_wait_seconds_sum', { kind: 'mutex' }), 0.4);
  t.equal(await m.value('raftlock_lock_hold_seconds_count', { kind: 'mutex' }), 2);
  t.equal(await m.value('raftlock_lock_hold_seconds_sum', { kind: 'mutex' }), 0.65 + 2);
  t.equal(await m.value('raftlock_lock_holds', { kind: 'mutex' }), 0);
  t.equal(
    await m.value('raftlock_statemachine_commands_total', { code: 'OK' }),
    7,
    'the retry is applied (and answered from the table)',
  );
});

void t.test('every kind: holds in force by kind, proclaim is no new grant, expiry and timeout', async (t) => {
  const m = new Metered();
  const a = m.open(t, 'a');
  const b = m.open(t, 'b', 1_000);
  const c = m.open(t, 'c');
  const sem = (s: SessionId): Operation => ({
    type: 'acquireSemaphore',
    session: s,
    name: 'S',
    permits: 3,
    waitMs: 0,
    lockDelayMs: 0,
  });
  const read = (s: SessionId): Operation => ({
    type: 'acquireRw',
    session: s,
    name: 'R',
    mode: 'read',
    waitMs: 0,
    lockDelayMs: 0,
  });
  const camp = (s: SessionId): Operation => ({
    type: 'campaign',
    session: s,
    name: 'E',
    value: new Uint8Array([1]),
    waitMs: 60_000,
    lockDelayMs: 0,
  });
  m.op(t, 'a', sem(a));
  m.op(t, 'b', sem(b));
  m.op(t, 'a', read(a));
  m.op(t, 'b', read(b));
  m.op(t, 'c', read(c));
  m.op(t, 'b', camp(b));
  m.op(t, 'c', camp(c));
  m.op(t, 'b', { type: 'proclaim', session: b, name: 'E', value: new Uint8Array([2]) });
  m.op(t, 'a', acquire(a, 'M'));
  m.op(t, 'c', acquire(c, 'M', 500));
  t.same(Object.fromEntries(lockKinds.map((k) => [k, m.metrics.holds(k)])), {
    mutex: 1,
    semaphore: 2,
    rwlock: 3,
    election: 1,
  });
  t.equal(await m.value('raftlock_lock_holds', { kind: 'rwlock' }), 3);
  t.equal(await m.value('raftlock_lock_grants_total', { kind: 'election' }), 1, 'proclaim announces the same hold');
  t.equal(await m.value('raftlock_lock_waiters'), 2);
  // c's wait on M times out; b expires: its semaphore, read and election holds end, c leads E.
  m.tick(t, 600);
  m.tick(t, 1_000);
  t.equal(await m.value('raftlock_lock_wait_timeouts_total'), 1);
  t.equal(await m.value('raftlock_session_expiries_total'), 1);
  t.equal(await m.value('raftlock_sessions'), 2);
  t.same(Object.fromEntries(lockKinds.map((k) => [k, m.metrics.holds(k)])), {
    mutex: 1,
    semaphore: 1,
    rwlock: 2,
    election: 1,
  });
  t.equal(await m.value('raftlock_lock_releases_total'), 3);
  t.equal(await m.value('raftlock_lock_handoff_wait_seconds_count', { kind: 'election' }), 1);
  t.equal(
    await m.value('raftlock_lock_handoff_wait_seconds_count', { kind: 'mutex' }),
    0,
    'a timed-out wait is no hand-off',
  );
  // Closing a session that waits and holds: its records go; a later session reusing nothing is clean.
  m.op(t, 'c', acquire(c, 'M', 60_000));
  m.op(t, 'c', { type: 'closeSession', session: c });
  t.equal(await m.value('raftlock_lock_holds', { kind: 'election' }), 0);
  t.equal(await m.value('raftlock_lock_waiters'), 0);
});

void t.test('a restored state: holds and waits picked up with their log times', async (t) => {
  const m = new Metered();
  const a = m.open(t, 'a');
  const b = m.open(t, 'b');
  m.op(t, 'a', acquire(a, 'M'), 100);
  m.op(t, 'b', acquire(b, 'M', 60_000), 300);
  // A second node starts from a snapshot of this state.
  const restored = new LockMetrics(new Registry(), () => m.d.state);
  restored.restored(m.d.state);
  t.equal(restored.holds('mutex'), 1);
  m.metrics = restored;
  m.op(t, 'a', release(a, 'M'), 1_000);
  const registry = new Registry();
  const fresh = new LockMetrics(registry, () => m.d.state);
  fresh.restored(m.d.state);
  t.equal(fresh.holds('mutex'), 1, 'b holds M now');
  m.metrics = fresh;
  m.registry.clear();
  m.op(t, 'b', release(b, 'M'), 500);
  const text = parsePrometheusText(await registry.metrics());
  t.equal(
    valueOf(text, 'raftlock_lock_hold_seconds_sum', { kind: 'mutex' }),
    0.5,
    'the grant time came from the state',
  );
});

void t.test('sweep forgets sessions gone without a notification', async (t) => {
  const m = new Metered();
  const a = m.open(t, 'a');
  m.op(t, 'a', acquire(a, 'M'));
  // As if an admin had closed the session unseen: drop it from a copy of what this tracks.
  const state = { ...m.d.state, sessions: new Map() } as LockState;
  m.metrics.sweep(state);
  t.equal(m.metrics.holds('mutex'), 0);
});
