import type { Notification } from './results.js';
import type { LockState } from './state.js';

/**
 * What a replica that jumped from `before` to `after` by restoring a snapshot (a follower catching
 * up from its leader) must tell holders, since the entries in between were never applied here one
 * by one and so never notified anyone: `sessionExpired` for every session of `before` that `after`
 * no longer has (expired or closed meanwhile; either way every hold in it is gone), and `revoked`
 * (`snapshot-restore`) for every hold of a surviving session that `after` does not have with the
 * same token. In `before`'s session and hold order, so equal on every replica that restores the
 * same states. O(sessions + holds of `before`).
 */
export function holdsEndedByRestore(before: LockState, after: LockState): Notification[] {
  const ended: Notification[] = [];
  for (const session of before.sessions.values()) {
    const survivor = after.sessions.get(session.id);
    if (survivor === undefined) {
      ended.push({ kind: 'sessionExpired', session: session.id, clientId: session.clientId });
      continue;
    }
    for (const name of session.holds) {
      const hold = before.locks.get(name)?.holders.get(session.id);
      if (hold === undefined) continue;
      if (after.locks.get(name)?.holders.get(session.id)?.token === hold.token) continue;
      ended.push({
        kind: 'revoked',
        session: session.id,
        clientId: session.clientId,
        name,
        token: hold.token,
        by: null,
        reason: 'snapshot-restore',
      });
    }
  }
  return ended;
}
