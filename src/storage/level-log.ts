import { join } from 'node:path';
import { Level } from 'level';
import type { HardState, NodeId, PersistentState } from '../raft/types.js';
import { emptyHardState, isValidNodeId } from '../raft/types.js';
import { assert } from '../util/assert.js';
import type { DurableLog, PersistRequest } from '../node/durable-log.js';
import { recoverySteps, StorageError } from './errors.js';
import type { EvidenceFound } from './evidence.js';
import type { LogMark } from '../node/log-mark.js';
import { EvidenceWriter, readEvidence, redoFits } from './evidence.js';
import { EvidenceRecorder } from './evidence-recorder.js';
import { markAt, markOf, refuseLostWrites } from './evidence-check.js';
import { entryKey, generationKey, identityKey } from './keys.js';
import {
  decodeEntry,
  decodeIdentity,
  encodeGeneration,
  encodeIdentity,
  openRecord,
  sealRecord,
  storageFormatVersion,
} from './records.js';
import type { LogDb, Recovered } from './recovery.js';
import { recover } from './recovery.js';
import type { StoredLayout, WriteOp } from './write-plan.js';
import { defaultCoveredDeletesPerWrite, planWrite } from './write-plan.js';

/** Snapshot data is stored in chunks of this size: one LevelDB value stays well below the memtable. */
export const defaultSnapshotChunkBytes = 1024 * 1024;

/** What a write is about to do; handed to `beforeWrite`. */
export interface WriteInfo {
  /** The request's seq; null for a batch of the idle sweep. */
  readonly seq: number | null;
  readonly ops: number;
  readonly sync: boolean;
}

export interface LevelLogOptions {
  readonly dir: string;
  readonly clusterId: string;
  readonly nodeId: NodeId;
  readonly snapshotChunkBytes?: number;
  /** Entries a snapshot covers deleted per batch (write-plan.ts); small in tests, to show the spread. */
  readonly coveredDeletesPerWrite?: number;
  /**
   * After this long without a write, entries a snapshot still covers are deleted in batches of
   * their own until none are left (or a write arrives), so an idle node does not keep them.
   */
  readonly coveredSweepDelayMs?: number;
  /**
   * Fault injection for tests: called before each batch is handed to LevelDB, a persist's or
   * the idle sweep's. A throw is treated exactly like a failed write or fsync (the log stops).
   */
  readonly beforeWrite?: (info: WriteInfo) => void;
  /**
   * Fault injection for tests: called before the evidence of a synced batch is written (with
   * that batch's generation). A throw is treated like a failed write (the log stops).
   */
  readonly beforeEvidenceWrite?: (generation: number) => void;
}

const clusterIdLengthMax = 128;

/** Idle time before covered entries are swept (see `LevelLogOptions.coveredSweepDelayMs`). */
export const defaultCoveredSweepDelayMs = 1000;

/**
 * Open (creating on first use) the data directory of one node. The directory must belong to
 * `clusterId`/`nodeId` and use this storage format; a directory held by another process is refused
 * at once (DATA_DIR_LOCKED). Call `load()` before the first `persist()`.
 */
export async function openLevelLog(options: LevelLogOptions): Promise<LevelLog> {
  const { dir, clusterId, nodeId } = options;
  assert(
    clusterId.length > 0 && clusterId.length <= clusterIdLengthMax,
    () => `invalid cluster id ${JSON.stringify(clusterId)}`,
  );
  assert(isValidNodeId(nodeId), () => `invalid node id ${JSON.stringify(nodeId)}`);
  const db: LogDb = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  try {
    await db.open();
  } catch (error) {
    if (causeCode(error) === 'LEVEL_LOCKED') {
      throw new StorageError(
        { code: 'DATA_DIR_LOCKED', dir, cause: error },
        `data directory ${dir} is in use by another raftlock process (its LOCK file is held); stop that process or use another directory`,
      );
    }
    if (causeCode(error) === 'LEVEL_CORRUPTION') throw levelCorruption(dir, nodeId, error);
    throw new StorageError(
      { code: 'OPEN_FAILED', dir, cause: error },
      `data directory ${dir} cannot be opened: ${describe(error)}`,
    );
  }
  let evidence: EvidenceFound;
  try {
    await checkIdentity(db, options);
    evidence = await readEvidence(dir).catch((error: unknown) => {
      throw new StorageError(
        { code: 'OPEN_FAILED', dir, cause: error },
        `data directory ${dir}: its evidence files cannot be read: ${describe(error)}`,
      );
    });
  } catch (error) {
    await db.close();
    throw error;
  }
  return new LevelLog(db, dir, nodeId, evidence, {
    snapshotChunkBytes: options.snapshotChunkBytes ?? defaultSnapshotChunkBytes,
    coveredDeletesPerWrite: options.coveredDeletesPerWrite ?? defaultCoveredDeletesPerWrite,
    coveredSweepDelayMs: options.coveredSweepDelayMs ?? defaultCoveredSweepDelayMs,
    beforeWrite: options.beforeWrite ?? null,
    beforeEvidenceWrite: options.beforeEvidenceWrite ?? null,
  });
}

