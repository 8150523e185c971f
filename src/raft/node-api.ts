import type { RaftConfig } from './config.js';
import type { ProposeError, ReadIndexError, StepError, TransferError } from './errors.js';
import type { Message, ReadContext } from './messages.js';
import type { Ready } from './ready.js';
import type { RaftStatus } from './status.js';
import type { ConfChange, EntryId, LogIndex, NodeId, PersistentState } from './types.js';
import type { Result } from '../util/result.js';
import type { Rng } from '../util/rng.js';

/**
 * The sans-IO Raft node (in the style of etcd-io/raft's RawNode). Synchronous and deterministic:
 * the same config, persisted state, Rng seed and call sequence give the same Readies.
 * Time is `tick()`; the host decides how long a tick is.
 */
export interface RaftCore {
  readonly id: NodeId;
  /** Advance logical time by one tick (election and heartbeat timers). */
  tick(): void;
  /** Feed one message from a peer. Messages from unknown or stale senders are ignored safely. */
  step(message: Message): Result<void, StepError>;
  /** Leader only: append a command; returns the id the entry will have if it commits. */
  propose(data: Uint8Array): Result<EntryId, ProposeError>;
  /** Leader only: one membership change at a time (dissertation §4.1). */
  proposeConfChange(change: ConfChange): Result<EntryId, ProposeError>;
  /** Start an election now (tests, operators), subject to PreVote. */
  campaign(): void;
  /**
   * Ask for a linearizable read point; it arrives later as a ReadState with this context in a
   * Ready (on a follower, through the leader). No log write.
   */
  readIndex(context: ReadContext): Result<void, ReadIndexError>;
  /** Leader only: catch `to` up, then send it TimeoutNow; proposals are refused meanwhile. */
  transferLeadership(to: NodeId): Result<void, TransferError>;
  /**
   * The host took a snapshot of its state machine at `index` (≤ applied): discard log entries
   * up to it and keep `data` to send to followers that fall behind the compaction point.
   */
  compact(index: LogIndex, data: Uint8Array): void;
  /** The transport could not reach `peer`: a leader drops it back to probing. */
  reportUnreachable(peer: NodeId): void;
  /**
   * The transport has positive evidence that `peer`'s process is gone (its address refuses
   * connections). A leader treats it as `reportUnreachable`. A follower whose leader it is forgets
   * that leader, so it no longer defends the leader's lease against (pre-)votes, and campaigns
   * after a short random delay instead of a whole election timeout. Liveness only: votes and
   * commitment follow the same rules as ever.
   */
  reportPeerDown(peer: NodeId): void;
  hasReady(): boolean;
  ready(): Ready;
  advance(ready: Ready): void;
  status(): RaftStatus;
}

export type CreateRaftCore = (config: RaftConfig, persisted: PersistentState, rng: Rng) => RaftCore;
