import { assert } from '../util/assert.js';
import type { Entry, LogIndex, Snapshot, Term } from './types.js';
import { entryBytes } from './types.js';

/**
 * The in-memory Raft log of one node: the entries after the last snapshot, plus the bookkeeping
 * that ties them to the host's disk and state machine.
 *
 * Index marks, always ordered `snapshotIndex ≤ applied ≤ applying ≤ commit ≤ lastIndex`:
 * - `persisted`: the last index the host confirmed durable (through `advance`);
 * - `unstableFrom`: the first index not yet handed to the host in a Ready;
 * - `applying`: the last committed index already handed to the host for applying;
 * - `applied`: the last index the host confirmed applied.
 * Indexes are plain numbers inside the core; brands are applied where values leave it.
 */
export class RaftLog {
  private entries: Entry[] = [];
  /** The newest snapshot (installed from a leader, taken locally, or restored). */
  snapshot: Snapshot | null;
  snapshotIndex: number;
  snapshotTerm: number;
  /** A snapshot received from a leader that the host has not been handed yet. */
  pendingSnapshot: Snapshot | null = null;
  commit: number;
  applying: number;
  applied: number;
  persisted: number;
  unstableFrom: number;

  constructor(snapshot: Snapshot | null, entries: readonly Entry[], commit: number) {
    this.snapshot = snapshot;
    this.snapshotIndex = snapshot === null ? 0 : snapshot.meta.index;
    this.snapshotTerm = snapshot === null ? 0 : snapshot.meta.term;
    let expected = this.snapshotIndex + 1;
    for (const entry of entries) {
      if (entry.index <= this.snapshotIndex) continue;
      assert(entry.index === expected, () => `log gap: expected index ${expected}, got ${entry.index}`);
      this.entries.push(entry);
      expected++;
    }
    this.commit = Math.max(commit, this.snapshotIndex);
    assert(this.commit <= this.lastIndex(), () => `commit ${commit} beyond last index ${this.lastIndex()}`);
    this.applying = this.snapshotIndex;
    this.applied = this.snapshotIndex;
    this.persisted = this.lastIndex();
    this.unstableFrom = this.lastIndex() + 1;
  }

  firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  lastTerm(): number {
    const last = this.entries[this.entries.length - 1];
    return last === undefined ? this.snapshotTerm : last.term;
  }

  /** The term of the entry at `index`, or null when it was compacted away or does not exist. */
  termAt(index: number): number | null {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    const entry = this.entries[index - this.snapshotIndex - 1];
    return entry === undefined ? null : entry.term;
  }

