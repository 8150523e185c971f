import { assert } from '../util/assert.js';

/**
 * Log time: the clock the state machine sees, carried in every command entry (see envelope.ts).
 *
 * The leader stamps `base + (now − anchor)`, where `base` is the highest log time in its log when
 * it became leader and `anchor` is its own monotonic clock at that moment. So log time advances
 * with the leader's clock, continues across leaders from what the log already holds (an election
 * pauses session clocks only for its own duration), never resets, and never goes backwards: every
 * stamp is also at least the previous stamp and the highest time observed in the log.
 */
export class LogTime {
  private highestSeenMs: number;
  private anchorNowMs = 0;
  private baseMs = 0;
  private leading = false;

  constructor(initialMs = 0) {
    assert(Number.isFinite(initialMs) && initialMs >= 0, () => `invalid initial log time ${initialMs}`);
    this.highestSeenMs = initialMs;
  }

  /** Any log time found in the log (appended, applied or restored from a snapshot). */
  observe(logTimeMs: number): void {
    if (logTimeMs > this.highestSeenMs) this.highestSeenMs = logTimeMs;
  }

  /** The highest log time seen so far: the floor for every future stamp. */
  get highestMs(): number {
    return this.highestSeenMs;
  }

  becomeLeader(nowMs: number): void {
    this.leading = true;
    this.anchorNowMs = nowMs;
    this.baseMs = this.highestSeenMs;
  }

  stepDown(): void {
    this.leading = false;
  }

  get isLeading(): boolean {
    return this.leading;
  }

  /** The log time for an entry proposed now; leader only. */
  stamp(nowMs: number): number {
    assert(this.leading, 'log time is stamped by the leader only');
    assert(nowMs >= this.anchorNowMs, () => `clock went back: ${nowMs} < ${this.anchorNowMs}`);
    // Whole milliseconds: a drifting clock's fractions would otherwise leak into the log.
    const t = Math.max(this.highestSeenMs, Math.floor(this.baseMs + (nowMs - this.anchorNowMs)));
    this.highestSeenMs = t;
    return t;
  }
}
