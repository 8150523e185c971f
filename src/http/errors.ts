/**
 * How refusals look over HTTP (docs/http.md, "Errors"): the client protocol's result codes mapped
 * to HTTP statuses, in a JSON body `{ code, message, ... }` that names the code, with the leader's
 * addresses on a 503 so a caller can go there.
 */
import type { NodeId } from '../raft/types.js';
import type { CycleStep } from '../statemachine/results.js';
import { assertNever } from '../util/assert.js';
import type { Refusal } from './gateway.js';

/** Every code an HTTP error body may carry: the client protocol's, and three of HTTP's own. */
export type HttpErrorCode =
  | Refusal['code']
  /** No credentials, or credentials the node refused (401; 429 while the login back-off holds). */
  | 'UNAUTHENTICATED'
  /** No such route, key or session (404). */
  | 'NOT_FOUND'
  /** The body is larger than the node accepts (413). */
  | 'TOO_LARGE';

export const httpErrorCodes: readonly HttpErrorCode[] = [
  'INVALID_ARGUMENT',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'NOT_FOUND',
  'TIMEOUT',
  'BUSY',
  'NOT_HOLDER',
  'STALE_TOKEN',
  'VERSION_MISMATCH',
  'DEADLOCK',
  'SESSION_EXPIRED',
  'COMPACTED',
  'TOO_LARGE',
  'NOT_LEADER',
  'UNAVAILABLE',
];

export interface HttpErrorBody {
  readonly code: HttpErrorCode;
  readonly message: string;
  /** VERSION_MISMATCH: the key's current version (0: it does not exist). */
  readonly version?: number;
  /** DEADLOCK: the cycle waiting would have closed. */
  readonly cycle?: readonly CycleStep[];
  /** NOT_LEADER, UNAVAILABLE: the leader this node knows (null: none) and where it serves HTTP. */
  readonly leader?: NodeId | null;
  readonly leaderHttp?: string | null;
}

/** An answer that is not a success: the status, the body, and headers (Retry-After). */
export interface HttpFailure {
  readonly status: number;
  readonly body: HttpErrorBody;
  readonly headers?: Readonly<Record<string, string>>;
}

export function statusOf(code: HttpErrorCode): number {
  switch (code) {
    case 'INVALID_ARGUMENT':
      return 400;
    case 'UNAUTHENTICATED':
      return 401;
    case 'PERMISSION_DENIED':
      return 403;
    case 'NOT_FOUND':
      return 404;
    case 'TIMEOUT':
      return 408;
    case 'BUSY':
    case 'NOT_HOLDER':
    case 'STALE_TOKEN':
    case 'VERSION_MISMATCH':
    case 'DEADLOCK':
      return 409;
    case 'SESSION_EXPIRED':
    case 'COMPACTED':
      return 410;
    case 'TOO_LARGE':
      return 413;
    case 'NOT_LEADER':
    case 'UNAVAILABLE':
      return 503;
    default:
      return assertNever(code, 'HTTP error code');
  }
}

export function failure(
  code: HttpErrorCode,
  message: string,
  extra: Omit<HttpErrorBody, 'code' | 'message'> = {},
): HttpFailure {
  return { status: statusOf(code), body: { code, message, ...extra } };
}

/** Where the leader is, for a 503. */
export interface LeaderHint {
  readonly leader: NodeId | null;
  readonly leaderHttp: string | null;
}

/** A refusal of the node's request path as an HTTP failure. */
export function failureOfRefusal(refusal: Refusal, hint: () => LeaderHint): HttpFailure {
  switch (refusal.code) {
    case 'VERSION_MISMATCH':
      return failure(refusal.code, refusal.message, { version: refusal.version });
    case 'DEADLOCK':
      return failure(refusal.code, refusal.message, { cycle: refusal.cycle });
    case 'NOT_LEADER':
    case 'UNAVAILABLE':
      return failure(refusal.code, refusal.message, hint());
    default:
      return failure(refusal.code, refusal.message);
  }
}

/** A refused login or credential; 429 with Retry-After while the login back-off holds. */
export function unauthenticated(message: string, retryAfterMs: number | null): HttpFailure {
  if (retryAfterMs === null) return failure('UNAUTHENTICATED', message);
  const seconds = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
  return { status: 429, body: { code: 'UNAUTHENTICATED', message }, headers: { 'retry-after': seconds } };
}
