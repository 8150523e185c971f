import type { SessionId } from './ids.js';
import type { Hold } from './state.js';

/**
 * The holders of one lock, in grant order, with the subset of the Map API the lock code uses.
 * Most locks have one holder, so it is kept inline and a Map is only built for a second one
 * (semaphores, shared readers): a million held mutexes cost a million small objects, not a million
 * hash tables.
 */
export class HolderSet {
  private single: Hold | null = null;
  private many: Map<SessionId, Hold> | null = null;

  get size(): number {
    return this.many !== null ? this.many.size : this.single !== null ? 1 : 0;
  }

  get(session: SessionId): Hold | undefined {
    if (this.many !== null) return this.many.get(session);
    return this.single !== null && this.single.session === session ? this.single : undefined;
  }

  has(session: SessionId): boolean {
    return this.get(session) !== undefined;
  }

  /** The earliest grant still held. */
  first(): Hold | undefined {
    if (this.many !== null) return this.many.values().next().value;
    return this.single ?? undefined;
  }

  /** Adds a holder after the existing ones (a session holds a lock at most once). */
  set(session: SessionId, hold: Hold): void {
    if (this.many !== null) {
      this.many.set(session, hold);
    } else if (this.single === null || this.single.session === session) {
      this.single = hold;
    } else {
      this.many = new Map([
        [this.single.session, this.single],
        [session, hold],
      ]);
      this.single = null;
    }
  }

  delete(session: SessionId): boolean {
    if (this.many !== null) {
      const removed = this.many.delete(session);
      if (this.many.size === 0) this.many = null;
      return removed;
    }
    if (this.single !== null && this.single.session === session) {
      this.single = null;
      return true;
    }
    return false;
  }

  values(): IterableIterator<Hold> {
    if (this.many !== null) return this.many.values();
    return (this.single === null ? [] : [this.single]).values();
  }

  keys(): IterableIterator<SessionId> {
    if (this.many !== null) return this.many.keys();
    return (this.single === null ? [] : [this.single.session]).values();
  }

  [Symbol.iterator](): IterableIterator<[SessionId, Hold]> {
    if (this.many !== null) return this.many.entries();
    return (this.single === null ? [] : [[this.single.session, this.single] as [SessionId, Hold]]).values();
  }
}
