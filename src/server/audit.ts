/**
 * The audit trail: one line per admin operation and per cross-session action (a command on a
 * session another principal owns; a holder told its hold was revoked), in one fixed shape,
 *
 *   audit: <principal> from <address> <what> <target> -> <result>
 *
 * through the node's logger. Audit lines are logged at `warn` so the default log level (warn)
 * keeps them; the logger's timestamp says when.
 */
import type { AdminAction } from '../statemachine/auth-types.js';
import type { Operation } from '../statemachine/commands.js';
import { sessionOwner } from '../statemachine/queries.js';
import type { LockState } from '../statemachine/state.js';
import type { Logger } from '../util/logger.js';

/** What an audited request did, before its result is known. */
export interface AuditSubject {
  readonly what: string;
  readonly target: string;
}

export interface AuditEntry {
  /** Who acted; null on an insecure node (no principals). */
  readonly principal: string | null;
  /** `host:port` of the connection the request came in on (or the forwarding node's). */
  readonly address: string;
  /** The operation: `userAdd`, `release`, `members remove`, `revoked`, ... */
  readonly what: string;
  /** What it acted on: a user, a role, `"jobs/a" of session 12 (owner bob)`, ... */
  readonly target: string;
  /** The result code, or what happened (`pushed`). */
  readonly result: string;
}

export function auditLine(entry: AuditEntry): string {
  const who = entry.principal ?? 'anonymous';
  const target = entry.target === '' ? '' : ` ${entry.target}`;
  return `audit: ${who} from ${entry.address} ${entry.what}${target} -> ${entry.result}`;
}

export function audit(log: Logger, entry: AuditEntry): void {
  log.warn(auditLine(entry));
}

/** An admin action as the audit log names it (never a password). */
export function describeAdmin(action: AdminAction): AuditSubject {
  switch (action.type) {
    case 'userAdd':
      return { what: action.type, target: `${action.user}${action.password === null ? ' (no password)' : ''}` };
    case 'userDelete':
    case 'userPassword':
      return { what: action.type, target: action.user };
    case 'userGrantRole':
    case 'userRevokeRole':
      return { what: action.type, target: `${action.user} ${action.role}` };
    case 'roleAdd':
    case 'roleDelete':
      return { what: action.type, target: action.role };
    case 'roleGrant':
      return {
        what: action.type,
        target: `${action.role} ${JSON.stringify(action.permission.prefix)} ${action.permission.rights.join(',')}`,
      };
    case 'roleRevoke':
      return { what: action.type, target: `${action.role} ${JSON.stringify(action.prefix)}` };
  }
}

/**
 * For a command on a session whose owner is not `principal`: what to audit (the state machine
 * decides whether it is allowed; only an admin's is). undefined for one's own session, or a session
 * this state does not know.
 */
export function crossSessionAudit(state: LockState, principal: string | null, op: Operation): AuditSubject | undefined {
  if (op.type === 'openSession') return undefined;
  const owner = sessionOwner(state, op.session);
  if (owner === undefined || owner === principal) return undefined;
  const name = 'name' in op ? `${JSON.stringify(op.name)} in ` : 'key' in op ? `${JSON.stringify(op.key)} in ` : '';
  return { what: op.type, target: `${name}session ${op.session} of ${owner ?? '(no owner)'}` };
}
