// One panel's refresh loop: load, wait, load again. The wait grows with how long a load took (a
// node listing many thousands of locks is not asked back to back), and `kick` asks for a load
// soon, e.g. when the event stream reports a change; a kick during a load queues one more.

export class Poller {
  /**
   * @param {() => Promise<boolean>} load draws the panel; false when it could not
   * @param {{ minMs: number, factor: number, maxMs: number }} pace
   */
  constructor(load, pace) {
    this.load = load;
    this.pace = pace;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
    this.busy = false;
    this.again = false;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.kick(0);
  }

  stop() {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Loads after `delayMs` (sooner than the next scheduled load), or right after a running one. */
  kick(delayMs) {
    if (this.stopped) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), delayMs);
  }

  async run() {
    this.timer = null;
    this.busy = true;
    const began = performance.now();
    try {
      await this.load();
    } finally {
      this.busy = false;
    }
    if (this.stopped) return;
    const tookMs = performance.now() - began;
    const waitMs = this.again ? 0 : Math.min(this.pace.maxMs, Math.max(this.pace.minMs, this.pace.factor * tookMs));
    this.again = false;
    this.timer = setTimeout(() => void this.run(), waitMs);
  }
}
