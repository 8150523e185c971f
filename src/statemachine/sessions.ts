import type { ApplyContext } from './context.js';
import { trimClients } from './dedup.js';
import type { SessionId } from './ids.js';
import { sessionId } from './ids.js';
import { deleteEphemeralKeys } from './kv.js';
import type { Ending, Revocation } from './locks.js';
import { cancelWait, dropIfIdle, endHold, promote, pushRevoked } from './locks.js';
import type { CommandResult } from './results.js';
import { okResult } from './results.js';
import type { LockRecord, Session } from './state.js';
import { sessionDeadlineMs } from './state.js';

/**
 * Opens a session whose id is the index of this entry (unique, equal on every replica), owned by
 * the principal that opened it (null: insecure mode).
 */
export function openSession(ctx: ApplyContext, clientId: string, ttlMs: number, owner: string | null): Session {
  const session: Session = {
    id: sessionId(ctx.index),
    clientId,
    owner,
    ttlMs,
    lastSeenMs: ctx.nowMs,
    holds: new Set(),
    waits: new Map(),
    keys: new Set(),
    clients: new Set(),
  };
  ctx.state.sessions.set(session.id, session);
  scheduleExpiry(ctx, session);
  return session;
}

function scheduleExpiry(ctx: ApplyContext, session: Session): void {
  const state = ctx.state;
  state.sessionTimers.push(sessionDeadlineMs(session), session.id);
  // Keepalives leave stale heap entries behind; drop them in bulk before they outnumber sessions.
  if (state.sessionTimers.size > 2 * state.sessions.size + 1024) {
    state.sessionTimers.compact((atMs, id) => {
      const live = state.sessions.get(id);
      return live !== undefined && sessionDeadlineMs(live) === atMs;
    });
  }
}

/** Records that the session was seen at this entry's log time. */
export function keepAlive(ctx: ApplyContext, session: Session): CommandResult {
  if (session.lastSeenMs !== ctx.nowMs) {
    session.lastSeenMs = ctx.nowMs;
    scheduleExpiry(ctx, session);
  }
  return okResult({ kind: 'kept', session: session.id, deadlineMs: sessionDeadlineMs(session) });
}

/** The leader's keepalive batch: every live session listed is seen now; the others are reported. */
export function keepAliveBatch(ctx: ApplyContext, ids: readonly SessionId[]): CommandResult {
  const alive: SessionId[] = [];
  const expired: SessionId[] = [];
  for (const id of ids) {
    const session = ctx.state.sessions.get(id);
    if (session === undefined) {
      expired.push(id);
    } else {
      keepAlive(ctx, session);
      alive.push(id);
    }
  }
  return okResult({ kind: 'keptBatch', alive, expired });
}

/**
 * Ends sessions (closed or expired) with all their effects, in this order so that every grant
 * made while doing so goes to a session that is still live and still waiting:
 * 1. the sessions stop being live; 2. their waits leave the queues; 3. `beforeRelease` runs (wait
 * timeouts); 4. their holds end (lock-delay if expired), ephemeral keys are deleted, client entries
 * trimmed; 5. every touched lock promotes its waiters, in the order the locks were touched.
 * With a revocation (another client closing the session) each hold's end is pushed to the holder
 * in step 4, so before any grant of step 5. Expiry pushes `sessionExpired` in step 4 as well.
 */
export function endSessions(
  ctx: ApplyContext,
  sessions: readonly Session[],
  ending: Ending,
  touched: Map<string, LockRecord>,
  beforeRelease: () => void,
  revocation: Revocation | null = null,
): void {
  const state = ctx.state;
  for (const session of sessions) state.sessions.delete(session.id);
  for (const session of sessions) {
    for (const [name, waiter] of session.waits) {
      const lock = state.locks.get(name);
      if (lock === undefined) continue;
      cancelWait(ctx, lock, waiter);
      touched.set(name, lock);
    }
    session.waits.clear();
  }
  beforeRelease();
  for (const session of sessions) {
    for (const name of [...session.holds]) {
      const lock = state.locks.get(name);
      const hold = lock?.holders.get(session.id);
      if (lock === undefined || hold === undefined) continue;
      if (revocation !== null) pushRevoked(ctx, session, name, hold, revocation);
      endHold(ctx, lock, hold, ending);
      touched.set(name, lock);
    }
    session.holds.clear();
    deleteEphemeralKeys(ctx, session);
    trimClients(state, session);
    if (ending === 'expired') {
      ctx.notifications.push({ kind: 'sessionExpired', session: session.id, clientId: session.clientId });
    }
  }
  for (const lock of touched.values()) {
    promote(ctx, lock);
    dropIfIdle(ctx, lock);
  }
  touched.clear();
}

/**
 * closeSession: a clean end (no lock-delay); the session's client entries are trimmed with it.
 * `revocation`: another client closes the session (each hold's end is pushed to the holder).
 */
export function closeSession(ctx: ApplyContext, session: Session, revocation: Revocation | null): CommandResult {
  endSessions(ctx, [session], 'clean', new Map(), () => undefined, revocation);
  return okResult({ kind: 'closed', session: session.id });
}
