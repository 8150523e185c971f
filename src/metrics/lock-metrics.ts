/**
 * The lock state machine's metrics, read from what every applied command returns (its result and
 * notifications) and from the state right after it: grants, releases, wait timeouts, session
 * expiries, holds in force by kind, and two histograms in log time, the wait of a queued request
 * until its grant (the hand-off) and how long each hold lasted.
 *
 * Hold and wait durations need the log time at which each began, which the state machine drops
 * when the hold or the wait ends; so this keeps it, per session and lock name, from the grant (or
 * the enqueue) to the end. Nothing here allocates per entry: a session's maps are made on its first
 * hold or wait and dropped with the session. It runs on every node (every node applies every
 * entry), so each node's counts agree once it has applied the same entries.
 */
import type { SessionId } from '../statemachine/ids.js';
import type { ApplyOutput, LockKind, ResultCode, WatchEvent } from '../statemachine/results.js';
import type { LockState } from '../statemachine/state.js';
import type { Registry } from 'prom-client';
import { Gauge } from 'prom-client';
import type { CounterSeries, HistogramSeries } from './fast-metrics.js';
import { FastCounter, FastHistogram } from './fast-metrics.js';
import { sampledGauges } from './sampled-gauge.js';

export const lockKinds: readonly LockKind[] = ['mutex', 'semaphore', 'rwlock', 'election'];

function kindIndex(kind: LockKind): number {
  switch (kind) {
    case 'mutex':
      return 0;
    case 'semaphore':
      return 1;
    case 'rwlock':
      return 2;
    case 'election':
      return 3;
  }
}

/** Log-time buckets for waits and holds, in seconds: 1 ms to an hour. */
export const lockDurationBounds: readonly number[] = [
  0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600,
];

interface SessionTrack {
  /** Per lock kind (kindIndex): lock name → log time (ms) of the grant. */
  readonly holds: (Map<string, number> | null)[];
  /** Lock name → log time (ms) the request was queued. */
  waits: Map<string, number> | null;
}

function perKind<S>(make: (kind: LockKind) => S): S[] {
  return lockKinds.map(make);
}

export class LockMetrics {
  private readonly sessions = new Map<SessionId, SessionTrack>();
  /** Holds in force, by kindIndex. */
  private readonly holdsByKind = [0, 0, 0, 0];
  private readonly grants: CounterSeries[];
  private readonly releases: CounterSeries[];
  private readonly queued: CounterSeries[];
  private readonly handoffWait: HistogramSeries[];
  private readonly holdTime: HistogramSeries[];
  private readonly timeouts: CounterSeries;
  private readonly expiries: CounterSeries;
  private readonly revocations: CounterSeries;
  private readonly commands: FastCounter;

  constructor(registry: Registry, state: () => LockState | null) {
    const grants = new FastCounter(
      registry,
      'raftlock_lock_grants_total',
      'Grants applied, by lock kind (immediate and from the queue).',
      ['kind'],
    );
    const releases = new FastCounter(
      registry,
      'raftlock_lock_releases_total',
      'Holds ended, by lock kind (release, resign, session closed or expired, revoked by an admin).',
      ['kind'],
    );
    const queued = new FastCounter(
      registry,
      'raftlock_lock_queued_total',
      'Acquire requests that had to wait in a queue, by lock kind.',
      ['kind'],
    );
    const handoff = new FastHistogram(
      registry,
      'raftlock_lock_handoff_wait_seconds',
      'Log time from queueing an acquire request to its grant, by lock kind.',
      lockDurationBounds,
      ['kind'],
    );
    const hold = new FastHistogram(
      registry,
      'raftlock_lock_hold_seconds',
      'Log time from a grant to the end of that hold, by lock kind.',
      lockDurationBounds,
      ['kind'],
    );
    this.grants = perKind((k) => grants.at1(k));
    this.releases = perKind((k) => releases.at1(k));
    this.queued = perKind((k) => queued.at1(k));
    this.handoffWait = perKind((k) => handoff.at1(k));
    this.holdTime = perKind((k) => hold.at1(k));
    this.timeouts = new FastCounter(
      registry,
      'raftlock_lock_wait_timeouts_total',
      'Queued acquire requests that timed out (their waitMs passed in log time).',
    ).at0();
    this.expiries = new FastCounter(
      registry,
      'raftlock_session_expiries_total',
      'Sessions that expired (no keepalive within their TTL, in log time).',
    ).at0();
    this.revocations = new FastCounter(
      registry,
      'raftlock_lock_revocations_total',
      'Holds ended by an admin rather than by their own session.',
    ).at0();
    this.commands = new FastCounter(
      registry,
      'raftlock_statemachine_commands_total',
      'Commands applied to the lock state machine, by result code (ticks and keepalive batches included).',
      ['code'],
    );
    this.stateGauges(registry, state);
  }

  /** Holds in force of one kind (a semaphore with three permits taken counts three). */
  holds(kind: LockKind): number {
    return this.holdsByKind[kindIndex(kind)] ?? 0;
  }