  entryAt(index: number): Entry | undefined {
    return this.entries[index - this.snapshotIndex - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.termAt(index) === term;
  }

  /** Raft §5.4.1: a candidate's log is at least as up-to-date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Entries [lo, hi) (both within the log), at most `countMax` of them and `bytesMax` bytes (at least one). */
  slice(lo: number, hi: number, countMax = Infinity, bytesMax = Infinity): Entry[] {
    assert(lo > this.snapshotIndex, () => `slice from compacted index ${lo}`);
    const start = lo - this.snapshotIndex - 1;
    let end = Math.min(hi - this.snapshotIndex - 1, this.entries.length, start + countMax);
    if (bytesMax !== Infinity) {
      let bytes = 0;
      for (let i = start; i < end; i++) {
        bytes += entryBytes(this.entries[i] as Entry);
        if (bytes > bytesMax && i > start) {
          end = i;
          break;
        }
      }
    }
    return this.entries.slice(start, end);
  }

  /** The leader appends its own entry at the end. */
  append(entry: Entry): void {
    assert(entry.index === this.lastIndex() + 1, () => `append at ${entry.index}, last is ${this.lastIndex()}`);
    assert(entry.term >= this.lastTerm(), 'entry term below the last term');
    this.entries.push(entry);
  }

  /**
   * Follower side of AppendEntries once `entries[from - 1]` (or prevIndex) is known to match:
   * skip what already matches, truncate at the first conflict, append the rest. Returns the first
   * index that was truncated (or `Infinity` when nothing was) so the caller can roll back state
   * tied to removed entries, and whether anything was appended.
   */
  mergeFrom(entries: readonly Entry[], from: number): { truncatedFrom: number; appendedFrom: number } {
    let i = from;
    for (; i < entries.length; i++) {
      const entry = entries[i] as Entry;
      if (entry.index > this.lastIndex()) break;
      if (this.termAt(entry.index) !== entry.term) break;
    }
    if (i === entries.length) return { truncatedFrom: Infinity, appendedFrom: Infinity };
    const first = entries[i] as Entry;
    let truncatedFrom = Infinity;
    if (first.index <= this.lastIndex()) {
      assert(first.index > this.commit, () => `truncating committed entry ${first.index} (commit ${this.commit})`);
      truncatedFrom = first.index;
      this.entries.length = first.index - this.snapshotIndex - 1;
      this.unstableFrom = Math.min(this.unstableFrom, first.index);
      this.persisted = Math.min(this.persisted, first.index - 1);
    }
    assert(first.index === this.lastIndex() + 1, () => `log gap at ${first.index}`);
    for (; i < entries.length; i++) {
      const entry = entries[i] as Entry;
      assert(entry.index === this.lastIndex() + 1, () => `non-contiguous entry ${entry.index}`);
      this.entries.push(entry);
    }
    return { truncatedFrom, appendedFrom: first.index };
  }

  /**
   * The follower's backtracking hint (Raft §5.3 optimisation): the last index ≤ `index` whose term is
   * ≤ `term`. Entries at or below the snapshot are committed, so the search stops there.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (;;) {
      const t = this.termAt(i);
      if (t === null || i <= this.snapshotIndex) return { index: i, term: t ?? 0 };
      if (t <= term) return { index: i, term: t };
      i--;
    }
  }

  commitTo(index: number): boolean {
    if (index <= this.commit) return false;
    assert(index <= this.lastIndex(), () => `commit ${index} beyond last index ${this.lastIndex()}`);
    this.commit = index;
    return true;
  }

  /** Entries not yet handed to the host; marks them as in progress. */
  takeUnstable(): readonly Entry[] {
    if (this.unstableFrom > this.lastIndex()) return [];
    const out = this.slice(this.unstableFrom, this.lastIndex() + 1);
    this.unstableFrom = this.lastIndex() + 1;
    return out;
  }

  hasUnstable(): boolean {
    return this.unstableFrom <= this.lastIndex() || this.pendingSnapshot !== null;
  }

  /** The host made entries through (index, term) durable; a truncated-and-replaced suffix is not. */
  stableTo(index: number, term: number): void {
    if (this.termAt(index) === term) {
      this.persisted = Math.max(this.persisted, index);
    } else {
      this.persisted = Math.max(this.persisted, Math.min(index, this.unstableFrom - 1));
    }
  }

  hasCommittedToApply(): boolean {
    return this.commit > this.applying;
  }

  /** Committed entries not yet handed out for applying; marks them as being applied. */
  takeCommitted(): readonly Entry[] {
    if (this.commit <= this.applying) return [];
    const from = Math.max(this.applying + 1, this.snapshotIndex + 1);
    const out = this.slice(from, this.commit + 1);
    this.applying = this.commit;
    return out;
  }

  /** Drop entries through `index` behind the host's snapshot `snapshot` (meta.index = index). */
  compact(snapshot: Snapshot): void {
    const index = snapshot.meta.index;
    assert(index <= this.applied, () => `compact at ${index} beyond applied ${this.applied}`);
    assert(index > this.snapshotIndex, 'compact below the snapshot');
    const term = this.termAt(index);
    assert(term === snapshot.meta.term, 'snapshot term does not match the log');
    this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshot = snapshot;
    this.snapshotIndex = index;
    this.snapshotTerm = term;
  }

  /** Replace the whole log by a snapshot from the leader; the host gets it in the next Ready. */
  restore(snapshot: Snapshot): void {
    assert(snapshot.meta.index > this.commit, 'restoring a snapshot behind the commit index');
    this.entries = [];
    this.snapshot = snapshot;
    this.pendingSnapshot = snapshot;
    this.snapshotIndex = snapshot.meta.index;
    this.snapshotTerm = snapshot.meta.term;
    this.commit = snapshot.meta.index;
    this.applying = snapshot.meta.index;
    this.unstableFrom = snapshot.meta.index + 1;
    this.persisted = Math.min(this.persisted, snapshot.meta.index);
  }

  /** Branded view of an index for values leaving the core. */
  static idx(n: number): LogIndex {
    return n as LogIndex;
  }

  static term(n: number): Term {
    return n as Term;
  }
}
