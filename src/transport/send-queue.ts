import { assert } from '../util/assert.js';

export interface SendQueueLimits {
  readonly framesMax: number;
  readonly bytesMax: number;
}

/**
 * A FIFO of encoded frames bounded by count and bytes. When a new frame does not fit, the oldest
 * frames are discarded first: for Raft the newest message (latest commit index, latest heartbeat)
 * is the most useful one, and anything dropped is retried by the leader anyway.
 *
 * Invariants: `length <= framesMax`; `bytes <= bytesMax`; `bytes` equals the sum of queued sizes.
 */
export class SendQueue {
  private frames: (Uint8Array | undefined)[] = [];
  private head = 0;
  private size = 0;
  private byteCount = 0;
  private droppedCount = 0;

  constructor(private readonly limits: SendQueueLimits) {
    const { framesMax, bytesMax } = limits;
    assert(Number.isSafeInteger(framesMax) && framesMax > 0, 'framesMax must be a positive int');
    assert(Number.isSafeInteger(bytesMax) && bytesMax > 0, 'bytesMax must be a positive int');
  }

  get length(): number {
    return this.size;
  }

  get bytes(): number {
    return this.byteCount;
  }

  /** Frames discarded since the queue was created. */
  get dropped(): number {
    return this.droppedCount;
  }

  /**
   * Appends `frame`, evicting the oldest frames as needed. A frame larger than bytesMax on its own
   * is dropped (and counted) without evicting anything. Returns how many frames were dropped.
   */
  push(frame: Uint8Array): number {
    if (frame.byteLength > this.limits.bytesMax) {
      this.droppedCount += 1;
      return 1;
    }
    let dropped = 0;
    const { framesMax, bytesMax } = this.limits;
    while (this.size >= framesMax || this.byteCount + frame.byteLength > bytesMax) {
      this.shift();
      dropped += 1;
    }
    this.frames.push(frame);
    this.size += 1;
    this.byteCount += frame.byteLength;
    this.droppedCount += dropped;
    return dropped;
  }

  /** Removes and returns the oldest frame, or undefined when empty. */
  shift(): Uint8Array | undefined {
    if (this.size === 0) return undefined;
    const frame = this.frames[this.head];
    assert(frame !== undefined, 'send queue slot empty');
    this.frames[this.head] = undefined;
    this.head += 1;
    this.size -= 1;
    this.byteCount -= frame.byteLength;
    // Compact occasionally so the backing array does not grow with total traffic.
    if (this.head > 1024 && this.head * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.head = 0;
    }
    return frame;
  }

  /** Discards everything queued (not counted as drops: used when a peer is removed). */
  clear(): void {
    this.frames = [];
    this.head = 0;
    this.size = 0;
    this.byteCount = 0;
  }
}
