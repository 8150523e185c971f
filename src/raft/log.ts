import { AssertionError, assert, assertNever } from '../util/assert.js';
import type { Entry, LogIndex, Snapshot, Term } from './types.js';
import { entryBytes } from './types.js';

/**
 * Where a snapshot received from a leader stands on its way into the host. While it is on its way,
 * the log already starts at the snapshot but the host has not applied it, so `applied` may lag
 * `snapshotIndex`; once the host acknowledged it (`snapshotApplied`), the full order holds again.
 * - `settled`: no snapshot on its way;
 * - `pending`: restored here, not yet handed to the host in a Ready;
 * - `handedOut`: in the outstanding Ready, not yet acknowledged through `advance`.
 */
type RestoreState =
  | { readonly kind: 'settled' }
  | { readonly kind: 'pending'; readonly snapshot: Snapshot }
  | { readonly kind: 'handedOut'; readonly index: number };

/**
 * How the entries a log is built from came: `loaded` from the host's disk (durable), or written
 * by the core itself at `bootstrap` (the initial membership, not on disk until the first Ready).
 */
export type LogOrigin = 'loaded' | 'bootstrap';

/**
 * The in-memory Raft log of one node: the entries after the last snapshot, plus the bookkeeping
 * that ties them to the host's disk and state machine.
 *
 * Index marks, always ordered `snapshotIndex ≤ applied ≤ applying ≤ commit ≤ lastIndex` (except
 * that `applied` may lag `snapshotIndex` while a leader's snapshot is on its way into the host; see
 * RestoreState):
 * - `persisted`: the last index the host confirmed durable (through `stableTo`);
 * - `unstableFrom`: the first index not yet handed to the host in a Ready;
 * - `applying`: the last committed index already handed to the host for applying;
 * - `applied`: the last index the host confirmed applied.
 * The marks are private: only the methods below move them, and each mutation ends by checking the
 * order (`checkInvariants`, O(1), cheap enough for every message). Indexes are plain numbers
 * inside the core; brands are applied where values leave it.
 */
export class RaftLog {
  private entries: Entry[] = [];
  /** The newest snapshot (installed from a leader, taken locally, or restored). */
  private latestSnapshot: Snapshot | null;
  private snapIndex: number;
  private snapTerm: number;
  private restoreState: RestoreState = { kind: 'settled' };
  private commitIndex: number;
  private applyingIndex: number;
  private appliedIndex: number;
  private persistedIndex: number;
  private unstableIndex: number;

  constructor(snapshot: Snapshot | null, entries: readonly Entry[], commit: number, origin: LogOrigin = 'loaded') {
    this.latestSnapshot = snapshot;
    this.snapIndex = snapshot === null ? 0 : snapshot.meta.index;
    this.snapTerm = snapshot === null ? 0 : snapshot.meta.term;
    let expected = this.snapIndex + 1;
    for (const entry of entries) {
      if (entry.index <= this.snapIndex) continue;
      assert(entry.index === expected, () => `log gap: expected index ${expected}, got ${entry.index}`);
      this.entries.push(entry);
      expected++;
    }
    this.commitIndex = Math.max(commit, this.snapIndex);
    assert(this.commitIndex <= this.lastIndex(), () => `commit ${commit} beyond last index ${this.lastIndex()}`);
    this.applyingIndex = this.snapIndex;
    this.appliedIndex = this.snapIndex;
    switch (origin) {
      case 'loaded':
        this.persistedIndex = this.lastIndex();
        this.unstableIndex = this.lastIndex() + 1;
        break;
      case 'bootstrap':
        // Nothing is on disk yet: every entry goes out in the first Ready.
        this.persistedIndex = this.snapIndex;
        this.unstableIndex = this.snapIndex + 1;
        break;
      default:
        assertNever(origin, 'log origin');
    }
    this.checkInvariants();
  }

  get snapshot(): Snapshot | null {
    return this.latestSnapshot;
  }

  get snapshotIndex(): number {
    return this.snapIndex;
  }

  get snapshotTerm(): number {
    return this.snapTerm;
  }

