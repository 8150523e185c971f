import type { AuthStore } from './auth-store.js';
import type { Right } from './auth-types.js';
import {
  describeDenial,
  describeSessionDenial,
  describeUnknownUser,
  mayActOnSession,
  mayUse,
  userExists,
} from './authorize.js';
import type { Operation } from './commands.js';
import type { Revocation } from './locks.js';
import type { CommandResult } from './results.js';
import { failure } from './results.js';
import type { Session } from './state.js';
import { assertNever } from '../util/assert.js';

// Apply-time authorization of client commands: what each operation needs, and the refusal when
// the principal lacks it. A fence in put/delete needs nothing more than the write itself.

/** The right an operation needs, on which name; null when it needs only its session. */
export function neededRight(op: Operation): { readonly right: Right; readonly name: string } | null {
  switch (op.type) {
    case 'openSession':
    case 'keepAlive':
    case 'closeSession':
      return null;
    case 'acquire':
    case 'acquireSemaphore':
    case 'acquireRw':
    case 'release':
    case 'campaign':
    case 'resign':
    case 'proclaim':
      return { right: 'lock', name: op.name };
    case 'put':
    case 'delete':
      return { right: 'write', name: op.key };
    default:
      return assertNever(op, 'operation');
  }
}

/**
 * PERMISSION_DENIED when `principal` may not run `op` in `session`: it is no longer a user, the
 * session is another principal's and it is not an admin, or it lacks the operation's right.
 * null when allowed. A null principal (insecure mode) is never refused.
 */
export function refuseOperation(auth: AuthStore, principal: string | null, session: Session, op: Operation): CommandResult | null {
  if (principal === null) return null;
  if (!userExists(auth, principal)) return failure('PERMISSION_DENIED', describeUnknownUser(principal));
  if (!mayActOnSession(auth, principal, session.owner)) {
    return failure('PERMISSION_DENIED', describeSessionDenial(principal, session.id, session.owner));
  }
  const needed = neededRight(op);
  if (needed !== null && !mayUse(auth, principal, needed.right, needed.name)) {
    return failure('PERMISSION_DENIED', describeDenial(principal, needed.right, needed.name));
  }
  return null;
}

/**
 * For an operation that ends holds in a session owned by someone else (allowed only to admins and
 * in insecure mode): who ends them and how, for the holder's `revoked` notification.
 */
export function revocationOf(principal: string | null, session: Session, op: Operation): Revocation | null {
  if (principal === session.owner) return null;
  switch (op.type) {
    case 'release':
    case 'resign':
      return { by: principal, reason: 'released-by-admin' };
    case 'closeSession':
      return { by: principal, reason: 'session-closed-by-admin' };
    default:
      return null;
  }
}
