import type { Mutations } from '../util/mutations.js';
import type { NodeId } from './types.js';

/**
 * Static settings of one Raft node. Time is counted in ticks; the host decides how long a tick is.
 * Every limit carries its unit in its name.
 */
export interface RaftConfig {
  readonly id: NodeId;
  /**
   * Voters of a brand-new cluster, used only when the persisted state holds no snapshot and no
   * configuration entry. A node that joins an existing cluster passes [] and learns its
   * membership from the leader.
   */
  readonly initialVoters: readonly NodeId[];
  /** Base election timeout; each node draws its timeout from [electionTicks, 2 × electionTicks). */
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** Dissertation §9.6: a node asks for pre-votes before it bumps its term. */
  readonly preVote: boolean;
  /** Dissertation §6.2: a leader that hears from no quorum for an election timeout steps down. */
  readonly checkQuorum: boolean;
  readonly appendEntriesMax: number;
  readonly appendBytesMax: number;
  /** Pipelining window: unacknowledged AppendEntries per follower in replicate state. */
  readonly inflightAppendsMax: number;
  /** Proposals are refused once this many uncommitted bytes are in the leader's log. */
  readonly uncommittedBytesMax: number;
  /** InstallSnapshot is sent in chunks of at most this many bytes. */
  readonly snapshotChunkBytes: number;
  /** Seeded bugs for the simulator's mutation tests (src/util/mutations.ts); production passes none. */
  readonly mutations?: Mutations;
}

export const defaultRaftLimits = {
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  appendEntriesMax: 1024,
  appendBytesMax: 1024 * 1024,
  inflightAppendsMax: 64,
  uncommittedBytesMax: 64 * 1024 * 1024,
  snapshotChunkBytes: 256 * 1024,
} as const;