  /** After each applied command, with the state right after it. */
  applied(state: LockState, output: ApplyOutput): void {
    const result = output.result;
    this.commands.at1(result.code satisfies ResultCode).value += 1;
    for (const n of output.notifications) {
      switch (n.kind) {
        case 'event':
          this.event(state, n.event);
          break;
        case 'timeout':
          this.timeouts.value += 1;
          this.sessions.get(n.session)?.waits?.delete(n.name);
          break;
        case 'sessionExpired':
          // Its holds ended (release events) before this; its waits were cancelled silently.
          this.expiries.value += 1;
          this.sessions.delete(n.session);
          break;
        case 'revoked':
          this.revocations.value += 1;
          break;
        case 'granted':
          // The grant event just before it did the counting.
          break;
      }
    }
    if (result.code !== 'OK') return;
    const value = result.value;
    if (value.kind === 'queued' && value.waiter === state.appliedIndex) {
      // A fresh wait (a retried command answers with its first waiter): the newest in the queue.
      const tail = state.locks.get(value.name)?.tail;
      if (tail === undefined || tail === null || tail.id !== value.waiter) return;
      const track = this.track(tail.session);
      (track.waits ??= new Map()).set(value.name, tail.enqueuedAtMs);
      const lock = state.locks.get(value.name);
      if (lock !== undefined) this.at(this.queued, kindIndex(lock.kind)).value += 1;
    } else if (value.kind === 'closed') {
      this.sessions.delete(value.session);
    }
  }

  /** The state was replaced by a snapshot: start over from the holds and waits it has. */
  restored(state: LockState): void {
    this.sessions.clear();
    this.holdsByKind.fill(0);
    for (const session of state.sessions.values()) {
      for (const name of session.holds) {
        const lock = state.locks.get(name);
        const hold = lock?.holders.get(session.id);
        if (lock === undefined || hold === undefined) continue;
        this.startHold(this.track(session.id), kindIndex(lock.kind), name, hold.grantedAtMs);
      }
      for (const [name, waiter] of session.waits) {
        const track = this.track(session.id);
        (track.waits ??= new Map()).set(name, waiter.enqueuedAtMs);
      }
    }
  }

  /**
   * Forgets sessions that are gone without a word this could see (an admin closed one that held
   * nothing). Cheap enough to run at each scrape: it walks the sessions that hold or wait.
   */
  sweep(state: LockState): void {
    for (const [id, track] of this.sessions) {
      if (state.sessions.has(id)) continue;
      this.sessions.delete(id);
      track.holds.forEach((held, k) => {
        if (held !== null) this.holdsByKind[k] = (this.holdsByKind[k] ?? 0) - held.size;
      });
    }
  }

  private event(state: LockState, event: WatchEvent): void {
    switch (event.type) {
      case 'grant':
      case 'leader':
        return this.granted(state, event.lock, event.session);
      case 'release':
        return this.released(state.logTimeMs, event.lock, event.session);
      case 'put':
      case 'delete':
        return;
    }
  }

  private granted(state: LockState, name: string, session: SessionId): void {
    const lock = state.locks.get(name);
    const hold = lock?.holders.get(session);
    if (lock === undefined || hold === undefined) return;
    const k = kindIndex(lock.kind);
    const track = this.track(session);
    // An election's proclaim announces the same hold again: nothing starts.
    if (track.holds[k]?.has(name) === true) return;
    this.startHold(track, k, name, hold.grantedAtMs);
    this.at(this.grants, k).value += 1;
    const queuedAtMs = track.waits?.get(name);
    if (queuedAtMs === undefined) return;
    track.waits?.delete(name);
    this.at(this.handoffWait, k).observe(Math.max(0, hold.grantedAtMs - queuedAtMs) / 1000);
  }

  private released(nowMs: number, name: string, session: SessionId): void {
    const track = this.sessions.get(session);
    if (track === undefined) return;
    for (let k = 0; k < track.holds.length; k++) {
      const held = track.holds[k];
      const sinceMs = held?.get(name);
      if (held === undefined || held === null || sinceMs === undefined) continue;
      held.delete(name);
      this.holdsByKind[k] = (this.holdsByKind[k] ?? 0) - 1;
      this.at(this.releases, k).value += 1;
      this.at(this.holdTime, k).observe(Math.max(0, nowMs - sinceMs) / 1000);
      return;
    }
  }

  private startHold(track: SessionTrack, k: number, name: string, sinceMs: number): void {
    let held = track.holds[k];
    if (held === undefined || held === null) {
      held = new Map();
      track.holds[k] = held;
    }
    held.set(name, sinceMs);
    this.holdsByKind[k] = (this.holdsByKind[k] ?? 0) + 1;
  }

  private track(session: SessionId): SessionTrack {
    let track = this.sessions.get(session);
    if (track === undefined) {
      track = { holds: [null, null, null, null], waits: null };
      this.sessions.set(session, track);
    }
    return track;
  }

  private stateGauges(registry: Registry, state: () => LockState | null): void {
    const single = sampledGauges(registry, state);
    single('raftlock_sessions', "Sessions open (as of this node's applied state).", (s) => s.sessions.size);
    single('raftlock_locks', 'Named locks with a holder, a waiter or a lock-delay running.', (s) => s.locks.size);
    single('raftlock_lock_waiters', 'Acquire requests waiting in a queue.', (s) => s.waiterCount);
    const sweep = (s: LockState): void => this.sweep(s);
    const holds = (kind: LockKind): number => this.holds(kind);
    new Gauge({
      name: 'raftlock_lock_holds',
      help: 'Holds in force, by lock kind (one per holder: a semaphore with three permits taken counts three).',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        const s = state();
        if (s !== null) sweep(s);
        for (const kind of lockKinds) this.set({ kind }, holds(kind));
      },
    });
  }

  private at<S>(series: readonly S[], k: number): S {
    const found = series[k];
    if (found === undefined) throw new Error(`no lock kind ${k}`);
    return found;
  }
}
