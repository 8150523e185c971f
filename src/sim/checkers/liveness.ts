import type { NodeId } from '../../raft/types.js';

/** What the liveness check looks at, sampled once per tick in the liveness phase. */
export interface LivenessView {
  readonly pendingReplacements: readonly string[];
  readonly leader: { readonly name: string; readonly id: NodeId; readonly commit: number } | null;
  readonly live: readonly {
    readonly name: string;
    readonly leader: NodeId | null;
    readonly applied: number;
    readonly pending: number;
  }[];
  readonly openClientRequests: number;
  readonly maxAcknowledgedIndex: number;
}

/**
 * Liveness once the faults end (Raft §5.2, §5.3: a majority that can talk elects a leader and
 * commits): one leader known to every running node, no request left open (each got its one
 * reply), and every running node has applied what that leader had committed when the cluster
 * first looked settled, and every acknowledged write. `gap` says what is still missing, or null.
 */
export class LivenessChecker {
  private target: number | null = null;

  gap(view: LivenessView): string | null {
    if (view.pendingReplacements.length > 0) return `replacing ${view.pendingReplacements.join(', ')}`;
    const leader = view.leader;
    if (leader === null) {
      this.target = null;
      return 'no leader';
    }
    const unaware = view.live.filter((n) => n.leader !== leader.id);
    if (unaware.length > 0) return `${unaware.map((n) => n.name).join(',')} do not follow leader ${leader.name}`;
    const open = view.openClientRequests + view.live.reduce((s, n) => s + n.pending, 0);
    if (open > 0) return `${open} requests still open`;
    // The leader keeps committing time-advance entries: aim at a fixed point, not a moving one.
    this.target ??= Math.max(leader.commit, view.maxAcknowledgedIndex);
    const target = this.target;
    const behind = view.live.filter((n) => n.applied < target);
    if (behind.length > 0) return `${behind.map((n) => `${n.name}@${n.applied}`).join(',')} have not applied ${target}`;
    return null;
  }

  get settledAt(): number | null {
    return this.target;
  }
}
