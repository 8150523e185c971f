import type { AdminCommandType, Permission, RoleView, UserView } from './auth-types.js';
import type { FencingToken, SessionId } from './ids.js';

/** The stable result codes. NOT_LEADER is produced by the host, never by apply. */
export type ResultCode =
  | 'OK'
  | 'BUSY'
  | 'TIMEOUT'
  | 'NOT_HOLDER'
  | 'SESSION_EXPIRED'
  | 'STALE_TOKEN'
  | 'VERSION_MISMATCH'
  | 'DEADLOCK'
  | 'COMPACTED'
  | 'INVALID_ARGUMENT'
  | 'NOT_LEADER'
  | 'PERMISSION_DENIED';

/** Every result code, in a fixed order: for validating decoded codes at runtime. */
export const resultCodes: readonly ResultCode[] = [
  'OK',
  'BUSY',
  'TIMEOUT',
  'NOT_HOLDER',
  'SESSION_EXPIRED',
  'STALE_TOKEN',
  'VERSION_MISMATCH',
  'DEADLOCK',
  'COMPACTED',
  'INVALID_ARGUMENT',
  'NOT_LEADER',
  'PERMISSION_DENIED',
];

/** The kinds of named locks; one name is one kind at a time. */
export type LockKind = 'mutex' | 'semaphore' | 'rwlock' | 'election';

/** One step of a wait-for cycle: `session` waits for `lock`, held by the next step's session. */
export interface CycleStep {
  readonly session: SessionId;
  readonly lock: string;
}

/** What a successful command returns. */
export type OkValue =
  | { readonly kind: 'tick' }
  | { readonly kind: 'session'; readonly session: SessionId; readonly ttlMs: number }
  | { readonly kind: 'kept'; readonly session: SessionId; readonly deadlineMs: number }
  | {
      readonly kind: 'keptBatch';
      readonly alive: readonly SessionId[];
      readonly expired: readonly SessionId[];
    }
  | { readonly kind: 'closed'; readonly session: SessionId }
  | {
      readonly kind: 'granted';
      readonly name: string;
      readonly token: FencingToken;
      /** Present for a run's grant: it reserved the tokens from `token` to `token + turns - 1`. */
      readonly turns?: number;
    }
  | { readonly kind: 'queued'; readonly name: string; readonly waiter: number }
  | { readonly kind: 'released'; readonly name: string }
  | { readonly kind: 'proclaimed'; readonly name: string; readonly token: FencingToken }
  | {
      readonly kind: 'put';
      readonly key: string;
      readonly version: number;
      readonly createIndex: number;
      readonly modifyIndex: number;
    }
  | { readonly kind: 'deleted'; readonly key: string; readonly existed: boolean }
  /** An admin command took effect (the password, if any, is never echoed). */
  | { readonly kind: 'admin'; readonly done: AdminCommandType }
  // The auth reads the node edge answers (queries.ts builds them; apply never returns them).
  | { readonly kind: 'users'; readonly users: readonly UserView[] }
  | { readonly kind: 'roles'; readonly roles: readonly RoleView[] }
  | {
      readonly kind: 'whoami';
      readonly principal: string | null;
      readonly roles: readonly string[];
      readonly admin: boolean;
      readonly permissions: readonly Permission[];
    };

/** Refusals that carry only a message. */
export type PlainErrorCode = Exclude<ResultCode, 'OK' | 'DEADLOCK' | 'VERSION_MISMATCH'>;

/**
 * The result of one command, for its proposer: a closed union keyed by a stable `code`. Refusals
 * carry a human-readable `message`; DEADLOCK names the cycle and VERSION_MISMATCH the current
 * version (0 when the key does not exist).
 */
export type CommandResult =
  | { readonly code: 'OK'; readonly value: OkValue }
  | { readonly code: PlainErrorCode; readonly message: string }
  | { readonly code: 'DEADLOCK'; readonly message: string; readonly cycle: readonly CycleStep[] }
  | { readonly code: 'VERSION_MISMATCH'; readonly message: string; readonly version: number };

export function okResult(value: OkValue): CommandResult {
  return { code: 'OK', value };
}

export function failure(code: PlainErrorCode, message: string): CommandResult {
  return { code, message };
}

/** A watch event: what changed, at which log index. Several events may share one index. */
export type WatchEvent =
  | {
      readonly type: 'put';
      readonly index: number;
      readonly key: string;
      readonly version: number;
      readonly value: Uint8Array;
    }
  | { readonly type: 'delete'; readonly index: number; readonly key: string }
  | {
      readonly type: 'grant';
      readonly index: number;
      readonly lock: string;
      readonly session: SessionId;
      readonly token: FencingToken;
    }
  | { readonly type: 'release'; readonly index: number; readonly lock: string; readonly session: SessionId }
  | {
      readonly type: 'leader';
      readonly index: number;
      readonly lock: string;
      readonly session: SessionId;
      readonly token: FencingToken;
      readonly value: Uint8Array;
    };

/**
 * Why a hold ended other than by its own client's release (the holder must hear of it before the
 * name is granted to anyone else):
 * - `released`: another client (another principal, or in insecure mode anyone) released or
 *   resigned it in the holder's session;
 * - `session-closed`: another client closed the holder's session (one notification per hold);
 * - `snapshot-restore`: the node the holder is connected to caught up from a snapshot in which
 *   this hold no longer exists (the entries that ended it were never applied there one by one).
 * A session's expiry is told by `sessionExpired` (every hold of the session at once). A client
 * treats every reason as "this lock is no longer yours".
 */
export type RevokeReason = 'released' | 'session-closed' | 'snapshot-restore';

/** Every revoke reason, for validating decoded pushes at runtime. */
export const revokeReasons: readonly RevokeReason[] = ['released', 'session-closed', 'snapshot-restore'];

/** Pushed to clients other than the proposer (the server routes them by session or client). */
export type Notification =
  | {
      readonly kind: 'granted';
      readonly session: SessionId;
      readonly clientId: string;
      readonly seq: number;
      readonly name: string;
      readonly token: FencingToken;
      /** As in the `granted` answer: present for a run's grant. */
      readonly turns?: number;
    }
  | {
      readonly kind: 'timeout';
      readonly session: SessionId;
      readonly clientId: string;
      readonly seq: number;
      readonly name: string;
    }
  | { readonly kind: 'sessionExpired'; readonly session: SessionId; readonly clientId: string }
  /**
   * The hold of `session` on `name` granted with `token` ended other than by its own client's
   * release (`reason`; `by`: the principal that ended it, null in insecure mode or when nobody
   * did). Pushed before any grant the same entry makes, so the holder hears first. `token` names
   * the very hold, so a late or replayed push never ends a newer grant of the same name.
   * `clientId` is the client that opened the session: route it like sessionExpired.
   */
  | {
      readonly kind: 'revoked';
      readonly session: SessionId;
      readonly clientId: string;
      readonly name: string;
      readonly token: FencingToken;
      readonly by: string | null;
      readonly reason: RevokeReason;
    }
  | { readonly kind: 'event'; readonly event: WatchEvent };

/** What `LockStateMachine.apply` returns for each committed entry. */
export interface ApplyOutput {
  readonly result: CommandResult;
  readonly notifications: readonly Notification[];
}
