/**
 * User and role management from the client (`client.users`, `client.roles`), for admins:
 * `root`, or any user with the `admin` role. A user may change its own password. Each call is
 * one admin operation the cluster replicates; a refusal is a RaftlockError (PERMISSION_DENIED for
 * a non-admin, INVALID_ARGUMENT for an unknown user or role, a bad name or right).
 */
import { answerOf } from './answers.js';
import type { AdminAction, RoleView, Right, UserView, WhoAmI } from '../statemachine/auth-types.js';
import { allRights } from '../statemachine/auth-types.js';
import { RaftlockError } from './errors.js';
import type { Query, WireAnswer, WireResult } from '../protocol/client-protocol.js';

/** What the admin calls need from the client. */
export interface AdminLink {
  admin(action: AdminAction): Promise<WireResult>;
  read(query: Query): Promise<WireResult>;
}

async function perform(link: AdminLink, action: AdminAction): Promise<void> {
  answerOf(await link.admin(action), 'admin');
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
    const { users } = answerOf(await this.link.read({ kind: 'users' }), 'users');
    return users.map(({ name, roles, password }) => ({ name, roles: [...roles], password }));
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
    const { roles } = answerOf(await this.link.read({ kind: 'roles' }), 'roles');
    return roles.map(({ name, permissions }) => ({ name, permissions: [...permissions] }));
  }
}

/** The `whoami` answer as the client hands it out (without the wire's `kind`). */
export function whoAmIOf(answer: WireAnswer<'whoami'>): WhoAmI {
  const { principal, roles, admin, permissions } = answer;
  return { principal, roles: [...roles], admin, permissions: [...permissions] };
}