  get commit(): number {
    return this.commitIndex;
  }

  get applying(): number {
    return this.applyingIndex;
  }

  get applied(): number {
    return this.appliedIndex;
  }

  get persisted(): number {
    return this.persistedIndex;
  }

  get unstableFrom(): number {
    return this.unstableIndex;
  }

  /**
   * The marks' order (see the class comment), plus `persisted ≤ lastIndex`,
   * `unstableFrom ≤ lastIndex + 1`, and a pending snapshot being the log's own. O(1); every
   * mutation below ends with it, and RaftNode runs it after every call into the node.
   */
  checkInvariants(): void {
    const last = this.snapIndex + this.entries.length;
    const ordered =
      (this.snapIndex <= this.appliedIndex || this.restoreState.kind !== 'settled') &&
      this.appliedIndex <= this.applyingIndex &&
      this.snapIndex <= this.applyingIndex &&
      this.applyingIndex <= this.commitIndex &&
      this.commitIndex <= last &&
      this.persistedIndex <= last &&
      this.unstableIndex <= last + 1 &&
      (this.restoreState.kind !== 'pending' || this.restoreState.snapshot === this.latestSnapshot);
    if (!ordered) throw new AssertionError(`log marks out of order: ${this.describeMarks()}`);
  }

  private describeMarks(): string {
    return (
      `snapshotIndex ${this.snapIndex}, applied ${this.appliedIndex}, applying ${this.applyingIndex}, ` +
      `commit ${this.commitIndex}, lastIndex ${this.lastIndex()}, persisted ${this.persistedIndex}, ` +
      `unstableFrom ${this.unstableIndex}, restore ${this.restoreState.kind}`
    );
  }

  firstIndex(): number {
    return this.snapIndex + 1;
  }

  lastIndex(): number {
    return this.snapIndex + this.entries.length;
  }

  lastTerm(): number {
    const last = this.entries[this.entries.length - 1];
    return last === undefined ? this.snapTerm : last.term;
  }

  /** The term of the entry at `index`, or null when it was compacted away or does not exist. */
  termAt(index: number): number | null {
    if (index === this.snapIndex) return this.snapTerm;
    const entry = this.entries[index - this.snapIndex - 1];
    return entry === undefined ? null : entry.term;
  }

