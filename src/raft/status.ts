import type { ConfState, LogIndex, NodeId, Role, Term } from './types.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export interface PeerProgress {
  readonly id: NodeId;
  readonly match: LogIndex;
  readonly next: LogIndex;
  readonly state: ProgressState;
  readonly inflight: number;
  readonly recentActive: boolean;
}

/** A read-only picture of one node, for the CLI, tests and checkers. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: Term;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly commit: LogIndex;
  readonly applied: LogIndex;
  readonly firstIndex: LogIndex;
  readonly lastIndex: LogIndex;
  readonly snapshotIndex: LogIndex;
  readonly conf: ConfState;
  /** The config change entry not yet committed, if any. */
  readonly pendingConfIndex: LogIndex;
  readonly transferringTo: NodeId | null;
  /** Leader only: per-peer replication progress. */
  readonly progress: readonly PeerProgress[];
}