/** LevelDB found its own files damaged (a table file missing or unreadable). */
function levelCorruption(dir: string, nodeId: NodeId, error: unknown): StorageError {
  return new StorageError(
    { code: 'CORRUPT_DATA', dir, cause: error },
    `data directory ${dir}: LevelDB finds its files damaged (${describe(error)}); writes the node acknowledged ` +
      `may be gone, so it must not start from this directory. ${recoverySteps(dir, nodeId)}`,
  );
}

async function checkIdentity(db: LogDb, options: LevelLogOptions): Promise<void> {
  const { dir, clusterId, nodeId } = options;
  const raw = await db.get(identityKey);
  if (raw === undefined) {
    const anyKey = (await db.keys({ limit: 1 }).all())[0];
    if (anyKey !== undefined) {
      throw new StorageError(
        { code: 'FORMAT', dir, key: anyKey },
        `data directory ${dir} holds data (key "${anyKey}") but no identity record: it was not written by raftlock`,
      );
    }
    const payload = encodeIdentity({ formatVersion: storageFormatVersion, clusterId, nodeId });
    await db.put(identityKey, sealRecord(identityKey, payload), { sync: true });
    return;
  }
  const payload = openRecord(identityKey, raw);
  const decoded = payload === null ? null : decodeIdentity(payload);
  if (decoded === null || !decoded.ok) {
    const what = decoded === null ? 'fails its CRC-32C checksum' : decoded.error;
    throw new StorageError(
      { code: 'CORRUPT_DATA', dir, key: identityKey },
      `data directory ${dir}: key "${identityKey}" ${what}`,
    );
  }
  const found = decoded.value;
  if (found.formatVersion !== storageFormatVersion) {
    throw new StorageError(
      { code: 'FORMAT', dir, key: identityKey },
      `data directory ${dir} uses storage format ${found.formatVersion}; this raftlock reads format ${storageFormatVersion}`,
    );
  }
  if (found.clusterId !== clusterId || found.nodeId !== nodeId) {
    throw new StorageError(
      { code: 'IDENTITY_MISMATCH', dir, key: identityKey },
      `data directory ${dir} belongs to node ${found.nodeId} of cluster ${JSON.stringify(found.clusterId)}, ` +
        `not node ${nodeId} of cluster ${JSON.stringify(clusterId)}`,
    );
  }
}

/** LevelLogOptions with every default filled in. */
interface LevelLogSettings {
  readonly snapshotChunkBytes: number;
  readonly coveredDeletesPerWrite: number;
  readonly coveredSweepDelayMs: number;
  readonly beforeWrite: ((info: WriteInfo) => void) | null;
  readonly beforeEvidenceWrite: ((generation: number) => void) | null;
}

/**
 * The DurableLog on LevelDB. Each request is one atomic batch (synced when `request.sync`), and
 * requests are written strictly in call order. Fail-stop: after a failed write, or a request that
 * breaks the log's invariants, every later load/persist rejects with STOPPED — the process must
 * restart and recover from what is durable, never carry on past an unknown disk state.
 *
 * Every batch also rewrites the log's generation, and after every synced batch the evidence files
 * (evidence.ts) record the generation and the state it left, before the batch is reported
 * durable. `load()` compares the two and refuses a log that went back (LOST_WRITES).
 */
