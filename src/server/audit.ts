/**
 * The audit trail: one line per admin operation and per cross-session action (a command on a
 * session another principal owns; a holder told its hold was revoked), in one fixed shape,
 *
 *   audit: <principal> from <address> <what> <target> -> <result>
 *
 * through the node's logger. Audit lines are logged at `warn` so the default log level (warn)
 * keeps them; the logger's timestamp says when.
 */
import type { Logger } from './logger.js';

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
