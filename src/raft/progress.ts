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
  /**
   * A heartbeat answer already re-sent an append in this heartbeat interval. Extra heartbeat rounds
   * (ReadIndex) bring extra answers; each must not add another append to a follower that is not
   * answering appends, or lost answers would breed concurrent probes.
   */
  heartbeatResent = false;
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
   * suggests probing next (from the follower's hint). Returns:
   * - `stale`: an answer to an older append (reordered or duplicated); ignore it;
   * - `retry`: `next` moved back; probe there;
   * - `lost`: the answer to the current probe rejects `match` itself, an index the follower had
   *   acknowledged: it lost entries (a disk that lost writes, or a wiped node back under its old
   *   id). The match is forgotten and probing restarts right after `hint`.
   * In replicate state every append goes out above `match`, so a rejection at or below it is an
   * answer to an append from before that match was acknowledged: stale. A real loss rejects the
   * appends above `match` first, which drops to probe at `match`; the loss shows there.
   */
  onRejected(rejected: number, hint: number): 'stale' | 'retry' | 'lost' {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return 'stale';
      this.next = this.match + 1;
      this.becomeProbe();
      return 'retry';
    }
    if (this.next - 1 !== rejected) return 'stale';
    this.probeSent = false;
    if (rejected <= this.match) {
      this.match = 0;
      this.next = Math.max(1, Math.min(rejected, hint + 1));
      return 'lost';
    }
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    return 'retry';
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
