import type { CycleStep, ResultCode } from '../statemachine/results.js';

/**
 * Stable error codes a client call can fail with: the state machine's refusals (its codes other
 * than OK, NOT_LEADER included; PERMISSION_DENIED when the principal lacks a right),
 * UNAVAILABLE from the cluster, UNAUTHENTICATED when a node (or the client, of a node) refused
 * who the other side is, LEASE_EXPIRED when the session's safe window passed on the client's own
 * clock (the cluster may not have expired it yet, but can no longer be trusted to hold it), and
 * CLOSED when the client itself was closed. UNAUTHENTICATED and PERMISSION_DENIED are definite:
 * the client does not retry them.
 */
export type RaftlockErrorCode =
  Exclude<ResultCode, 'OK'> | 'PERMISSION_DENIED' | 'UNAUTHENTICATED' | 'UNAVAILABLE' | 'LEASE_EXPIRED' | 'CLOSED';

/** Extra facts some codes carry. */
export interface RaftlockErrorDetails {
  /** DEADLOCK: the wait-for cycle the request would have closed. */
  readonly cycle?: readonly CycleStep[];
  /** VERSION_MISMATCH: the key's current version (0 when it does not exist). */
  readonly version?: number;
}

/**
 * The one error class the client throws for a refused or failed call. Branch on `code`, never on
 * `message` (which is for humans). UNAVAILABLE means the outcome is unknown: the client already
 * retried with the same (clientId, seq) until its deadline, so nothing was applied twice.
 */
export class RaftlockError extends Error {
  override readonly name = 'RaftlockError';
  readonly cycle: readonly CycleStep[] | undefined;
  readonly version: number | undefined;

  constructor(
    readonly code: RaftlockErrorCode,
    message: string,
    details: RaftlockErrorDetails = {},
  ) {
    super(`${code}: ${message}`);
    this.cycle = details.cycle;
    this.version = details.version;
  }
}

export function isRaftlockError(value: unknown, code?: RaftlockErrorCode): value is RaftlockError {
  return value instanceof RaftlockError && (code === undefined || value.code === code);
}
