import type { WatchEvent } from '../statemachine/results.js';
import { RaftlockError } from './errors.js';

/** A watch the node accepted: its id, and an index the stream may resume after (if known). */
export interface Subscription {
  readonly watchId: number;
  readonly index: number | null;
}

/** How a watch stream reaches the cluster; implemented by the client. */
export interface WatchLink {
  /** Subscribes; resolves with the server's watch id and, when known, an index it starts after. */
  subscribe(prefix: string, fromIndex: number): Promise<Subscription>;
  unsubscribe(watchId: number): void;
  /** Events pushed for `watchId` before the subscription's answer was seen, in arrival order. */
  claim(watchId: number): readonly WatchEvent[];
  /** Called when the stream ends for good (so the client forgets it). */
  ended(stream: WatchStream): void;
}

export interface WatchOptions {
  /** Deliver every event after this log index (0: only events from now on). */
  readonly fromIndex?: number;
  /** Events buffered for a slow consumer before the stream fails with UNAVAILABLE. */
  readonly bufferedEventsMax?: number;
}

interface Waiting {
  readonly resolve: (result: IteratorResult<WatchEvent, undefined>) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Watch events on a prefix, as an async iterator. After a reconnect it resubscribes from the
 * last index it delivered and drops what it already delivered, so the consumer sees every event
 * once, in log order, without a gap — or the iterator throws COMPACTED when the history it needs
 * is gone (re-read the current state, then watch again from a fresh index).
 */
export class WatchStream implements AsyncIterableIterator<WatchEvent, undefined> {
  watchId: number | null = null;
  private readonly buffer: WatchEvent[] = [];
  private waiting: Waiting | null = null;
  private failure: unknown = null;
  private finished = false;
  /** Resume point: events after `resumeAfter`, skipping the first `skipCount` at `skipAt`. */
  private resumeAfter: number;
  private skipAt = -1;
  private skipCount = 0;
  private lastIndex = -1;
  private countAtLast = 0;
  private readonly bufferedEventsMax: number;
  private generation = 0;

  constructor(
    readonly prefix: string,
    private readonly link: WatchLink,
    options: WatchOptions,
  ) {
    this.resumeAfter = options.fromIndex ?? 0;
    this.bufferedEventsMax = options.bufferedEventsMax ?? 100_000;
  }

  /** (Re)subscribes from the resume point; a refusal (COMPACTED…) ends the stream with it. */
  async subscribe(): Promise<void> {
    if (this.finished) return;
    const generation = ++this.generation;
    const previous = this.watchId;
    this.watchId = null;
    if (previous !== null) this.link.unsubscribe(previous);
    const fromIndex = this.resumeAfter;
    this.skipAt = this.lastIndex;
    this.skipCount = this.lastIndex > fromIndex ? this.countAtLast : 0;
    try {
      const { watchId, index } = await this.link.subscribe(this.prefix, fromIndex);
      if (this.finished || generation !== this.generation) {
        this.link.unsubscribe(watchId);
        return;
      }
      this.watchId = watchId;
      if (fromIndex === 0 && index !== null && this.lastIndex < 0) this.resumeAfter = index;
      for (const event of this.link.claim(watchId)) this.deliver(watchId, event);
    } catch (error: unknown) {
      const transient = error instanceof RaftlockError && error.code === 'UNAVAILABLE';
      if (transient || (error instanceof RaftlockError && error.code === 'CLOSED')) {
        // The next reconnection resubscribes; a closed client ends the stream.
        if (error.code === 'CLOSED') this.fail(error);
        return;
      }
      this.fail(error);
    }
  }

  /** An event pushed for this stream's current watch id. */
  deliver(watchId: number, event: WatchEvent): void {
    if (this.finished || watchId !== this.watchId) return;
    if (event.index === this.skipAt && this.skipCount > 0) {
      this.skipCount--;
      return;
    }
    if (event.index < this.lastIndex) return;
    if (event.index === this.lastIndex) this.countAtLast++;
    else {
      this.lastIndex = event.index;
      this.countAtLast = 1;
    }
    // Several events may share an index, so resuming re-reads this index and skips what was seen.
    this.resumeAfter = event.index - 1;
    if (this.waiting !== null) {
      const waiting = this.waiting;
      this.waiting = null;
      waiting.resolve({ value: event, done: false });
      return;
    }
    if (this.buffer.length >= this.bufferedEventsMax) {
      const message = `watch consumer fell ${this.bufferedEventsMax} events behind`;
      this.fail(new RaftlockError('UNAVAILABLE', message));
      return;
    }
    this.buffer.push(event);
  }

  /** Ends the stream with an error (delivered after the buffered events). */
  fail(error: unknown): void {
    if (this.finished) return;
    this.failure = error;
    this.stop();
    if (this.waiting !== null && this.buffer.length === 0) {
      const waiting = this.waiting;
      this.waiting = null;
      waiting.reject(error);
    }
  }

  next(): Promise<IteratorResult<WatchEvent, undefined>> {
    const event = this.buffer.shift();
    if (event !== undefined) return Promise.resolve({ value: event, done: false });
    if (this.failure !== null) {
      const failure = this.failure;
      this.failure = null;
      return Promise.reject(failure);
    }
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  /** Stops watching (also what `break` in a for-await loop calls). */
  return(): Promise<IteratorResult<WatchEvent, undefined>> {
    this.buffer.length = 0;
    this.failure = null;
    this.stop();
    if (this.waiting !== null) {
      const waiting = this.waiting;
      this.waiting = null;
      waiting.resolve({ value: undefined, done: true });
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private stop(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.watchId !== null) this.link.unsubscribe(this.watchId);
    this.watchId = null;
    this.link.ended(this);
  }
}
