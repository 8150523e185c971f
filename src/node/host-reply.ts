import type { LogIndex, NodeId } from '../raft/types.js';

/** The caller's id for one request; echoed in its reply. */
export type RequestId = string;

/**
 * The one reply every request gets, exactly once (unless the node stops first).
 * - OK/write: the command committed at `index` and the state machine returned `result`.
 * - OK/read: the state machine has applied at least `index`, a linearizable read point (§6.4).
 * - OK/config: the membership change committed at `index`; OK/transfer: the transfer started.
 * - NOT_LEADER: nothing was proposed; retry at `leader` if known.
 * - DROPPED: refused before entering the log (limits, transfer in progress); safe to retry.
 * - UNKNOWN: the entry may or may not commit (overwritten or leadership lost); retry with the
 *   same (clientId, seq) so the state machine deduplicates it.
 */
export type HostReply<R> =
  | {
      readonly requestId: RequestId;
      readonly code: 'OK';
      readonly kind: 'write';
      readonly index: LogIndex;
      readonly result: R;
    }
  | {
      readonly requestId: RequestId;
      readonly code: 'OK';
      readonly kind: 'read' | 'config' | 'transfer';
      readonly index: LogIndex;
    }
  | { readonly requestId: RequestId; readonly code: 'NOT_LEADER'; readonly leader: NodeId | null }
  | { readonly requestId: RequestId; readonly code: 'DROPPED'; readonly reason: string }
  | { readonly requestId: RequestId; readonly code: 'UNKNOWN'; readonly reason: string };

export type ReplyCode = HostReply<unknown>['code'];
