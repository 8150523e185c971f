import type { Entry, HardState, LogIndex, PersistentState, Snapshot } from '../raft/types.js';
import { emptyHardState } from '../raft/types.js';
import type { PersistRequest } from '../node/durable-log.js';
import type { LogMark } from '../node/log-mark.js';
import { compareWithEvidence } from '../node/log-mark.js';
import { assert } from '../util/assert.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import type { Rng } from '../util/rng.js';

export interface DiskKnobs {
  /** Each batch takes at least this long to complete... */
  readonly latencyMinMs: number;
  /** ...plus an exponentially distributed extra with this mean. Batches complete in order. */
  readonly latencyMeanMs: number;
}

/** What is on the platter: what a restarted node loads. */
class DiskImage {
  hardState: HardState = emptyHardState;
  snapshot: Snapshot | null = null;
  /** Entries from `snapshot.meta.index + 1` (or 1) on, without gaps. */
  entries: Entry[] = [];
  /** Batches applied: the generation LevelLog writes with every batch. */
  generation = 0;

  firstIndex(): number {
    return (this.snapshot?.meta.index ?? 0) + 1;
  }

  apply(request: PersistRequest): void {
    if (request.hardState !== null) this.hardState = request.hardState;
    if (request.snapshot !== null) {
      // The same contract as LevelLog (write-plan.ts): an older snapshot than the stored one is a
      // writer's bug, and one at the stored index replaces it.
      const snap = request.snapshot;
      const stored = this.snapshot;
      assert(
        stored === null || snap.meta.index >= stored.meta.index,
        () => `disk write stores a snapshot at ${snap.meta.index}, older than the stored one at ${stored?.meta.index}`,
      );
      // Keep the entries after the snapshot only if the log holds the snapshot's last entry
      // (same index and term): then they extend it; otherwise they belong to another history.
      const keep = this.termAt(snap.meta.index) === snap.meta.term;
      this.entries = keep ? this.entries.slice(snap.meta.index + 1 - this.firstIndex()) : [];
      this.snapshot = snap;
    }
    const firstNew = request.entries[0];
    if (firstNew !== undefined) {
      const first = this.firstIndex();
      const at = firstNew.index - first;
      assert(
        at <= this.entries.length,
        () => `disk write leaves a gap: entry ${firstNew.index}, disk ends at ${first + this.entries.length - 1}`,
      );
      if (at >= 0) {
        this.entries.length = at;
        for (const e of request.entries) this.entries.push(e);
      } else {
        // Some entries are already covered by the snapshot: keep only the rest.
        for (const e of request.entries) if (e.index >= first) this.entries.push(e);
      }
    }
    this.generation += 1;
  }

  /** The state LevelLog's evidence would record for this image (src/node/log-mark.ts). */
  mark(): LogMark {
    const last = this.entries[this.entries.length - 1];
    return {
      generation: this.generation,
      term: this.hardState.term,
      vote: this.hardState.vote,
      commit: this.hardState.commit,
      lastIndex: this.firstIndex() + this.entries.length - 1,
      lastTerm: last?.term ?? this.snapshot?.meta.term ?? 0,
      snapshotIndex: this.snapshot?.meta.index ?? 0,
    };
  }

  /** A copy that later writes to this image do not touch (entries and snapshots are immutable). */
  clone(): DiskImage {
    const copy = new DiskImage();
    copy.hardState = this.hardState;
    copy.snapshot = this.snapshot;
    copy.entries = this.entries.slice();
    copy.generation = this.generation;
    return copy;
  }

  /** The term stored at `index` (the snapshot's own for its last index); undefined if none is. */
  termAt(index: number): number | undefined {
    if (index === this.snapshot?.meta.index) return this.snapshot.meta.term;
    return index >= this.firstIndex() ? this.entries[index - this.firstIndex()]?.term : undefined;
  }

  load(): PersistentState {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: this.entries.slice() };
  }
}

/** A lost-writes fault rolls the platter back this many synced batches or more (see `checkpoint`). */
const checkpointEverySyncs = 4;

interface PendingBatch {
  readonly request: PersistRequest;
  readonly doneAtMs: number;
}

export type DiskCompletion =
  | { readonly kind: 'done'; readonly request: PersistRequest }
  | { readonly kind: 'failed'; readonly request: PersistRequest };

/**
 * A simulated disk with the PersistRequest contract: batches are atomic and complete in order,
 * each after a latency. A completed batch without `sync` sits in the page cache until a synced
 * batch completes; a crash loses what is in flight and, if the crash says so, the page cache too.
 * An armed write error fails the next batch: the node must stop (fail-stop). Armed read
 * corruption makes the next load fail its checksum, so the node refuses to start; if a power loss
 * comes while it is armed, the disk instead loses synced writes (a write cache that lied, a
 * write-ahead log cut short): the platter goes back to a state from several synced batches ago.
 *
 * Like LevelLog, the disk keeps evidence of its last synced batch apart from the platter (the
 * evidence files, which such a fault does not reach), and `load` refuses a platter older than its
 * evidence with the same comparison (src/node/log-mark.ts), so the node refuses to start and is
 * replaced, as production's LOST_WRITES refusal asks the operator to do.
 */
