import type { FencingToken, SessionId } from './ids.js';
import { isCurrentToken } from './kv.js';
import { waitersOf } from './queue.js';
import type { LockKind, WatchEvent } from './results.js';
import type { LockState } from './state.js';
import { compareStrings, sessionDeadlineMs } from './state.js';

// Read-only views the server answers after ReadIndex. None of these mutate the state.

/** A key's current value and versions. */
export interface KeyView {
  readonly key: string;
  readonly value: Uint8Array;
  readonly version: number;
  readonly createIndex: number;
  readonly modifyIndex: number;
  readonly ephemeralSession: SessionId | null;
}

export function getKey(state: LockState, key: string): KeyView | null {
  const record = state.keys.get(key);
  if (record === undefined) return null;
  return {
    key,
    value: record.value,
    version: record.version,
    createIndex: record.createIndex,
    modifyIndex: record.modifyIndex,
    ephemeralSession: record.session,
  };
}

/** checkFence: OK when `token` is a current grant of `lock`, STALE_TOKEN otherwise. */
export function checkFence(state: LockState, lock: string, token: number): { readonly code: 'OK' | 'STALE_TOKEN' } {
  return { code: isCurrentToken(state, lock, token) ? 'OK' : 'STALE_TOKEN' };
}

/** The current leader of an election, or null when nobody leads. */
export interface LeaderView {
  readonly session: SessionId;
  readonly token: FencingToken;
  readonly value: Uint8Array;
}

export function observe(state: LockState, name: string): LeaderView | null {
  const lock = state.locks.get(name);
  if (lock === undefined || lock.kind !== 'election') return null;
  for (const hold of lock.holders.values()) return { session: hold.session, token: hold.token, value: hold.value };
  return null;
}

export interface LockView {
  readonly name: string;
  readonly kind: LockKind;
  readonly permits: number;
  readonly holders: readonly { readonly session: SessionId; readonly token: FencingToken; readonly mode: string }[];
  readonly waiters: readonly { readonly session: SessionId; readonly mode: string; readonly deadlineMs: number }[];
  readonly delayUntilMs: number;
}

/** Locks whose name starts with `prefix`, in name order, at most `limit` of them. */
export function listLocks(state: LockState, prefix: string, limit: number): LockView[] {
  const names = [...state.locks.keys()].filter((name) => name.startsWith(prefix)).sort(compareStrings);
  const out: LockView[] = [];
  for (const name of names.slice(0, Math.max(0, limit))) {
    const lock = state.locks.get(name);
    if (lock === undefined) continue;
    out.push({
      name,
      kind: lock.kind,
      permits: lock.permits,
      holders: [...lock.holders.values()].map((h) => ({ session: h.session, token: h.token, mode: h.mode })),
      waiters: waitersOf(lock).map((w) => ({ session: w.session, mode: w.mode, deadlineMs: w.deadlineMs })),
      delayUntilMs: lock.delayUntilMs,
    });
  }
  return out;
}

export interface SessionView {
  readonly session: SessionId;
  readonly clientId: string;
  readonly ttlMs: number;
  readonly lastSeenMs: number;
  /** The session expires at the first entry whose log time is beyond this. */
  readonly deadlineMs: number;
  readonly holds: readonly string[];
  readonly waits: readonly string[];
  readonly ephemeralKeys: readonly string[];
}

export function sessionInfo(state: LockState, id: SessionId): SessionView | null {
  const session = state.sessions.get(id);
  if (session === undefined) return null;
  return {
    session: id,
    clientId: session.clientId,
    ttlMs: session.ttlMs,
    lastSeenMs: session.lastSeenMs,
    deadlineMs: sessionDeadlineMs(session),
    holds: [...session.holds].sort(compareStrings),
    waits: [...session.waits.keys()].sort(compareStrings),
    ephemeralKeys: [...session.keys].sort(compareStrings),
  };
}

/**
 * Watch resume: events with index > `after` on names starting with `prefix`, in order and without
 * gaps, at most `limit` (a page never splits one index). COMPACTED when history after `after`
 * has been dropped: the watcher must re-read current state and resume from the applied index.
 */
export type EventsAnswer =
  | { readonly code: 'OK'; readonly events: readonly WatchEvent[]; readonly nextAfter: number }
  | { readonly code: 'COMPACTED' | 'INVALID_ARGUMENT'; readonly message: string };

export function eventsSince(state: LockState, prefix: string, after: number, limit: number): EventsAnswer {
  if (!Number.isSafeInteger(after) || after < 0 || !Number.isSafeInteger(limit) || limit < 1) {
    return { code: 'INVALID_ARGUMENT', message: 'after must be an integer ≥ 0 and limit ≥ 1' };
  }
  const page = state.events.since(prefix, after, limit);
  if (page === null) {
    return {
      code: 'COMPACTED',
      message: `events after ${after} are compacted; history starts after ${state.events.evictedThroughIndex}`,
    };
  }
  // A complete page means the watcher has seen everything up to the applied index.
  const nextAfter = page.complete ? Math.max(page.nextAfter, state.appliedIndex) : page.nextAfter;
  return { code: 'OK', events: page.events, nextAfter };
}
