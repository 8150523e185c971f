import type { ConfState, Entry, LogIndex, NodeId, SnapshotMeta, Term } from './types.js';

/**
 * Opaque id a host attaches to a ReadIndex request; it comes back in a ReadState (or a
 * ReadIndexResponse) so the host can release the reads that waited on it.
 */
export type ReadContext = string;

interface Header {
  readonly from: NodeId;
  readonly to: NodeId;
  /** Sender's term; for a granted PreVote response, the term the vote was asked for. */
  readonly term: Term;
}

/**
 * Every message between Raft peers: a closed union. The transport validates each decoded message
 * against this shape once, at the gateway; the core trusts it after that.
 */
export type Message = Header &
  (
    | {
        readonly type: 'RequestVote';
        /** PreVote (dissertation §9.6): asks "would you vote for me?" without bumping terms. */
        readonly preVote: boolean;
        readonly lastIndex: LogIndex;
        readonly lastTerm: Term;
        /** Sent because of a leadership transfer: voters ignore their leader lease (§3.10). */
        readonly transfer: boolean;
      }
    | { readonly type: 'RequestVoteResponse'; readonly preVote: boolean; readonly granted: boolean }
    | {
        readonly type: 'AppendEntries';
        readonly prevIndex: LogIndex;
        readonly prevTerm: Term;
        readonly entries: readonly Entry[];
        readonly commit: LogIndex;
      }
    | {
        readonly type: 'AppendEntriesResponse';
        /** Accepted: the follower's log matches the leader's through `index`. */
        readonly accepted: boolean;
        /** Accepted → last index now known to match; rejected → the prevIndex that did not match. */
        readonly index: LogIndex;
        /**
         * Fast backtracking hint on rejection: the follower's last index at or below the rejected
         * `index` whose term is ≤ the leader's prevTerm, and that entry's term. The leader jumps
         * straight there, so repair costs about one round trip per conflicting term.
         */
        readonly hintIndex: LogIndex;
        readonly hintTerm: Term;
      }
    | {
        readonly type: 'Heartbeat';
        readonly commit: LogIndex;
        /** The newest ReadIndex round this heartbeat confirms leadership for, if any. */
        readonly context: ReadContext | null;
      }
    | { readonly type: 'HeartbeatResponse'; readonly context: ReadContext | null }
    | {
        readonly type: 'InstallSnapshot';
        readonly meta: SnapshotMeta;
        /** Byte offset of `data` within the whole snapshot; chunks arrive in order. */
        readonly offset: number;
        readonly data: Uint8Array;
        readonly totalBytes: number;
        readonly done: boolean;
      }
    | {
        readonly type: 'InstallSnapshotResponse';
        readonly snapshotIndex: LogIndex;
        /** The next byte offset the receiver expects (0 = start again). */
        readonly nextOffset: number;
        /** True once the whole snapshot was received and installed. */
        readonly done: boolean;
      }
    | { readonly type: 'TimeoutNow' }
    | { readonly type: 'ReadIndex'; readonly context: ReadContext }
    | {
        readonly type: 'ReadIndexResponse';
        readonly context: ReadContext;
        /** The read point, or null when the leader could not serve it (not leader, not ready). */
        readonly index: LogIndex | null;
      }
  );

export type MessageType = Message['type'];

export const messageTypes: readonly MessageType[] = [
  'RequestVote',
  'RequestVoteResponse',
  'AppendEntries',
  'AppendEntriesResponse',
  'Heartbeat',
  'HeartbeatResponse',
  'InstallSnapshot',
  'InstallSnapshotResponse',
  'TimeoutNow',
  'ReadIndex',
  'ReadIndexResponse',
];

export type { ConfState };