export class SimDisk {
  private image = new DiskImage();
  private evidence: LogMark | null = null;
  /** Copies of the platter taken every few synced batches, oldest first: where a lost-writes fault goes back to. */
  private checkpoints: DiskImage[] = [];
  private syncsSinceCheckpoint = 0;
  private pageCache: PersistRequest[] = [];
  private pending: PendingBatch[] = [];
  private lastDoneAtMs = 0;
  private writeErrorArmed = false;
  private corruptionArmed = false;
  writesCompleted = 0;
  syncs = 0;

  constructor(
    private readonly rng: Rng,
    private readonly knobs: DiskKnobs,
  ) {}

  submit(request: PersistRequest, nowMs: number): void {
    const latency = this.knobs.latencyMinMs + this.rng.exponential(this.knobs.latencyMeanMs);
    const doneAtMs = Math.max(this.lastDoneAtMs, Math.ceil(nowMs + latency));
    this.lastDoneAtMs = doneAtMs;
    this.pending.push({ request, doneAtMs });
  }

  nextAt(): number | null {
    return this.pending[0]?.doneAtMs ?? null;
  }

  get inFlight(): number {
    return this.pending.length;
  }

  /** Complete the next batch due by `nowMs`, if any. After a failure nothing else completes. */
  completeNext(nowMs: number): DiskCompletion | undefined {
    const next = this.pending[0];
    if (next === undefined || next.doneAtMs > nowMs) return undefined;
    this.pending.shift();
    if (this.writeErrorArmed) {
      this.writeErrorArmed = false;
      this.pending = [];
      return { kind: 'failed', request: next.request };
    }
    this.writesCompleted += 1;
    if (next.request.sync) {
      this.syncs += 1;
      for (const cached of this.pageCache) this.image.apply(cached);
      this.pageCache = [];
      this.image.apply(next.request);
      this.evidence = this.image.mark();
      this.checkpoint();
    } else {
      this.pageCache.push(next.request);
    }
    return { kind: 'done', request: next.request };
  }

  /**
   * Power loss or process kill: in-flight batches are gone; the page cache survives a process
   * kill. A power loss while corruption is armed also loses synced writes (see the class).
   */
  crash(losePageCache: boolean): void {
    this.pending = [];
    if (!losePageCache) for (const cached of this.pageCache) this.image.apply(cached);
    this.pageCache = [];
    if (losePageCache && this.corruptionArmed) {
      this.corruptionArmed = false;
      this.image = (this.checkpoints[0] ?? new DiskImage()).clone();
    }
  }

  /** Every few synced batches, a copy of the platter to go back to; the two newest are kept. */
  private checkpoint(): void {
    this.syncsSinceCheckpoint += 1;
    if (this.syncsSinceCheckpoint < checkpointEverySyncs) return;
    this.syncsSinceCheckpoint = 0;
    this.checkpoints = [...this.checkpoints.slice(-1), this.image.clone()];
  }

  armWriteError(): void {
    this.writeErrorArmed = true;
  }

  armReadCorruption(): void {
    this.corruptionArmed = true;
  }

  /** The faults end (the liveness phase): armed write errors and corruption are withdrawn. */
  disarm(): void {
    this.writeErrorArmed = false;
    this.corruptionArmed = false;
  }

  /**
   * What a restarting node reads; fails once after armed corruption (checksums catch it), and
   * whenever the platter is older than its evidence (synced writes were lost).
   */
  load(): Result<PersistentState, string> {
    assert(this.pending.length === 0 && this.pageCache.length === 0, 'load with writes in flight: crash first');
    if (this.corruptionArmed) {
      this.corruptionArmed = false;
      return err('checksum mismatch in the log');
    }
    const image = this.image;
    const lost =
      this.evidence === null
        ? null
        : compareWithEvidence(image.mark(), this.evidence, 'evidence', (index) => image.termAt(index) ?? null);
    if (lost !== null) return err(`lost writes it had acknowledged: ${lost.lost.join('; ')}`);
    return ok(image.load());
  }

  /** The operator's answer to a corrupt data directory: start again from nothing. */
  wipe(): void {
    this.image = new DiskImage();
    this.evidence = null;
    this.checkpoints = [];
    this.syncsSinceCheckpoint = 0;
    this.pageCache = [];
    this.pending = [];
  }

  /** For checkers: the durable hard state and where the durable log ends. */
  durableLastIndex(): LogIndex {
    return (this.image.firstIndex() + this.image.entries.length - 1) as LogIndex;
  }
}
