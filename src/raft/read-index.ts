import type { ReadContext } from './messages.js';
import type { NodeId } from './types.js';

/** One ReadIndex request waiting for a quorum to confirm the leader is still the leader (§6.4). */
export interface PendingRead {
  readonly context: ReadContext;
  /** The commit index when the request arrived: the read point once confirmed. */
  readonly index: number;
  /** Who asked: the leader itself (a ReadState) or a follower (a ReadIndexResponse). */
  readonly from: NodeId;
  readonly acks: Set<NodeId>;
}

/**
 * The leader's queue of ReadIndex requests, oldest first. A heartbeat carries the newest context;
 * an answer to it proves leadership at a moment after every older request was queued, so once a
 * quorum answers for one request, it and every older one are released.
 */
export class ReadIndexQueue {
  private pending: PendingRead[] = [];

  get size(): number {
    return this.pending.length;
  }

  has(context: ReadContext): boolean {
    return this.pending.some((read) => read.context === context);
  }

  add(context: ReadContext, index: number, from: NodeId, self: NodeId): void {
    this.pending.push({ context, index, from, acks: new Set([self]) });
  }

  newestContext(): ReadContext | null {
    const last = this.pending[this.pending.length - 1];
    return last === undefined ? null : last.context;
  }

  /** Record `from`'s answer for `context`; returns the request's ack set, or null if unknown. */
  ack(context: ReadContext, from: NodeId): ReadonlySet<NodeId> | null {
    const read = this.pending.find((r) => r.context === context);
    if (read === undefined) return null;
    read.acks.add(from);
    return read.acks;
  }

  /** Remove and return the request for `context` and every older one. */
  releaseThrough(context: ReadContext): PendingRead[] {
    const at = this.pending.findIndex((r) => r.context === context);
    if (at < 0) return [];
    return this.pending.splice(0, at + 1);
  }

  clear(): void {
    this.pending = [];
  }
}
