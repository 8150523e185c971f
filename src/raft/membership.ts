import type { ConfState, Entry } from './types.js';
import { applyConfChange } from './confchange.js';

/**
 * The configuration in force, derived from the log: a configuration takes effect as soon as its
 * entry is appended, committed or not (dissertation §4.1), and is rolled back when that entry is
 * truncated. Keeps the configuration after every config entry still in the log, so the one in
 * force at any index (for snapshots) is at hand.
 */
export class Membership {
  private base: ConfState;
  private baseIndex: number;
  private readonly history: { index: number; conf: ConfState }[] = [];

  constructor(base: ConfState, baseIndex: number) {
    this.base = base;
    this.baseIndex = baseIndex;
  }

  current(): ConfState {
    const last = this.history[this.history.length - 1];
    return last === undefined ? this.base : last.conf;
  }

  /** Index of the newest config entry still in the log, or the base index. */
  lastChangeIndex(): number {
    const last = this.history[this.history.length - 1];
    return last === undefined ? this.baseIndex : last.index;
  }

  /** Returns true when `entry` changed the configuration. */
  appended(entry: Entry): boolean {
    if (entry.kind !== 'config') return false;
    const before = this.current();
    const after = applyConfChange(before, entry.change);
    this.history.push({ index: entry.index, conf: after });
    return after !== before;
  }

  /** Entries from `index` on were removed; returns true when the configuration changed. */
  truncatedFrom(index: number): boolean {
    const before = this.current();
    while (this.history.length > 0 && (this.history[this.history.length - 1] as { index: number }).index >= index) {
      this.history.pop();
    }
    return before !== this.current();
  }

  confAt(index: number): ConfState {
    let conf = this.base;
    for (const item of this.history) {
      if (item.index > index) break;
      conf = item.conf;
    }
    return conf;
  }

  /** Entries through `index` were compacted into a snapshot. */
  compactedTo(index: number): void {
    const conf = this.confAt(index);
    while (this.history.length > 0 && (this.history[0] as { index: number }).index <= index) this.history.shift();
    this.base = conf;
    this.baseIndex = Math.max(this.baseIndex, index);
  }

  /** The log was replaced by a snapshot taken with configuration `conf`. */
  reset(conf: ConfState, index: number): void {
    this.history.length = 0;
    this.base = conf;
    this.baseIndex = index;
  }
}
