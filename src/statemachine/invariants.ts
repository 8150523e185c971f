import { authProblems } from './auth-store.js';
import { compatible } from './locks.js';
import type { LockState } from './state.js';

/**
 * The lock-safety invariants, for tests and the simulator's checkers; returns one line per
 * violation (empty when all hold). O(size of the state): not for the hot path.
 * 1. A mutex or election has at most one holder; an rwlock has one exclusive holder or only
 *    shared ones; a semaphore has at most `permits` holders.
 * 2. Every holder, waiter and ephemeral-key owner is a live session, and the session's own sets
 *    agree with the locks and keys.
 * 3. Queues hold no duplicate session, and no session both holds and waits for one lock.
 * 4. Nothing is left grantable: with no lock-delay running, the head waiter is not compatible
 *    (else it should have been granted in the step that made it so), and no lock record is idle.
 * 5. Fencing tokens are unique and no greater than the last issued token; a lock's holders are
 *    kept in grant order, which is token order (snapshots rely on it). A run's hold reserved its
 *    tokens through `token + turns - 1`, also no greater than the last token, and its fence lies
 *    within them.
 * 6. The auth store is well formed: root holds admin, admin is unchanged, every name, hash,
 *    prefix and right is valid, permissions are canonical, and every role a user holds exists.
 */
export function checkInvariants(state: LockState): string[] {
  const problems: string[] = [];
  const tokens: number[] = [];
  let waiterCount = 0;
  for (const lock of state.locks.values()) {
    const name = lock.name;
    let exclusive = 0;
    let previousToken = 0;
    for (const [id, hold] of lock.holders) {
      if (hold.mode === 'exclusive') exclusive++;
      const session = state.sessions.get(id);
      if (session === undefined) problems.push(`${name} is held by dead session ${id}`);
      else if (!session.holds.has(name)) problems.push(`session ${id} does not know it holds ${name}`);
      tokens.push(hold.token);
      const last = hold.token + hold.turns - 1;
      if (last > state.lastToken) problems.push(`token ${last} of ${name} is beyond the last token`);
      if (hold.fenced < hold.token || hold.fenced > last) problems.push(`${name}'s fence is outside its tokens`);
      if (hold.token <= previousToken) problems.push(`${name} holders are not in grant (token) order`);
      previousToken = hold.token;
    }
    if ((lock.kind === 'mutex' || lock.kind === 'election') && lock.holders.size > 1) {
      problems.push(`${lock.kind} ${name} has ${lock.holders.size} holders`);
    }
    if (lock.kind === 'rwlock' && exclusive > 0 && lock.holders.size > 1) {
      problems.push(`rwlock ${name} has a writer and ${lock.holders.size - 1} other holders`);
    }
    if (lock.kind === 'semaphore' && lock.holders.size > lock.permits) {
      problems.push(`semaphore ${name} has ${lock.holders.size} holders for ${lock.permits} permits`);
    }
    let queued = 0;
    const seen = lock.waiting > 0 ? new Set<number>() : null;
    for (let waiter = lock.head; waiter !== null; waiter = waiter.next) {
      queued++;
      if (seen?.has(waiter.session) === true) problems.push(`session ${waiter.session} waits twice for ${name}`);
      seen?.add(waiter.session);
      if (lock.holders.has(waiter.session)) problems.push(`session ${waiter.session} holds and waits for ${name}`);
      const session = state.sessions.get(waiter.session);
      if (session === undefined) problems.push(`${name} has a waiter of dead session ${waiter.session}`);
      else if (session.waits.get(name) !== waiter) problems.push(`session ${waiter.session} lost its wait on ${name}`);
    }
    if (queued !== lock.waiting) problems.push(`${name} counts ${lock.waiting} waiters, has ${queued}`);
    waiterCount += queued;
    if (lock.delayUntilMs === 0 && lock.head !== null && compatible(lock, lock.head.mode)) {
      problems.push(`${name} has a grantable head waiter (session ${lock.head.session})`);
    }
    if (lock.holders.size === 0 && lock.waiting === 0 && lock.delayUntilMs === 0) {
      problems.push(`${name} is an idle lock record`);
    }
  }
  // Uniqueness by a native numeric sort: much cheaper than a Set for a million holders.
  const sorted = Float64Array.from(tokens).sort();
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) problems.push(`token ${sorted[i]} is issued twice`);
  }
  if (waiterCount !== state.waiterCount) problems.push(`waiter count ${state.waiterCount}, queues hold ${waiterCount}`);
  for (const session of state.sessions.values()) {
    for (const name of session.holds) {
      if (state.locks.get(name)?.holders.has(session.id) !== true) {
        problems.push(`session ${session.id} thinks it holds ${name}`);
      }
    }
    for (const key of session.keys) {
      if (state.keys.get(key)?.session !== session.id) problems.push(`session ${session.id} thinks it owns ${key}`);
    }
  }
  for (const [key, record] of state.keys) {
    if (record.session !== null && state.sessions.get(record.session)?.keys.has(key) !== true) {
      problems.push(`ephemeral key ${key} has no live owner ${record.session}`);
    }
  }
  for (const [clientId, entry] of state.clients) {
    if (state.sessions.get(entry.session)?.clients.has(clientId) !== true) {
      problems.push(`client ${clientId} is bound to session ${entry.session}, which does not know it`);
    }
  }
  for (const problem of authProblems(state.auth, state.config.nameBytesMax)) problems.push(problem);
  return problems;
}
