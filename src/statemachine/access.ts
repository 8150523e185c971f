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

// Apply-time authorization of client commands: what each operation needs, the refusal when the
// principal lacks it, and when ending a hold must be told to its holder. A fence in put/delete
// needs nothing more than the write itself.

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
    case 'handoff':
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
export function refuseOperation(
  auth: AuthStore,
  principal: string | null,
  session: Session,
  op: Operation,
): CommandResult | null {
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
 * The client a command's id belongs to: the id without a lane suffix `#k` (1 to 3 digits). The
 * client library sends one client's commands under several ids, its lanes (`x`, `x#1`, `x#2`,
 * ...; src/client/lanes.ts), so a hold taken under one lane and released under another is still
 * that client's own release.
 */
export function clientOfLane(clientId: string): string {
  const hash = clientId.lastIndexOf('#');
  if (hash <= 0 || clientId.length - hash - 1 > 3 || clientId.length - hash - 1 < 1) return clientId;
  for (let i = hash + 1; i < clientId.length; i++) {
    const code = clientId.charCodeAt(i);
    if (code < 48 || code > 57) return clientId;
  }
  return clientId.slice(0, hash);
}

/**
 * For an operation that ends holds in `session` (release, handoff, resign, closeSession): null when it is
 * the holder's own (same principal, and the client that opened the session), else who ends them
 * and how, for the holder's `revoked` notification. Another principal may only do so as an admin;
 * in insecure mode (no principals) any client may, and the client id tells them apart.
 */
export function revocationOf(
  principal: string | null,
  clientId: string,
  session: Session,
  op: Operation,
): Revocation | null {
  if (principal === session.owner && clientOfLane(clientId) === clientOfLane(session.clientId)) return null;
  switch (op.type) {
    case 'release':
    case 'handoff':
    case 'resign':
      return { by: principal, reason: 'released' };
    case 'closeSession':
      return { by: principal, reason: 'session-closed' };
    default:
      return null;
  }
}
