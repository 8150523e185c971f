import type { NodeId } from './types.js';
import type { ProgressState } from './status.js';

/**
 * The leader's view of one follower (etcd's tracker.Progress):
 * - `probe`: we do not know where the follower's log matches; one AppendEntries at a time, then
 *   wait for its answer or the next heartbeat;
 * - `replicate`: the logs match through `match`; appends are pipelined optimistically, at most
 *   `inflightAppendsMax` unacknowledged at once;
 * - `snapshot`: the follower needs entries we compacted; an InstallSnapshot transfer is running.
 */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** Probe: an append is out and we wait for its answer (or the next heartbeat) before another. */
  probeSent = false;
  /** Heard from the follower since the last CheckQuorum round. */
  recentActive = false;
  /** The commit index the follower was last told about. */
  sentCommit = 0;
  readonly inflight: Inflights;
  /** Snapshot state: which snapshot is being sent, the acknowledged byte offset, ticks without an answer. */
  snapshotIndex = 0;
  snapshotOffset = 0;
  snapshotIdleTicks = 0;

  constructor(
    readonly id: NodeId,
    next: number,
    inflightAppendsMax: number,
  ) {
    this.next = next;
    this.inflight = new Inflights(inflightAppendsMax);
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      this.next = Math.max(this.match + 1, this.snapshotIndex + 1);
    } else {
      this.next = Math.max(this.next, this.match + 1);
    }
    this.state = 'probe';
    this.probeSent = false;
    this.inflight.reset();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.probeSent = false;
    this.inflight.reset();
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.state = 'snapshot';
    this.snapshotIndex = snapshotIndex;
    this.snapshotOffset = 0;
    this.snapshotIdleTicks = 0;
    this.inflight.reset();
  }

  /** Accepted through `index`: returns true when the match index moved. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
    }
    if (index + 1 > this.next) this.next = index + 1;
    this.probeSent = false;
    return updated;
  }

  /**
   * A rejection of the append whose prevIndex was `rejected`; `hint` is where the leader's own log
   * suggests probing next. Returns false for a stale rejection (an answer to an older append).
   */
  maybeDecrease(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Whether an append carrying entries may go out now. */
  canSend(): boolean {
    switch (this.state) {
      case 'probe':
        return !this.probeSent;
      case 'replicate':
        return !this.inflight.full();
      case 'snapshot':
        return false;
    }
  }
}

/** A ring of the last indexes of unacknowledged appends: the pipelining window. */
export class Inflights {
  private readonly ring: number[];
  private start = 0;
  count = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array<number>(Math.max(1, capacity)).fill(0);
  }

  full(): boolean {
    return this.count >= this.capacity;
  }

  add(lastIndex: number): void {
    const size = this.ring.length;
    this.ring[(this.start + this.count) % size] = lastIndex;
    this.count++;
  }

  /** Acknowledged through `index`: free every append that ended at or before it. */
  freeTo(index: number): void {
    const size = this.ring.length;
    while (this.count > 0 && (this.ring[this.start] as number) <= index) {
      this.start = (this.start + 1) % size;
      this.count--;
    }
  }

  /** Free the oldest slot: a heartbeat answer shows the follower is alive though acks were lost. */
  freeFirst(): void {
    if (this.count === 0) return;
    this.start = (this.start + 1) % this.ring.length;
    this.count--;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}
