// One panel's refresh loop: load, wait, load again. The wait grows with how long a load took (a
// node listing many thousands of locks is not asked back to back), and `kick` asks for a load
// soon, e.g. when the event stream reports a change. A kick during a load starts a second load
// at once rather than after the first (whose answer may predate the change): on a busy node a
// load takes hundreds of milliseconds, and a change would otherwise wait for two of them. At most
// two loads run; a panel draws an answer only if no later-started load has drawn already.

/** Loads of one panel at once: the one in flight and the one a change asked for. */
const loadsInFlightMax = 2;

export class Poller {
  /**
   * @param {(isNewest: () => boolean) => Promise<boolean>} load draws the panel if `isNewest()`
   *   still holds when its answer arrives; false when it could not draw
   * @param {{ minMs: number, factor: number, maxMs: number }} pace
   */
  constructor(load, pace) {
    this.load = load;
    this.pace = pace;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
    this.inFlight = 0;
    this.again = false;
    this.stopped = true;
    /** Loads started, and the start number of the newest one drawn. */
    this.started = 0;
    this.drawn = 0;
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

  /** Loads after `delayMs` (sooner than the next scheduled load), alongside a running one. */
  kick(delayMs) {
    if (this.stopped) return;
    if (this.inFlight >= loadsInFlightMax) {
      this.again = true;
      return;
    }
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), delayMs);
  }

  async run() {
    this.timer = null;
    this.inFlight += 1;
    const number = ++this.started;
    const began = performance.now();
    const isNewest = () => {
      if (number < this.drawn) return false;
      this.drawn = number;
      return true;
    };
    try {
      await this.load(isNewest);
    } finally {
      this.inFlight -= 1;
    }
    // The newest load schedules the next; an older one that finishes later leaves it be.
    if (this.stopped || number !== this.started) return;
    const tookMs = performance.now() - began;
    const waitMs = this.again ? 0 : Math.min(this.pace.maxMs, Math.max(this.pace.minMs, this.pace.factor * tookMs));
    this.again = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), waitMs);
  }
}