export class LevelLog implements DurableLog {
  private layout: StoredLayout | null = null;
  private generation = 0;
  private hardState: HardState = emptyHardState;
  private lastTerm = 0;
  private evidence: EvidenceRecorder | null = null;
  private tail: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private closed = false;
  private batchCount = 0;
  private sweepCount = 0;
  /** persist() calls not yet finished: a sweep runs only when this is 0. */
  private queued = 0;
  private sweepTimer: NodeJS.Timeout | null = null;
  /**
   * The generation of the newest synced batch this handle wrote, when nothing was written after
   * it; -1 after load(), so the first batch is never recorded with its redo (the log read at load
   * may hold unsynced batches of an earlier process).
   */
  private syncedThrough = -1;
  private replayedGeneration: number | null = null;

  constructor(
    private readonly db: LogDb,
    readonly dir: string,
    private readonly nodeId: NodeId,
    private found: EvidenceFound,
    private readonly settings: LevelLogSettings,
  ) {}

  /** Batches written so far (one per persist call). */
  get batches(): number {
    return this.batchCount;
  }

  /**
   * The generation load() wrote again from its evidence (the log was one batch behind a record
   * that carried the batch), or null when it did not.
   */
  get replayed(): number | null {
    return this.replayedGeneration;
  }

  /** Batches of the idle sweep so far (covered entries deleted while no write came). */
  get sweeps(): number {
    return this.sweepCount;
  }

  /** Entries the stored snapshot covers that are still on disk (0 before load()). */
  get coveredStored(): number {
    const layout = this.layout;
    return layout === null ? 0 : Math.max(0, layout.snapshotIndex - layout.firstStored + 1);
  }

  async load(): Promise<PersistentState> {
    this.checkUsable();
    await this.tail;
    await this.evidence?.idle();
    this.checkUsable();
    const readLog = (): Promise<Recovered> =>
      recover(this.db, this.dir).catch((error: unknown) => {
        if (error instanceof StorageError) throw error;
        if (causeCode(error) === 'LEVEL_CORRUPTION') throw levelCorruption(this.dir, this.nodeId, error);
        throw new StorageError(
          { code: 'OPEN_FAILED', dir: this.dir, cause: error },
          `data directory ${this.dir} cannot be read: ${describe(error)}`,
        );
      });
    // A later load() of the same handle compares with the copies as they are now.
    if (this.evidence !== null) this.found = await readEvidence(this.dir);
    let recovered = await readLog();
    if (await this.replayNewest(recovered.generation)) recovered = await readLog();
    const mark = markOf(recovered);
    refuseLostWrites(this.dir, this.nodeId, this.found, recovered);
    if (this.evidence === null) {
      const writer = await EvidenceWriter.open(this.dir, this.found, mark).catch((error: unknown) => {
        throw new StorageError(
          { code: 'OPEN_FAILED', dir: this.dir, cause: error },
          `data directory ${this.dir}: its evidence files cannot be opened: ${describe(error)}`,
        );
      });
      this.evidence = new EvidenceRecorder(
        writer,
        mark.generation,
        this.settings.beforeEvidenceWrite,
        (error, generation) => {
          this.failure = error;
          return new StorageError(
            { code: 'WRITE_FAILED', dir: this.dir, cause: error },
            `data directory ${this.dir}: recording the evidence of batch ${generation} failed (${describe(error)}); the node stops`,
          );
        },
      );
    }
    this.layout = recovered.layout;
    this.generation = recovered.generation;
    this.syncedThrough = -1;
    this.hardState = recovered.state.hardState;
    this.lastTerm = mark.lastTerm;
    return recovered.state;
  }

  /**
   * Resolves once the request's batch is on disk (synced when asked) and, for a synced one, its
   * evidence too. `onWritten` is called as soon as the batch itself is written: the next batch
   * may go to LevelDB then, while this one's evidence is still being written.
   */
  persist(request: PersistRequest, onWritten?: () => void): Promise<void> {
    try {
      this.checkUsable();
    } catch (error) {
      return Promise.reject(error);
    }
    this.queued++;
    this.cancelSweep();
    const run = this.tail.then(() => this.write(request));
    this.tail = run.then(
      () => {
        this.queued--;
        this.scheduleSweep(this.settings.coveredSweepDelayMs);
      },
      () => {
        this.queued--;
      },
    );
    return run.then((evidenced) => {
      onWritten?.();
      return evidenced.done;
    });
  }

