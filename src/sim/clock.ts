import { assert } from '../util/assert.js';

/**
 * One node's monotonic clock in a simulated world: it runs at (1 + driftPpm / 10^6) times the
 * simulation's true rate, may jump forward, and never goes back (asserted). Pauses are not the
 * clock's business: a paused node's clock keeps running, the node just does nothing.
 */
export class SimClock {
  private localMs: number;
  private lastTrueMs: number;
  private driftPpmValue = 0;

  constructor(startMs: number, trueNowMs: number) {
    this.localMs = startMs;
    this.lastTrueMs = trueNowMs;
  }

  get driftPpm(): number {
    return this.driftPpmValue;
  }

  setDrift(trueNowMs: number, driftPpm: number): void {
    this.read(trueNowMs);
    assert(driftPpm > -1_000_000, 'a clock cannot run backwards');
    this.driftPpmValue = driftPpm;
  }

  jumpForward(trueNowMs: number, jumpMs: number): void {
    assert(jumpMs >= 0, () => `monotonic clocks only jump forward, got ${jumpMs}`);
    this.read(trueNowMs);
    this.localMs += jumpMs;
  }

  /** The node's monotonic time when the true time is `trueNowMs`. */
  read(trueNowMs: number): number {
    assert(trueNowMs >= this.lastTrueMs, () => `true time went back: ${trueNowMs} < ${this.lastTrueMs}`);
    const next = this.localMs + (trueNowMs - this.lastTrueMs) * (1 + this.driftPpmValue / 1_000_000);
    assert(next >= this.localMs, 'monotonic clock went back');
    this.localMs = next;
    this.lastTrueMs = trueNowMs;
    return next;
  }
}
