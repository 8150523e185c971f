import { sortedRoles } from './auth-store.js';
import type { Permission, Right, RoleView, UserView, WhoAmI } from './auth-types.js';
import { allRights } from './auth-types.js';
import { isAdmin } from './authorize.js';
import type { FencingToken, SessionId } from './ids.js';
import { fencingToken } from './ids.js';
import { isCurrentToken } from './kv.js';
import { waitersOf } from './queue.js';
import type { LockKind, WatchEvent } from './results.js';
import type { Hold, LockState } from './state.js';
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

/** One page of `listKeys`: `next` is the key to pass as `after` for the next page, null after the last. */
export interface KeyPage {
  readonly keys: readonly KeyView[];
  readonly next: string | null;
}

/**
 * Keys starting with `prefix` and ordered after `after` (null: from the first), in key order, at
 * most `limit` of them. The continuation is a key rather than an offset, so pages stay correct
 * while keys are written or deleted between them.
 */
export function listKeys(state: LockState, prefix: string, after: string | null, limit: number): KeyPage {
  const names = [...state.keys.keys()]
    .filter((key) => key.startsWith(prefix) && (after === null || compareStrings(key, after) > 0))
    .sort(compareStrings);
  const page = names.slice(0, Math.max(0, limit));
  const keys: KeyView[] = [];
  for (const key of page) {
    const view = getKey(state, key);
    if (view !== null) keys.push(view);
  }
  const last = page[page.length - 1];
  return { keys, next: names.length > page.length && last !== undefined ? last : null };
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

/** One holder of a lock, as the listings show it. */
export interface HolderView {
  readonly session: SessionId;
  readonly token: FencingToken;
  readonly mode: string;
  /**
   * Only for a run of turns (docs/statemachine.md, "Runs of turns"): the last of the tokens the
   * grant reserved, from `token` on. The hold is one, under `token`; its fenced writes may use the
   * run's tokens in turn.
   */
  readonly lastToken?: FencingToken;
}

/** What the listings show of `hold`: a run's last token only when it is a run. */
export function holderView(hold: Hold): HolderView {
  const view = { session: hold.session, token: hold.token, mode: hold.mode };
  return hold.turns === 1 ? view : { ...view, lastToken: fencingToken(hold.token + hold.turns - 1) };
}

export interface LockView {
  readonly name: string;
  readonly kind: LockKind;
  readonly permits: number;
  readonly holders: readonly HolderView[];
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
      holders: [...lock.holders.values()].map(holderView),
      waiters: waitersOf(lock).map((w) => ({ session: w.session, mode: w.mode, deadlineMs: w.deadlineMs })),
      delayUntilMs: lock.delayUntilMs,
    });
  }
  return out;
}

export interface SessionView {
  readonly session: SessionId;
  readonly clientId: string;
  /** The principal that opened it (null: opened without authentication). */
  readonly owner: string | null;
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
    owner: session.owner,
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

// ---- the auth store, for the node edge (logins, admin reads, per-request checks) ----

/** Every user in name order, roles in name order; never the hash, only whether one is set. */
export function listUsers(state: LockState): UserView[] {
  return [...state.auth.users.keys()].sort(compareStrings).map((name) => {
    const user = state.auth.users.get(name);
    if (user === undefined) return { name, roles: [], password: false };
    return { name, roles: sortedRoles(user), password: user.passwordHash !== null };
  });
}

/** Every role in name order, permissions by prefix, rights in canonical order. */
export function listRoles(state: LockState): RoleView[] {
  return [...state.auth.roles.keys()].sort(compareStrings).map((name) => ({
    name,
    permissions: (state.auth.roles.get(name) ?? []).map((p) => ({ prefix: p.prefix, rights: [...p.rights] })),
  }));
}

/** Who `principal` is to this store (null: insecure mode, unrestricted; an unknown user: nothing). */
export function whoami(state: LockState, principal: string | null): WhoAmI {
  const user = principal === null ? undefined : state.auth.users.get(principal);
  const roles = user === undefined ? [] : sortedRoles(user);
  const admin = isAdmin(state.auth, principal);
  return {
    principal,
    roles,
    admin,
    permissions: admin ? [{ prefix: '', rights: [...allRights] }] : mergedPermissions(state, roles),
  };
}

/** The permissions of `roles` merged by prefix: prefixes sorted, rights in canonical order. */
function mergedPermissions(state: LockState, roles: readonly string[]): Permission[] {
  const byPrefix = new Map<string, Set<Right>>();
  for (const role of roles) {
    for (const permission of state.auth.roles.get(role) ?? []) {
      const rights = byPrefix.get(permission.prefix) ?? new Set<Right>();
      for (const right of permission.rights) rights.add(right);
      byPrefix.set(permission.prefix, rights);
    }
  }
  return [...byPrefix.keys()].sort(compareStrings).map((prefix) => ({
    prefix,
    rights: allRights.filter((right) => byPrefix.get(prefix)?.has(right) === true),
  }));
}

/** The stored password hash of `user`, for the node's login check; null when none or no such user. */
export function passwordHashOf(state: LockState, user: string): string | null {
  return state.auth.users.get(user)?.passwordHash ?? null;
}

/**
 * The owner of a live session: a principal, or null when it was opened without one; undefined
 * when the session is not live.
 */
export function sessionOwner(state: LockState, id: SessionId): string | null | undefined {
  const session = state.sessions.get(id);
  return session === undefined ? undefined : session.owner;
}

/** The log index of the last entry that changed users or roles (0: never): re-check on change. */
export function authRevision(state: LockState): number {
  return state.auth.revision;
}