  /** Waits for writes in flight, then releases the directory. Allowed after a failure. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelSweep();
    await this.tail;
    await this.evidence?.close();
    await this.db.close();
  }

  /**
   * Covered entries left after the last write (writes delete a few hundred each) go in batches
   * of their own once the log has been idle for `delayMs`, one batch at a time and never while a
   * write waits, so a node that stops writing does not keep a snapshot's worth of garbage.
   */
  private scheduleSweep(delayMs: number): void {
    if (this.sweepTimer !== null || !this.maySweep() || this.coveredStored === 0) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = null;
      this.tail = this.tail
        .then(() => this.sweep())
        .then(
          () => this.scheduleSweep(0),
          () => undefined,
        );
    }, delayMs);
    this.sweepTimer.unref();
  }

  /** No write waits, and the log is neither closed nor stopped. */
  private maySweep(): boolean {
    return this.queued === 0 && !this.closed && this.failure === null;
  }

  private cancelSweep(): void {
    if (this.sweepTimer !== null) clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
  }

  /** One batch of covered-entry deletes: an empty request plans exactly those (write-plan.ts). */
  private async sweep(): Promise<void> {
    const layout = this.layout;
    if (!this.maySweep() || layout === null) return;
    const empty: PersistRequest = { seq: 0, hardState: null, entries: [], snapshot: null, sync: false };
    const { ops, layout: next } = planWrite(
      layout,
      empty,
      this.settings.snapshotChunkBytes,
      null,
      this.settings.coveredDeletesPerWrite,
    );
    if (ops.length === 0) return;
    assert(
      ops.every((op) => op.type === 'del'),
      'an empty request planned more than deletes',
    );
    // Unsynced: losing these deletes in a crash only leaves garbage that recovery skips.
    await this.writeBatch(ops, { seq: null, ops: ops.length, sync: false }, 'deleting entries below the snapshot');
    this.layout = next;
    this.sweepCount++;
  }

  /** Writes the request's batch; `done` resolves once the evidence covers it (see `persist`). */
  private async write(request: PersistRequest): Promise<{ readonly done: Promise<void> }> {
    // Requests queued before close() still go out; only a failure stops them.
    this.checkNotFailed();
    const layout = this.layout;
    let ops: readonly WriteOp[];
    let next: StoredLayout;
    try {
      assert(layout !== null, 'persist() before load(): the stored layout is unknown');
      const termAtSnapshot =
        request.snapshot === null ? null : await this.storedTermAt(layout, request.snapshot.meta.index);
      ({ ops, layout: next } = planWrite(
        layout,
        request,
        this.settings.snapshotChunkBytes,
        termAtSnapshot,
        this.settings.coveredDeletesPerWrite,
      ));
    } catch (error) {
      this.failure = error;
      throw error;
    }
    const after = stateAfter(this.hardState, this.lastTerm, request, next);
    const evidence = this.evidence;
    assert(evidence !== null, 'persist() before load(): the evidence files are not open');
    // Only a synced batch may be acknowledged, so only its state is evidence, recorded before the
    // caller hears that the batch is durable. A small batch whose predecessor is synced already
    // is recorded with its redo while LevelDB writes it: a crash can then leave the log at most
    // this one batch behind the record, and load() writes it again from there. Any other synced
    // batch is recorded after it is on disk, never claiming more than the log holds. An unsynced
    // batch waits for the evidence of the synced ones before it, so that requests are still
    // acknowledged in order.
    const generation = this.generation + 1;
    const withRedo = request.sync && this.syncedThrough === this.generation && redoFits(ops);
    if (withRedo) evidence.want({ mark: markAt(generation, after, next), redo: ops });
    await this.writeBatch(
      ops,
      { seq: request.seq, ops: ops.length, sync: request.sync },
      `writing request ${request.seq}`,
    );
    assert(this.generation === generation, 'a batch was written out of order');
    this.layout = next;
    this.batchCount++;
    this.hardState = after.hardState;
    this.lastTerm = after.lastTerm;
    if (request.sync) {
      if (!withRedo) evidence.want({ mark: this.mark(), redo: null });
      this.syncedThrough = generation;
    }
    const done = evidence.durable();
    done.catch(() => undefined);
    return { done };
  }

  /** The log's state as the evidence records it. */
  private mark(): LogMark {
    const layout = this.layout;
    assert(layout !== null, 'no layout before load()');
    return markAt(this.generation, { hardState: this.hardState, lastTerm: this.lastTerm }, layout);
  }

  /**
   * Writes again the batch whose evidence `found.newest` holds with its redo, when the log is
   * exactly one batch behind it: that batch's record was written while LevelDB wrote the batch,
   * and the crash (or a lost tail of LevelDB's write-ahead log) left only the record. True when
   * it did; the comparison that follows checks that the log now holds what the record says.
   */
  private async replayNewest(generationOnDisk: number): Promise<boolean> {
    const newest = this.found.newest;
    if (newest === null || newest.redo === null || newest.mark.generation !== generationOnDisk + 1) return false;
    this.generation = generationOnDisk;
    await this.writeBatch(
      newest.redo,
      { seq: null, ops: newest.redo.length, sync: true },
      `writing batch ${newest.mark.generation} again from ${join(this.dir, newest.name)}`,
    );
    this.replayedGeneration = newest.mark.generation;
    return true;
  }

  /**
   * One LevelDB batch of `ops`. Any failure (including `beforeWrite`'s, the fault injection)
   * stops the log for good, reported as `what` failing.
   */
  private async writeBatch(ops: readonly WriteOp[], info: WriteInfo, what: string): Promise<void> {
    try {
      this.settings.beforeWrite?.(info);
      // A chained batch: for hundreds of small ops, ~7x less CPU than db.batch(array), which
      // clones and re-validates every op in JavaScript.
      const batch = this.db.batch();
      for (const op of ops) {
        if (op.type === 'put') batch.put(op.key, op.value);
        else batch.del(op.key);
      }
      batch.put(generationKey, sealRecord(generationKey, encodeGeneration(this.generation + 1)));
      await batch.write({ sync: info.sync });
      this.generation++;
    } catch (error) {
      this.failure = error;
      throw new StorageError(
        { code: 'WRITE_FAILED', dir: this.dir, cause: error },
        `data directory ${this.dir}: ${what} failed (${describe(error)}); the node stops`,
      );
    }
  }

  /** The term of the stored entry (or snapshot) at `index`; null if nothing readable is stored there. */
  private async storedTermAt(layout: StoredLayout, index: number): Promise<number | null> {
    if (index === layout.snapshotIndex) return layout.snapshotTerm;
    if (index < layout.snapshotIndex || index > layout.lastStored) return null;
    const key = entryKey(index);
    const raw = await this.db.get(key);
    const payload = raw === undefined ? null : openRecord(key, raw);
    const decoded = payload === null ? null : decodeEntry(payload);
    // An unreadable entry is covered by the snapshot about to be stored: treat it as a mismatch.
    return decoded !== null && decoded.ok ? decoded.value.term : null;
  }

  private checkUsable(): void {
    this.checkNotFailed();
    if (this.closed)
      throw new StorageError({ code: 'CLOSED', dir: this.dir }, `data directory ${this.dir}: the log is closed`);
  }

  private checkNotFailed(): void {
    if (this.failure !== null) {
      throw new StorageError(
        { code: 'STOPPED', dir: this.dir, cause: this.failure },
        `data directory ${this.dir}: storage stopped after a failed write (${describe(this.failure)}); restart the node`,
      );
    }
  }
}

function causeCode(error: unknown): unknown {
  if (typeof error !== 'object' || error === null || !('cause' in error)) return undefined;
  const cause: unknown = error.cause;
  return typeof cause === 'object' && cause !== null && 'code' in cause ? cause.code : undefined;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
}

/** The hard state and last term a request leaves, once its batch (planned as `next`) is in. */
function stateAfter(
  hardState: HardState,
  lastTerm: number,
  request: PersistRequest,
  next: StoredLayout,
): { readonly hardState: HardState; readonly lastTerm: number } {
  const lastEntry = request.entries[request.entries.length - 1];
  let term = lastTerm;
  if (lastEntry !== undefined) term = lastEntry.term;
  else if (request.snapshot !== null && next.lastStored === next.snapshotIndex) term = next.snapshotTerm;
  return { hardState: request.hardState ?? hardState, lastTerm: term };
}
