import type { PersistRequest } from '../node/durable-log.js';
import { assert } from '../util/assert.js';
import { crc32c } from './crc32c.js';
import { chunkKey, entryKey, hardStateKey, snapshotMetaKey } from './keys.js';
import { encodeEntry, encodeHardState, encodeSnapshotMeta, sealRecord } from './records.js';

/**
 * What the log knows about the keys on disk, so that a write can be planned without reading.
 * Invariants: (1) snapshotIndex ≤ lastStored; (2) firstStored ≤ snapshotIndex + 1; (3) entry keys
 * exist at most for indexes firstStored..lastStored, and every index snapshotIndex+1..lastStored
 * has one; (4) chunk keys exist exactly for 0..chunkCount-1.
 */
export interface StoredLayout {
  readonly snapshotIndex: number;
  readonly snapshotTerm: number;
  readonly chunkCount: number;
  readonly firstStored: number;
  readonly lastStored: number;
}

export const emptyLayout: StoredLayout = {
  snapshotIndex: 0,
  snapshotTerm: 0,
  chunkCount: 0,
  firstStored: 1,
  lastStored: 0,
};

export type WriteOp =
  | { readonly type: 'put'; readonly key: string; readonly value: Buffer }
  | { readonly type: 'del'; readonly key: string };

export interface WritePlan {
  readonly ops: readonly WriteOp[];
  /** The layout once `ops` are durable; adopt it only after the batch succeeded. */
  readonly layout: StoredLayout;
}

/**
 * Entries a snapshot covers are deleted at most this many per batch, oldest first, and every
 * later batch carries the next ones. Recovery never reads an entry at or below the snapshot, so
 * they are garbage the moment the snapshot is durable; deleting 100,000 of them in the snapshot's
 * own batch held every commit behind it for the length of that write (a latency spike each
 * snapshot), while a few hundred per batch cost each write little.
 */
export const defaultCoveredDeletesPerWrite = 512;

/**
 * Turn one request into one batch, in the order snapshot → entries → hard state → covered
 * entries. Deletes cover the stale tail after the new entries at once, and the entries the stored
 * snapshot covers up to `coveredDeletesMax` per batch (see above), so the batch leaves the
 * invariants above true. A snapshot keeps the entries after it
 * only when the log holds its last entry, same index and term (Raft §7: "if existing log entry
 * has same index and term as snapshot's last included entry, retain log entries following it;
 * otherwise discard the entire log"); `termAtSnapshot` is the stored term at the snapshot's index
 * (null if none is stored there). A request that breaks the invariants (a gap, an older snapshot)
 * is a caller bug: assertion, and the node stops.
 */
export function planWrite(
  layout: StoredLayout,
  request: PersistRequest,
  chunkBytes: number,
  termAtSnapshot: number | null,
  coveredDeletesMax: number = defaultCoveredDeletesPerWrite,
): WritePlan {
  assert(Number.isSafeInteger(chunkBytes) && chunkBytes > 0, `invalid snapshot chunk size ${chunkBytes}`);
  assert(
    Number.isSafeInteger(coveredDeletesMax) && coveredDeletesMax > 0,
    `invalid covered-deletes budget ${coveredDeletesMax}`,
  );
  const ops: WriteOp[] = [];
  let { snapshotIndex, snapshotTerm, chunkCount, firstStored, lastStored } = layout;
  const deleteEntries = (from: number, through: number): void => {
    for (let index = from; index <= through; index++) ops.push({ type: 'del', key: entryKey(index) });
  };

  if (request.snapshot !== null) {
    const { meta, data } = request.snapshot;
    assert(
      meta.index >= snapshotIndex,
      () => `snapshot at ${meta.index} is older than the stored one at ${snapshotIndex}`,
    );
    const count = Math.ceil(data.byteLength / chunkBytes);
    for (let chunk = 0; chunk < count; chunk++) {
      const key = chunkKey(chunk);
      ops.push({
        type: 'put',
        key,
        value: sealRecord(key, data.subarray(chunk * chunkBytes, (chunk + 1) * chunkBytes)),
      });
    }
    for (let chunk = count; chunk < chunkCount; chunk++) ops.push({ type: 'del', key: chunkKey(chunk) });
    const stored = { ...meta, dataBytes: data.byteLength, chunkCount: count, dataCrc: crc32c(data) };
    ops.push({ type: 'put', key: snapshotMetaKey, value: sealRecord(snapshotMetaKey, encodeSnapshotMeta(stored)) });
    const retainTail = termAtSnapshot === meta.term;
    if (!retainTail) {
      // The whole log goes at once: entries past the snapshot must never be loaded after it.
      deleteEntries(firstStored, lastStored);
      firstStored = Math.max(firstStored, meta.index + 1);
    }
    snapshotIndex = meta.index;
    snapshotTerm = meta.term;
    chunkCount = count;
    lastStored = retainTail ? Math.max(lastStored, meta.index) : meta.index;
  }

  const head = request.entries[0];
  if (head !== undefined) {
    assert(
      head.index > snapshotIndex && head.index <= lastStored + 1,
      () => `entries from ${head.index} do not fit a log holding ${snapshotIndex + 1}..${lastStored}`,
    );
    let expected = head.index;
    for (const entry of request.entries) {
      assert(
        entry.index === expected,
        () => `entry ${entry.index} where ${expected} was expected: a gap in request ${request.seq}`,
      );
      const key = entryKey(entry.index);
      ops.push({ type: 'put', key, value: sealRecord(key, encodeEntry(entry)) });
      expected++;
    }
    deleteEntries(expected, lastStored);
    lastStored = expected - 1;
  }

  if (request.hardState !== null) {
    ops.push({ type: 'put', key: hardStateKey, value: sealRecord(hardStateKey, encodeHardState(request.hardState)) });
  }

  // Every entry at or below the snapshot is covered: the snapshot alone says what may go.
  const coveredThrough = Math.min(snapshotIndex, firstStored + coveredDeletesMax - 1);
  deleteEntries(firstStored, coveredThrough);
  firstStored = Math.max(firstStored, coveredThrough + 1);

  return { ops, layout: { snapshotIndex, snapshotTerm, chunkCount, firstStored, lastStored } };
}
