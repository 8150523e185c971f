/**
 * Authorization at the node edge, for what never enters the log (docs/security.md, "Authorization
 * at the edge"): reads after ReadIndex, watches, and the admin-only operations. Checked against the
 * node's applied auth store with the state machine's own rules (src/statemachine/authorize.ts), so
 * every node decides as apply would. Each check gives the PERMISSION_DENIED message, or null.
 * A null principal (an insecure node) is never refused.
 */
import {
  describeDenial,
  describeSessionDenial,
  isAdmin,
  mayActOnSession,
  mayUse,
  mayWatch,
} from '../statemachine/authorize.js';
import { sessionOwner } from '../statemachine/queries.js';
import type { LockState } from '../statemachine/state.js';
import type { Query } from '../protocol/client-protocol.js';
import { sessionId } from '../statemachine/ids.js';

/** The operations only an admin may ask for, as refusals name them. */
export type AdminOnly = 'members' | 'transferLeader' | 'snapshot' | 'backup' | 'users' | 'roles' | 'admin';

const adminOnlyWhat: Readonly<Record<AdminOnly, string>> = {
  members: 'change membership',
  transferLeader: 'transfer leadership',
  snapshot: 'take snapshots',
  backup: 'take backups (they hold password hashes)',
  users: 'list users',
  roles: 'list roles',
  admin: 'manage users and roles',
};

export function adminOnlyDenial(state: LockState, principal: string | null, what: AdminOnly): string | null {
  if (isAdmin(state.auth, principal)) return null;
  return `${String(principal)} may not ${adminOnlyWhat[what]} (needs the admin role)`;
}

function eitherDenial(state: LockState, principal: string, name: string): string | null {
  if (mayUse(state.auth, principal, 'read', name) || mayUse(state.auth, principal, 'lock', name)) return null;
  return `${principal} may not read ${JSON.stringify(name)} (needs read or lock on a prefix of it)`;
}

/** A read query's refusal, against the state the read is answered from. */
export function readDenial(state: LockState, principal: string | null, query: Query): string | null {
  if (principal === null) return null;
  switch (query.kind) {
    case 'get':
      return mayUse(state.auth, principal, 'read', query.key) ? null : describeDenial(principal, 'read', query.key);
    case 'checkFence':
      return eitherDenial(state, principal, query.lock);
    case 'observe':
      return eitherDenial(state, principal, query.name);
    case 'locks':
    case 'keys':
      // A read permission whose prefix is a prefix of the query's covers every name it can list.
      return mayUse(state.auth, principal, 'read', query.prefix)
        ? null
        : describeDenial(principal, 'read', query.prefix);
    case 'session': {
      const owner = sessionOwner(state, sessionId(query.session));
      // An unknown session reveals nothing: answered (null) to anyone.
      if (owner === undefined || mayActOnSession(state.auth, principal, owner)) return null;
      return `${principal} may not look at session ${query.session} (owned by ${owner ?? 'nobody'}; only its owner or an admin may)`;
    }
    case 'users':
      return adminOnlyDenial(state, principal, 'users');
    case 'roles':
      return adminOnlyDenial(state, principal, 'roles');
  }
}

export function watchDenial(state: LockState, principal: string | null, prefix: string): string | null {
  if (mayWatch(state.auth, principal, prefix)) return null;
  return describeDenial(String(principal), 'watch', prefix);
}

/** Whether `principal` may use (keep alive, hear about) `session`: its owner or an admin; an unknown session passes. */
export function sessionDenial(state: LockState, principal: string | null, session: number): string | null {
  const owner = sessionOwner(state, sessionId(session));
  if (owner === undefined || mayActOnSession(state.auth, principal, owner)) return null;
  return describeSessionDenial(principal, session, owner);
}
