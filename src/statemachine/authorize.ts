import type { AuthStore } from './auth-store.js';
import type { Right } from './auth-types.js';
import { adminRole, rootUser } from './auth-types.js';

// The authorization rules, pure, shared by apply (commands) and the node edge (reads, watches,
// admin-only operations), so every node decides the same way against the same applied store.
// A principal of null means insecure mode: no authentication, so no restriction.

/** Whether the user exists (root always does). */
export function userExists(auth: AuthStore, principal: string): boolean {
  return principal === rootUser || auth.users.has(principal);
}

/** root, a user holding the admin role, or null (insecure mode). */
export function isAdmin(auth: AuthStore, principal: string | null): boolean {
  if (principal === null || principal === rootUser) return true;
  return auth.users.get(principal)?.roles.has(adminRole) === true;
}

/**
 * Whether `principal` has `right` on `name`: some role of it holds a permission with that right
 * whose prefix is a prefix of `name` ('' covers everything). Admins may do everything. Unknown
 * users may do nothing. Because a permission covers every name that extends its prefix, the same
 * test with a prefix in place of `name` says whether a permission covers every name under it.
 */
export function mayUse(auth: AuthStore, principal: string | null, right: Right, name: string): boolean {
  if (principal === null || isAdmin(auth, principal)) return true;
  const user = auth.users.get(principal);
  if (user === undefined) return false;
  for (const role of user.roles) {
    for (const permission of auth.roles.get(role) ?? []) {
      if (name.startsWith(permission.prefix) && permission.rights.includes(right)) return true;
    }
  }
  return false;
}

/** A watch on `prefix` needs `watch` on a permission prefix that is a prefix of the watched one. */
export function mayWatch(auth: AuthStore, principal: string | null, prefix: string): boolean {
  return mayUse(auth, principal, 'watch', prefix);
}

/** Whether `principal` may act in (or look at) a session owned by `owner`: its owner, or an admin. */
export function mayActOnSession(auth: AuthStore, principal: string | null, owner: string | null): boolean {
  return principal === owner || isAdmin(auth, principal);
}

/** The refusal message for a missing right, naming who, what and what would have allowed it. */
export function describeDenial(principal: string, right: Right, name: string): string {
  return `${principal} may not ${right} ${JSON.stringify(name)} (needs ${right} on a prefix of it)`;
}

/** The refusal message for a session owned by someone else. */
export function describeSessionDenial(principal: string | null, session: number, owner: string | null): string {
  const who = principal ?? 'an unauthenticated client';
  const whose = owner === null ? 'opened without authentication' : `owned by ${owner}`;
  return `${who} may not use session ${session} (${whose}; only its owner or an admin may)`;
}

/** The refusal message for a principal that is not (or no longer) a user. */
export function describeUnknownUser(principal: string): string {
  return `user ${JSON.stringify(principal)} does not exist`;
}
