/**
 * User and role management from the client (`client.users`, `client.roles`), for admins:
 * `root`, or any user with the `admin` role. A user may change its own password. Each call is
 * one admin operation the cluster replicates; a refusal is a RaftlockError (PERMISSION_DENIED for
 * a non-admin, INVALID_ARGUMENT for an unknown user or role, a bad name or right).
 */
import { malformed, okFields } from './answers.js';
import type { AdminAction, Permission, RoleView, Right, UserView, WhoAmI } from '../statemachine/auth-types.js';
import { allRights } from '../statemachine/auth-types.js';
import { RaftlockError } from './errors.js';
import type { Fields, Query, WireResult } from './protocol.js';
import { fieldsOf } from './protocol.js';

/** What the admin calls need from the client. */
export interface AdminLink {
  admin(action: AdminAction): Promise<WireResult>;
  read(query: Query): Promise<WireResult>;
}

async function perform(link: AdminLink, action: AdminAction): Promise<void> {
  const fields = okFields(await link.admin(action));
  if (fields['kind'] !== 'admin') throw malformed('an admin answer', fields);
}

function listOf(fields: Fields, kind: string): readonly unknown[] {
  const list = fields[kind];
  if (fields['kind'] !== kind || !Array.isArray(list)) throw malformed(`a ${kind} list`, fields);
  return list as readonly unknown[];
}

function isStringList(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function permissionOf(value: unknown): Permission | null {
  const f = fieldsOf(value);
  if (f === null || typeof f['prefix'] !== 'string' || !isStringList(f['rights'])) return null;
  const rights = f['rights'].filter((r): r is Right => (allRights as readonly string[]).includes(r));
  return { prefix: f['prefix'], rights };
}

export class Users {
  constructor(private readonly link: AdminLink) {}

  /** Adds a user; without a password it can only authenticate with a certificate. */
  add(user: string, options: { readonly password?: string | null } = {}): Promise<void> {
    return perform(this.link, { type: 'userAdd', user, password: options.password ?? null });
  }

  /** Deletes a user; its open connections are closed with UNAUTHENTICATED. `root` stays. */
  delete(user: string): Promise<void> {
    return perform(this.link, { type: 'userDelete', user });
  }

  /** Sets a user's password (a user may set its own). */
  passwd(user: string, password: string): Promise<void> {
    return perform(this.link, { type: 'userPassword', user, password });
  }

  /** Gives `user` the role `role`. */
  grant(user: string, role: string): Promise<void> {
    return perform(this.link, { type: 'userGrantRole', user, role });
  }

  /** Takes the role `role` from `user`; its next request is checked without it. */
  revoke(user: string, role: string): Promise<void> {
    return perform(this.link, { type: 'userRevokeRole', user, role });
  }

  /** Every user, with its roles and whether it has a password. */
  async list(): Promise<UserView[]> {
    const list = listOf(okFields(await this.link.read({ kind: 'users' })), 'users');
    return list.map((item) => {
      const f = fieldsOf(item);
      if (f === null || typeof f['name'] !== 'string' || !isStringList(f['roles'])) {
        throw malformed('a user', item);
      }
      return { name: f['name'], roles: [...f['roles']], password: f['password'] === true };
    });
  }
}

export class Roles {
  constructor(private readonly link: AdminLink) {}

  add(role: string): Promise<void> {
    return perform(this.link, { type: 'roleAdd', role });
  }

  /** Deletes a role (users holding it lose it). The built-in `admin` stays. */
  delete(role: string): Promise<void> {
    return perform(this.link, { type: 'roleDelete', role });
  }

  /**
   * Grants `rights` on every name starting with `prefix` ('' is every name). A second grant on
   * the same prefix replaces the first.
   */
  grant(role: string, prefix: string, rights: readonly Right[]): Promise<void> {
    const unknown = rights.filter((r) => !allRights.includes(r));
    if (unknown.length > 0 || rights.length === 0) {
      const message = `rights must be some of ${allRights.join(', ')}, got ${rights.join(',') || 'none'}`;
      return Promise.reject(new RaftlockError('INVALID_ARGUMENT', message));
    }
    return perform(this.link, { type: 'roleGrant', role, permission: { prefix, rights } });
  }

  /** Removes the role's permission on exactly `prefix`. */
  revoke(role: string, prefix: string): Promise<void> {
    return perform(this.link, { type: 'roleRevoke', role, prefix });
  }

  /** Every role with its permissions, sorted by prefix. */
  async list(): Promise<RoleView[]> {
    const list = listOf(okFields(await this.link.read({ kind: 'roles' })), 'roles');
    return list.map((item) => {
      const f = fieldsOf(item);
      const permissions = Array.isArray(f?.['permissions'])
        ? (f['permissions'] as readonly unknown[]).map(permissionOf)
        : null;
      if (f === null || typeof f['name'] !== 'string' || permissions === null) {
        throw malformed('a role', item);
      }
      if (permissions.some((p) => p === null)) throw malformed('a role', item);
      return { name: f['name'], permissions: permissions as Permission[] };
    });
  }
}

/** The `whoami` answer, checked. */
export function whoAmIOf(fields: Fields): WhoAmI {
  const principal = fields['principal'] ?? null;
  const roles = fields['roles'];
  const shaped = principal === null || typeof principal === 'string';
  // A node from before permissions were part of the answer sends none: read as no known rights.
  const listed = fields['permissions'] ?? [];
  const permissions = Array.isArray(listed) ? (listed as readonly unknown[]).map(permissionOf) : null;
  if (fields['kind'] !== 'whoami' || !shaped || !isStringList(roles) || permissions === null || permissions.some((p) => p === null)) {
    throw malformed('a whoami answer', fields);
  }
  return { principal, roles: [...roles], admin: fields['admin'] === true, permissions: permissions as Permission[] };
}