  entryAt(index: number): Entry | undefined {
    return this.entries[index - this.snapIndex - 1];
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
    assert(lo > this.snapIndex, () => `slice from compacted index ${lo}`);
    const start = lo - this.snapIndex - 1;
    let end = Math.min(hi - this.snapIndex - 1, this.entries.length, start + countMax);
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
    this.checkInvariants();
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
      const commit = this.commitIndex;
      assert(first.index > commit, () => `truncating committed entry ${first.index} (commit ${commit})`);
      truncatedFrom = first.index;
      this.entries.length = first.index - this.snapIndex - 1;
      this.unstableIndex = Math.min(this.unstableIndex, first.index);
      this.persistedIndex = Math.min(this.persistedIndex, first.index - 1);
    }
    assert(first.index === this.lastIndex() + 1, () => `log gap at ${first.index}`);
    for (; i < entries.length; i++) {
      const entry = entries[i] as Entry;
      assert(entry.index === this.lastIndex() + 1, () => `non-contiguous entry ${entry.index}`);
      this.entries.push(entry);
    }
    this.checkInvariants();
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
      if (t === null || i <= this.snapIndex) return { index: i, term: t ?? 0 };
      if (t <= term) return { index: i, term: t };
      i--;
    }
  }

  commitTo(index: number): boolean {
    if (index <= this.commitIndex) return false;
    assert(index <= this.lastIndex(), () => `commit ${index} beyond last index ${this.lastIndex()}`);
    this.commitIndex = index;
    this.checkInvariants();
    return true;
  }

  /** Entries not yet handed to the host; marks them as in progress. */
  takeUnstable(): readonly Entry[] {
    if (this.unstableIndex > this.lastIndex()) return [];
    const out = this.slice(this.unstableIndex, this.lastIndex() + 1);
    this.unstableIndex = this.lastIndex() + 1;
    this.checkInvariants();
    return out;
  }

  hasUnstable(): boolean {
    return this.unstableIndex <= this.lastIndex() || this.restoreState.kind === 'pending';
  }

  /** The leader's snapshot restored here and not yet handed to the host; it is handed out now. */
  takePendingSnapshot(): Snapshot | null {
    if (this.restoreState.kind !== 'pending') return null;
    const { snapshot } = this.restoreState;
    this.restoreState = { kind: 'handedOut', index: snapshot.meta.index };
    this.checkInvariants();
    return snapshot;
  }

  /**
   * The host wrote and installed the snapshot at `index` that a Ready handed it: it is durable and
   * applied. A newer one restored meanwhile stays on its way.
   */
  snapshotApplied(index: number): void {
    assert(index <= this.snapIndex, () => `snapshot at ${index} applied beyond the log's own at ${this.snapIndex}`);
    this.persistedIndex = Math.max(this.persistedIndex, index);
    this.appliedIndex = Math.max(this.appliedIndex, index);
    if (this.restoreState.kind === 'handedOut' && this.restoreState.index === index) {
      this.restoreState = { kind: 'settled' };
    }
    this.checkInvariants();
  }

  /** The host applied the committed entries a Ready handed it, through `index`. */
  appliedTo(index: number): void {
    assert(index <= this.applyingIndex, () => `applied ${index} beyond what was handed out (${this.applyingIndex})`);
    this.appliedIndex = Math.max(this.appliedIndex, index);
    this.checkInvariants();
  }

  /** The host made entries through (index, term) durable; a truncated-and-replaced suffix is not. */
  stableTo(index: number, term: number): void {
    if (this.termAt(index) === term) {
      this.persistedIndex = Math.max(this.persistedIndex, index);
    } else {
      this.persistedIndex = Math.max(this.persistedIndex, Math.min(index, this.unstableIndex - 1));
    }
    this.checkInvariants();
  }

  hasCommittedToApply(): boolean {
    return this.commitIndex > this.applyingIndex;
  }

  /** Committed entries not yet handed out for applying; marks them as being applied. */
  takeCommitted(): readonly Entry[] {
    if (this.commitIndex <= this.applyingIndex) return [];
    const from = Math.max(this.applyingIndex + 1, this.snapIndex + 1);
    const out = this.slice(from, this.commitIndex + 1);
    this.applyingIndex = this.commitIndex;
    this.checkInvariants();
    return out;
  }

  /** Drop entries through `index` behind the host's snapshot `snapshot` (meta.index = index). */
  compact(snapshot: Snapshot): void {
    const index = snapshot.meta.index;
    assert(index <= this.appliedIndex, () => `compact at ${index} beyond applied ${this.appliedIndex}`);
    assert(index > this.snapIndex, 'compact below the snapshot');
    const term = this.termAt(index);
    assert(term === snapshot.meta.term, 'snapshot term does not match the log');
    this.entries = this.entries.slice(index - this.snapIndex);
    this.latestSnapshot = snapshot;
    this.snapIndex = index;
    this.snapTerm = term;
    this.checkInvariants();
  }

  /** Replace the whole log by a snapshot from the leader; the host gets it in the next Ready. */
  restore(snapshot: Snapshot): void {
    assert(snapshot.meta.index > this.commitIndex, 'restoring a snapshot behind the commit index');
    this.entries = [];
    this.latestSnapshot = snapshot;
    this.restoreState = { kind: 'pending', snapshot };
    this.snapIndex = snapshot.meta.index;
    this.snapTerm = snapshot.meta.term;
    this.commitIndex = snapshot.meta.index;
    this.applyingIndex = snapshot.meta.index;
    this.unstableIndex = snapshot.meta.index + 1;
    this.persistedIndex = Math.min(this.persistedIndex, snapshot.meta.index);
    this.checkInvariants();
  }

  /** Branded view of an index for values leaving the core. */
  static idx(n: number): LogIndex {
    return n as LogIndex;
  }

  static term(n: number): Term {
    return n as Term;
  }
}
