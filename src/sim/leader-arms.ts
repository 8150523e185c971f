import type { RaftStatus } from '../raft/status.js';
import { assertNever } from '../util/assert.js';
import type { FaultEvent } from './faults.js';

/** A fault aimed at the next node to win an election (see FaultEvent). */
export type LeaderArm = Extract<FaultEvent, { kind: 'crashNextLeader' | 'crashWhenCaughtUp' | 'isolateNextLeader' }>;

/** A crash the simulator makes on the spot, inside a node's drain, before any of its messages leave. */
export interface CrashNow {
  readonly losePageCache: boolean;
  readonly downMs: number;
}

/** What the armed fault does to the node that just won. */
export type WinEffect =
  | { readonly kind: 'none' }
  | { readonly kind: 'isolate' }
  | { readonly kind: 'crashNow'; readonly crash: CrashNow }
  | { readonly kind: 'crashAfter'; readonly afterMs: number; readonly losePageCache: boolean; readonly downMs: number };

/**
 * An armed `crashWhenCaughtUp`: the leader's term, its commit index when it won, and the last
 * entry it held then (before its first entry of the term).
 */
interface CommitArm extends CrashNow {
  readonly term: number;
  readonly commit: number;
  readonly index: number;
}

/**
 * Faults aimed at elections: armed in advance, taken by successive winners in order (oldest
 * first), and — for `crashWhenCaughtUp` — held by the winner until it has committed every entry it
 * held when it won.
 */
export class LeaderArms {
  private armed: LeaderArm[] = [];
  /** Winners holding a `crashWhenCaughtUp`, by node name. */
  private readonly atCommit = new Map<string, CommitArm>();

  arm(event: LeaderArm): void {
    // A few arms at most: faults aimed at elections that never came are dropped, oldest first.
    this.armed = [...this.armed.slice(-2), event];
  }

  /** The liveness phase: no more elections are aimed at (a winner's commit arm stays with it). */
  disarm(): void {
    this.armed = [];
  }

  /** The node's process ended: what it held goes with it. */
  forget(node: string): void {
    this.atCommit.delete(node);
  }

  /**
   * `node` just won an election in `status.term`, its commit index at `status.commit` and its log
   * ending at `status.lastIndex` (its first entry of the term): the first armed fault takes effect.
   */
  won(node: string, status: RaftStatus): WinEffect {
    const arm = this.armed.shift();
    if (arm === undefined) return { kind: 'none' };
    switch (arm.kind) {
      case 'isolateNextLeader':
        return { kind: 'isolate' };
      case 'crashWhenCaughtUp': {
        const { losePageCache, downMs } = arm;
        const index = status.lastIndex - 1;
        this.atCommit.set(node, { term: status.term, commit: status.commit, index, losePageCache, downMs });
        return { kind: 'none' };
      }
      case 'crashNextLeader': {
        const { afterMs, losePageCache, downMs } = arm;
        if (afterMs === 0) return { kind: 'crashNow', crash: arm };
        return { kind: 'crashAfter', afterMs, losePageCache, downMs };
      }
      default:
        return assertNever(arm, 'leader arm');
    }
  }

  /** A held `crashWhenCaughtUp`: the crash to make now, the leader having committed what it held. */
  crashAtCommit(node: string, status: RaftStatus): CrashNow | null {
    const arm = this.atCommit.get(node);
    if (arm === undefined) return null;
    if (status.role !== 'leader' || status.term !== arm.term) {
      this.atCommit.delete(node);
      return null;
    }
    if (status.commit <= arm.commit || status.commit < arm.index) return null;
    this.atCommit.delete(node);
    return arm;
  }
}
