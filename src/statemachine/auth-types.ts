// The vocabulary of users, roles and permissions, shared by the state machine, the node edge, the
// client library and the CLI. Types and constants only: importing this file pulls in no logic.

/** What a permission allows on the names under its prefix. */
export type Right = 'lock' | 'read' | 'write' | 'watch';

/** Every right, in the canonical order the auth store keeps and snapshots them in. */
export const allRights: readonly Right[] = ['lock', 'read', 'write', 'watch'];

/**
 * Rights on every name that starts with `prefix` ('' = every name). `lock` covers mutexes,
 * semaphores, rwlocks and elections; `read`/`write` cover keys (reads also fences and observers);
 * `watch` covers watch streams on a prefix.
 */
export interface Permission {
  readonly prefix: string;
  readonly rights: readonly Right[];
}

/** The built-in user: always present, always holds the admin role, cannot be deleted. */
export const rootUser = 'root';
/** The built-in role: every right on every name plus administration; cannot be changed or deleted. */
export const adminRole = 'admin';

/** Longest user or role name, in bytes (names are ASCII: `[A-Za-z0-9._@-]+`). */
export const principalBytesMax = 128;
/** Longest stored password hash, in bytes. */
export const passwordHashBytesMax = 512;
/** Every stored password hash starts with this (`scrypt$<N>$<r>$<p>$<saltB64>$<hashB64>`). */
export const passwordHashPrefix = 'scrypt$';

/** The user-management requests that carry no password: replicated exactly as a client sends them. */
type PasswordlessAdmin =
  | { readonly type: 'userDelete'; readonly user: string }
  | { readonly type: 'userGrantRole'; readonly user: string; readonly role: string }
  | { readonly type: 'userRevokeRole'; readonly user: string; readonly role: string }
  | { readonly type: 'roleAdd'; readonly role: string }
  | { readonly type: 'roleDelete'; readonly role: string }
  | { readonly type: 'roleGrant'; readonly role: string; readonly permission: Permission }
  | { readonly type: 'roleRevoke'; readonly role: string; readonly prefix: string };

/** A user-management request as a client sends it (passwords in plain text, inside TLS). */
export type AdminAction =
  | { readonly type: 'userAdd'; readonly user: string; readonly password: string | null }
  | { readonly type: 'userPassword'; readonly user: string; readonly password: string }
  | PasswordlessAdmin;

/**
 * A user-management command as it is replicated: an AdminAction whose password the node has
 * already replaced by a salted scrypt hash (the state machine only stores the opaque string).
 */
export type AdminCommand =
  | { readonly type: 'userAdd'; readonly user: string; readonly passwordHash: string | null }
  | { readonly type: 'userPassword'; readonly user: string; readonly passwordHash: string }
  | PasswordlessAdmin;

export type AdminCommandType = AdminCommand['type'];

/** A user as `users` lists it (never the hash; `password` says whether one is set). */
export interface UserView {
  readonly name: string;
  readonly roles: readonly string[];
  readonly password: boolean;
}

/** A role as `roles` lists it: permissions sorted by prefix, rights in canonical order. */
export interface RoleView {
  readonly name: string;
  readonly permissions: readonly Permission[];
}

/** Who a connection acts as: null in insecure mode (unrestricted). */
export interface WhoAmI {
  readonly principal: string | null;
  readonly roles: readonly string[];
  readonly admin: boolean;
  /**
   * What its roles allow, merged by prefix (sorted by prefix, rights in canonical order); an admin
   * gets every right on ''. Lets a user interface show only what the principal may do.
   */
  readonly permissions: readonly Permission[];
}
