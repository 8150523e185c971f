import { assert, assertNever } from '../util/assert.js';
import type { AdminAction, AdminCommand } from './auth-types.js';

// From what a client sends (AdminAction, passwords in plain text) to what the node proposes
// (AdminCommand, passwords hashed). Hashing itself is the node's (salted scrypt, node:crypto);
// the pure state machine only ever sees the hash.

/** The password `action` carries, which the node must hash before proposing; null when none. */
export function passwordOf(action: AdminAction): string | null {
  return action.type === 'userAdd' || action.type === 'userPassword' ? action.password : null;
}

/**
 * The replicated form of `action`: its password replaced by `passwordHash` (the hash of
 * `passwordOf(action)`, or null when that is null). Other actions pass through unchanged.
 */
export function adminCommandOf(action: AdminAction, passwordHash: string | null): AdminCommand {
  switch (action.type) {
    case 'userAdd':
      return { type: 'userAdd', user: action.user, passwordHash };
    case 'userPassword':
      assert(passwordHash !== null, 'userPassword needs the hash of its password');
      return { type: 'userPassword', user: action.user, passwordHash };
    case 'userDelete':
    case 'userGrantRole':
    case 'userRevokeRole':
    case 'roleAdd':
    case 'roleDelete':
    case 'roleGrant':
    case 'roleRevoke':
      return action;
    default:
      return assertNever(action, 'admin action');
  }
}
