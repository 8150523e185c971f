import type { WatchEvent } from './results.js';

/** The name an event is about, matched against watch prefixes. */
export function eventName(event: WatchEvent): string {
  switch (event.type) {
    case 'put':
    case 'delete':
      return event.key;
    case 'grant':
    case 'release':
    case 'leader':
      return event.lock;
  }
}

/** A page of events for one watcher; resume with `after = nextAfter`. */
export interface EventPage {
  readonly events: readonly WatchEvent[];
  readonly nextAfter: number;
  /** True when every retained event was scanned (the watcher is current). */
  readonly complete: boolean;
}

/**
 * The bounded watch history: a ring of the latest `capacity` events in log order. A watcher that
 * resumes after index `i` gets every later event with no gap as long as `i >= evictedThroughIndex`
 * (every event at or below that index may be gone); otherwise the history is COMPACTED.
 */
export class EventLog {
  private ring: (WatchEvent | undefined)[];
  private start = 0;
  private count = 0;
  /** The highest index of an evicted event; 0 when nothing was evicted. */
  evictedThroughIndex = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array<WatchEvent | undefined>(Math.min(capacity, 1024));
  }

  get size(): number {
    return this.count;
  }

  append(event: WatchEvent): void {
    if (this.count === this.capacity) {
      const oldest = this.at(0);
      if (oldest !== undefined) this.evictedThroughIndex = oldest.index;
      this.ring[this.start] = undefined;
      this.start = (this.start + 1) % this.ring.length;
      this.count--;
    }
    if (this.count === this.ring.length) this.grow();
    this.ring[(this.start + this.count) % this.ring.length] = event;
    this.count++;
  }

  /** The i-th retained event, oldest first. */
  at(i: number): WatchEvent | undefined {
    if (i < 0 || i >= this.count) return undefined;
    return this.ring[(this.start + i) % this.ring.length];
  }

  /** All retained events, oldest first. */
  toArray(): WatchEvent[] {
    const out: WatchEvent[] = [];
    for (let i = 0; i < this.count; i++) {
      const event = this.at(i);
      if (event !== undefined) out.push(event);
    }
    return out;
  }

  /**
   * Events with index > `after` whose name starts with `prefix`, oldest first, or null when some
   * of them were evicted. A page never splits the events of one index (so resuming from the last
   * returned index loses nothing); it may exceed `limit` only to finish an index.
   */
  since(prefix: string, after: number, limit: number): EventPage | null {
    if (after < this.evictedThroughIndex) return null;
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const event = this.at(mid);
      if (event !== undefined && event.index <= after) lo = mid + 1;
      else hi = mid;
    }
    const events: WatchEvent[] = [];
    let nextAfter = after;
    for (let i = lo; i < this.count; i++) {
      const event = this.at(i);
      if (event === undefined) break;
      if (events.length >= limit && event.index !== nextAfter) return { events, nextAfter, complete: false };
      nextAfter = event.index;
      if (eventName(event).startsWith(prefix)) events.push(event);
    }
    return { events, nextAfter, complete: true };
  }

  clear(): void {
    this.ring = new Array<WatchEvent | undefined>(Math.min(this.capacity, 1024));
    this.start = 0;
    this.count = 0;
    this.evictedThroughIndex = 0;
  }

  private grow(): void {
    const size = Math.min(this.capacity, this.ring.length * 2);
    const next = new Array<WatchEvent | undefined>(size);
    for (let i = 0; i < this.count; i++) next[i] = this.at(i);
    this.ring = next;
    this.start = 0;
  }
}
