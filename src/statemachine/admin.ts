import type { AuthStore } from './auth-store.js';
import { withPermission } from './auth-store.js';
import type { AdminCommand } from './auth-types.js';
import { adminRole, rootUser } from './auth-types.js';
import { describeUnknownUser, isAdmin, userExists } from './authorize.js';
import type { ApplyContext } from './context.js';
import type { CommandResult } from './results.js';
import { failure, okResult } from './results.js';
import { assertNever } from '../util/assert.js';

/**
 * Applies an admin command: only admins (or anyone in insecure mode) may change the auth store,
 * except that a user may set its own password. Refusals change nothing: PERMISSION_DENIED for who
 * may not, INVALID_ARGUMENT for what cannot be done (unknown names, duplicates, the built-ins).
 * Admin commands carry no (clientId, seq): a retried proposal that already took effect answers
 * INVALID_ARGUMENT for an add, and OK for a grant (grants are idempotent).
 */
export function runAdmin(ctx: ApplyContext, principal: string | null, action: AdminCommand): CommandResult {
  const auth = ctx.state.auth;
  if (principal !== null && !userExists(auth, principal))
    return failure('PERMISSION_DENIED', describeUnknownUser(principal));
  const ownPassword = action.type === 'userPassword' && action.user === principal;
  if (!ownPassword && !isAdmin(auth, principal)) {
    return failure('PERMISSION_DENIED', `${principal ?? 'nobody'} may not ${action.type} (needs the admin role)`);
  }
  const refused = change(auth, action);
  if (refused !== null) return failure('INVALID_ARGUMENT', refused);
  auth.revision = ctx.index;
  return okResult({ kind: 'admin', done: action.type });
}

const missingUser = (user: string): string => describeUnknownUser(user);
const missingRole = (role: string): string => `role ${JSON.stringify(role)} does not exist`;
const builtInRole = `${adminRole} is built in and cannot be changed or deleted`;

/** Makes the change, or says why it cannot be made (then nothing changed). */
function change(auth: AuthStore, action: AdminCommand): string | null {
  switch (action.type) {
    case 'userAdd':
      if (auth.users.has(action.user)) return `user ${JSON.stringify(action.user)} already exists`;
      auth.users.set(action.user, { passwordHash: action.passwordHash, roles: new Set() });
      return null;
    case 'userDelete':
      if (action.user === rootUser) return `${rootUser} is built in and cannot be deleted`;
      if (!auth.users.delete(action.user)) return missingUser(action.user);
      return null;
    case 'userPassword': {
      const user = auth.users.get(action.user);
      if (user === undefined) return missingUser(action.user);
      user.passwordHash = action.passwordHash;
      return null;
    }
    case 'userGrantRole': {
      const user = auth.users.get(action.user);
      if (user === undefined) return missingUser(action.user);
      if (!auth.roles.has(action.role)) return missingRole(action.role);
      user.roles.add(action.role);
      return null;
    }
    case 'userRevokeRole': {
      const user = auth.users.get(action.user);
      if (user === undefined) return missingUser(action.user);
      if (action.user === rootUser && action.role === adminRole) return `${rootUser} always holds ${adminRole}`;
      if (!auth.roles.has(action.role)) return missingRole(action.role);
      if (!user.roles.delete(action.role)) return `${action.user} does not hold role ${action.role}`;
      return null;
    }
    case 'roleAdd':
      if (auth.roles.has(action.role)) return `role ${JSON.stringify(action.role)} already exists`;
      auth.roles.set(action.role, []);
      return null;
    case 'roleDelete':
      if (action.role === adminRole) return builtInRole;
      if (!auth.roles.delete(action.role)) return missingRole(action.role);
      // Its users lose it: no user ever holds a role that does not exist (a later role of the
      // same name grants nothing to anyone until granted again).
      for (const user of auth.users.values()) user.roles.delete(action.role);
      return null;
    case 'roleGrant': {
      if (action.role === adminRole) return builtInRole;
      const permissions = auth.roles.get(action.role);
      if (permissions === undefined) return missingRole(action.role);
      auth.roles.set(action.role, withPermission(permissions, action.permission));
      return null;
    }
    case 'roleRevoke': {
      if (action.role === adminRole) return builtInRole;
      const permissions = auth.roles.get(action.role);
      if (permissions === undefined) return missingRole(action.role);
      const kept = permissions.filter((p) => p.prefix !== action.prefix);
      if (kept.length === permissions.length) {
        return `role ${action.role} has no permission on prefix ${JSON.stringify(action.prefix)}`;
      }
      auth.roles.set(action.role, kept);
      return null;
    }
    default:
      return assertNever(action, 'admin command');
  }
}
