import type { AuthStore } from './auth-store.js';
import { createAuthStore } from './auth-store.js';
import type { LockMachineConfig } from './config.js';
import { TimerHeap } from './heap.js';
import type { HolderSet } from './holders.js';
import type { FencingToken, SessionId } from './ids.js';
import type { CommandResult, LockKind } from './results.js';
import { EventLog } from './watch.js';

/** How a holder or waiter uses a lock: mutexes and elections are exclusive, semaphores shared. */
export type HoldMode = 'exclusive' | 'shared';

/** One grant of a lock to a session. */
export interface Hold {
  readonly session: SessionId;
  readonly token: FencingToken;
  readonly mode: HoldMode;
  readonly grantedAtMs: number;
  /** Applied when this hold ends by session expiry (Chubby's lock-delay); 0 = off. */
  readonly lockDelayMs: number;
  /** The leader's value for elections (changed by proclaim); empty for other kinds. */
  value: Uint8Array;
  /**
   * How many consecutive tokens the grant reserved, from `token` on: 1, or for a mutex handed to a
   * run of one client's callers, one per caller (docs/statemachine.md, "Runs of turns").
   */
  readonly turns: number;
  /**
   * The largest of the hold's tokens that an applied fenced write has used (`token` until then): a
   * fence with a smaller token of the run is stale, as an older holder's.
   */
  fenced: number;
}

/**
 * A queued request. Waiters form a doubly linked FIFO per lock, so granting the head and removing
 * any waiter (timeout, session end) are O(1) whatever the queue length.
 */
export interface Waiter {
  /** The log index of the request: unique, and the queue order. */
  readonly id: number;
  readonly session: SessionId;
  readonly lock: string;
  readonly mode: HoldMode;
  readonly clientId: string;
  readonly seq: number;
  readonly enqueuedAtMs: number;
  /** The wait times out at the first entry whose log time is later than this. */
  readonly deadlineMs: number;
  readonly lockDelayMs: number;
  readonly value: Uint8Array;
  /** The tokens the grant reserves (see Hold.turns). */
  readonly turns: number;
  prev: Waiter | null;
  next: Waiter | null;
  /** False once granted, timed out or cancelled: timer heap entries for it are then stale. */
  queued: boolean;
}

/**
 * A named lock; it exists while it has holders, waiters or a running lock-delay. Invariants (see
 * invariants.ts): mutex/election ≤ 1 holder; rwlock holders are one exclusive or only shared;
 * semaphore ≤ permits holders; holders and waiters are live sessions; no session both holds and
 * waits; the head waiter is not grantable (else it would have been granted in the same step).
 */
export interface LockRecord {
  readonly name: string;
  readonly kind: LockKind;
  /** Semaphore capacity; 1 for mutex and election; 0 (unused) for rwlock. */
  readonly permits: number;
  /** Grant order, i.e. token order (restore rebuilds it that way). */
  readonly holders: HolderSet;
  head: Waiter | null;
  tail: Waiter | null;
  waiting: number;
  /** Nothing is granted before this log time; 0 = no delay running. */
  delayUntilMs: number;
}

/** A client session. Holds and waits are in grant/enqueue order (restore rebuilds that order). */
export interface Session {
  readonly id: SessionId;
  /** The client that opened it (for expiry notifications). */
  readonly clientId: string;
  /**
   * The principal that opened it; null when opened without one (insecure mode). Only the owner or
   * an admin may act in it.
   */
  readonly owner: string | null;
  readonly ttlMs: number;
  lastSeenMs: number;
  readonly holds: Set<string>;
  readonly waits: Map<string, Waiter>;
  /** Ephemeral keys bound to this session. */
  readonly keys: Set<string>;
  /** Clients whose dedup entry is bound to this session (trimmed when it ends). */
  readonly clients: Set<string>;
}

/** A versioned key. */
export interface KeyRecord {
  readonly value: Uint8Array;
  readonly version: number;
  readonly createIndex: number;
  readonly modifyIndex: number;
  /** The owning session of an ephemeral key; null for a persistent key. */
  readonly session: SessionId | null;
}

/** The last command of one client: exactly-once (Raft dissertation §6.3). */
export interface ClientEntry {
  seq: number;
  result: CommandResult;
  readonly session: SessionId;
  /**
   * The principal whose commands use this client id (null: insecure mode). Another principal's
   * command under the same id is refused, so nobody can read or overwrite someone else's entry.
   */
  readonly principal: string | null;
}

/**
 * Everything the replicated lock service knows. Owned and mutated by apply() only; queries read it.
 * The timer heaps are indexes derived from the rest (rebuilt on restore, not snapshotted).
 */
export interface LockState {
  readonly config: LockMachineConfig;
  appliedIndex: number;
  logTimeMs: number;
  lastToken: number;
  waiterCount: number;
  readonly sessions: Map<SessionId, Session>;
  readonly locks: Map<string, LockRecord>;
  readonly keys: Map<string, KeyRecord>;
  readonly clients: Map<string, ClientEntry>;
  readonly events: EventLog;
  /** Users and roles (auth-store.ts). */
  readonly auth: AuthStore;
  readonly sessionTimers: TimerHeap<SessionId>;
  readonly waitTimers: TimerHeap<Waiter>;
  readonly delayTimers: TimerHeap<string>;
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function createLockState(config: LockMachineConfig): LockState {
  return {
    config,
    appliedIndex: 0,
    logTimeMs: 0,
    lastToken: 0,
    waiterCount: 0,
    sessions: new Map(),
    locks: new Map(),
    keys: new Map(),
    clients: new Map(),
    events: new EventLog(config.eventHistoryMax),
    auth: createAuthStore(),
    sessionTimers: new TimerHeap<SessionId>((a, b) => a - b),
    waitTimers: new TimerHeap<Waiter>((a, b) => a.id - b.id),
    delayTimers: new TimerHeap<string>(compareStrings),
  };
}

/** The session's expiry deadline: it is expired at the first entry with log time beyond this. */
export function sessionDeadlineMs(session: Session): number {
  return session.lastSeenMs + session.ttlMs;
}
