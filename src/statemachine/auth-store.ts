import type { Permission } from './auth-types.js';
import { adminRole, allRights, rootUser } from './auth-types.js';
import { canonicalRights, nameProblem, passwordHashProblem, prefixProblem, rightsProblem } from './auth-validate.js';

/** A user: an optional password hash (null: certificate login only) and the roles it holds. */
export interface UserRecord {
  passwordHash: string | null;
  readonly roles: Set<string>;
}

/**
 * The replicated auth store (like etcd's): users and roles, changed only by admin commands, read
 * by apply (every client command with a principal is checked against it) and by the node edge
 * (logins, reads, watches). `root` and `admin` are stored like the others and protected: root
 * always exists and holds admin; admin always grants every right on every name.
 */
export interface AuthStore {
  readonly users: Map<string, UserRecord>;
  /** Role name → its permissions, sorted by prefix (unique), rights in canonical order. */
  readonly roles: Map<string, readonly Permission[]>;
  /**
   * Log index of the last entry that changed the store (0: never). The edge compares it with the
   * value it last saw to know when to re-check its open connections and watches.
   */
  revision: number;
}

/** UTF-16 code unit order, as everywhere in the state machine (state.ts imports this file). */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The admin role's one permission: everything. */
export const adminPermissions: readonly Permission[] = [{ prefix: '', rights: allRights }];

export function createAuthStore(): AuthStore {
  return {
    users: new Map([[rootUser, { passwordHash: null, roles: new Set([adminRole]) }]]),
    roles: new Map([[adminRole, adminPermissions]]),
    revision: 0,
  };
}

/** A role's permissions with `permission` set on its prefix (replacing rights already there). */
export function withPermission(permissions: readonly Permission[], permission: Permission): Permission[] {
  const entry: Permission = { prefix: permission.prefix, rights: canonicalRights(permission.rights) };
  const others = permissions.filter((p) => p.prefix !== permission.prefix);
  return [...others, entry].sort((a, b) => compareStrings(a.prefix, b.prefix));
}

/** A user's roles in name order (the order listings and snapshots use). */
export function sortedRoles(user: UserRecord): string[] {
  return [...user.roles].sort(compareStrings);
}

/**
 * What is wrong with a store (empty when nothing): the built-ins are intact, every name, hash,
 * prefix and right is valid, permissions are sorted by unique prefix with rights in canonical
 * order, and every role a user holds exists (deleting a role removes it from its users).
 */
export function authProblems(auth: AuthStore, prefixBytesMax: number): string[] {
  const problems: string[] = [];
  const root = auth.users.get(rootUser);
  if (root === undefined || !root.roles.has(adminRole)) problems.push('root is missing or does not hold admin');
  const admin = auth.roles.get(adminRole);
  if (admin === undefined || !samePermissions(admin, adminPermissions)) problems.push('the admin role was changed');
  for (const [name, user] of auth.users) {
    const bad =
      nameProblem(name, 'user') ??
      (user.passwordHash === null ? null : passwordHashProblem(user.passwordHash, `password hash of ${name}`));
    if (bad !== null) problems.push(bad);
    for (const role of user.roles) {
      if (!auth.roles.has(role)) problems.push(`user ${name} holds role ${role}, which does not exist`);
    }
  }
  for (const [name, permissions] of auth.roles) {
    const bad = nameProblem(name, 'role');
    if (bad !== null) problems.push(bad);
    let previous: string | null = null;
    for (const p of permissions) {
      const wrong =
        prefixProblem(p.prefix, `prefix of role ${name}`, prefixBytesMax) ??
        rightsProblem(p.rights, `rights of role ${name}`);
      if (wrong !== null) problems.push(wrong);
      if (previous !== null && compareStrings(previous, p.prefix) >= 0)
        problems.push(`role ${name}: prefixes are not sorted and unique`);
      if (wrong === null && canonicalRights(p.rights).join() !== p.rights.join())
        problems.push(`role ${name}: rights are not in canonical order`);
      previous = p.prefix;
    }
  }
  return problems;
}

function samePermissions(a: readonly Permission[], b: readonly Permission[]): boolean {
  return (
    a.length === b.length && a.every((p, i) => p.prefix === b[i]?.prefix && p.rights.join() === b[i]?.rights.join())
  );
}
