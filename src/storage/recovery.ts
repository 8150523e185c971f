import type { Level } from 'level';
import type { Entry, HardState, PersistentState, Snapshot } from '../raft/types.js';
import { emptyHardState } from '../raft/types.js';
import { crc32c } from './crc32c.js';
import { StorageError } from './errors.js';
import {
  chunkKey,
  chunkKeyNumber,
  chunkRangeEnd,
  chunkRangeStart,
  entryKey,
  entryKeyIndex,
  entryRangeEnd,
  entryRangeStart,
  generationKey,
  hardStateKey,
  snapshotMetaKey,
} from './keys.js';
import type { StoredSnapshotMeta } from './records.js';
import { decodeEntry, decodeGeneration, decodeHardState, decodeSnapshotMeta, openRecord } from './records.js';
import type { StoredLayout } from './write-plan.js';
import type { Result } from '../util/result.js';

/** A data directory as opened by openLevelLog: UTF-8 keys, Buffer values. */
export type LogDb = Level<string, Buffer>;

/** Entries are read in slices of this many: one native call per slice, bounded memory per call. */
const readSliceEntries = 1024;

/** The verified state for Raft, and the key layout the log needs to plan its next writes. */
export interface Recovered {
  readonly state: PersistentState;
  readonly layout: StoredLayout;
  /** The number of the last batch the log holds (0 for a log written before batches were numbered). */
  readonly generation: number;
}

/**
 * Startup recovery: read and verify everything, or throw CORRUPT_DATA naming the key and the
 * fault. Verified: every record's checksum and shape; the snapshot's chunks against its metadata
 * (count, total size, CRC of the data); entries contiguous from snapshot.index + 1 with each
 * entry's own index equal to its key's; commit ≤ the last stored index.
 */
export async function recover(db: LogDb, dir: string): Promise<Recovered> {
  const corrupt = (key: string, what: string): StorageError =>
    new StorageError({ code: 'CORRUPT_DATA', dir, key }, `data directory ${dir}: key "${key}" ${what}`);

  /** A record that may be absent: its checksum, then its decoding, each refused naming the key. */
  const optionalRecord = async <T>(
    key: string,
    decode: (payload: Uint8Array) => Result<T, string>,
  ): Promise<T | undefined> => {
    const raw = await db.get(key);
    if (raw === undefined) return undefined;
    const payload = openRecord(key, raw);
    if (payload === null) throw corrupt(key, 'fails its CRC-32C checksum');
    const decoded = decode(payload);
    if (!decoded.ok) throw corrupt(key, decoded.error);
    return decoded.value;
  };

  const hardState: HardState = (await optionalRecord(hardStateKey, decodeHardState)) ?? emptyHardState;
  const generation = (await optionalRecord(generationKey, decodeGeneration)) ?? 0;

  const snapshot = await recoverSnapshot(db, dir, corrupt);
  const snapshotIndex = snapshot?.meta.index ?? 0;
  const chunkCount = snapshot === null ? 0 : snapshot.chunkCount;

  const firstKey = (await db.keys({ gte: entryRangeStart, lt: entryRangeEnd, limit: 1 }).all())[0];
  const firstStored =
    firstKey === undefined ? snapshotIndex + 1 : Math.min(entryIndexOf(firstKey, corrupt), snapshotIndex + 1);

  const entries: Entry[] = [];
  let expected = snapshotIndex + 1;
  const iterator = db.iterator({ gt: entryKey(snapshotIndex), lt: entryRangeEnd });
  try {
    for (;;) {
      const slice = await iterator.nextv(readSliceEntries);
      if (slice.length === 0) break;
      for (const [key, value] of slice) {
        const index = entryIndexOf(key, corrupt);
        if (index !== expected) {
          const missing = index === expected + 1 ? `${expected}` : `${expected}..${index - 1}`;
          throw corrupt(
            key,
            `follows a gap in the log: index ${missing} is missing (snapshot covers ..${snapshotIndex})`,
          );
        }
        const payload = openRecord(key, value);
        if (payload === null) throw corrupt(key, `(log index ${index}) fails its CRC-32C checksum`);
        const decoded = decodeEntry(payload);
        if (!decoded.ok) throw corrupt(key, `(log index ${index}) ${decoded.error}`);
        if (decoded.value.index !== index) throw corrupt(key, `holds the entry for index ${decoded.value.index}`);
        entries.push(decoded.value);
        expected++;
      }
    }
  } finally {
    await iterator.close();
  }
  const lastStored = expected - 1;
  if (hardState.commit > lastStored) {
    throw corrupt(hardStateKey, `has commit ${hardState.commit} beyond the last stored index ${lastStored}`);
  }
  const state: PersistentState = {
    hardState,
    snapshot: snapshot === null ? null : { meta: snapshot.meta, data: snapshot.data },
    entries,
  };
  const snapshotTerm = snapshot?.meta.term ?? 0;
  return { state, layout: { snapshotIndex, snapshotTerm, chunkCount, firstStored, lastStored }, generation };
}

function entryIndexOf(key: string, corrupt: (key: string, what: string) => StorageError): number {
  const index = entryKeyIndex(key);
  if (index === null || index === 0) throw corrupt(key, 'is not a valid entry key');
  return index;
}

async function recoverSnapshot(
  db: LogDb,
  dir: string,
  corrupt: (key: string, what: string) => StorageError,
): Promise<(Snapshot & { readonly chunkCount: number }) | null> {
  const rawMeta = await db.get(snapshotMetaKey);
  const chunks = db.iterator({ gte: chunkRangeStart, lt: chunkRangeEnd });
  try {
    if (rawMeta === undefined) {
      const stray = await chunks.next();
      if (stray !== undefined) throw corrupt(stray[0], 'is snapshot data but no snapshot metadata is stored');
      return null;
    }
    const payload = openRecord(snapshotMetaKey, rawMeta);
    if (payload === null) throw corrupt(snapshotMetaKey, 'fails its CRC-32C checksum');
    const decoded = decodeSnapshotMeta(payload);
    if (!decoded.ok) throw corrupt(snapshotMetaKey, decoded.error);
    const meta: StoredSnapshotMeta = decoded.value;
    const pieces: Uint8Array[] = [];
    let bytes = 0;
    for (;;) {
      const next = await chunks.next();
      if (next === undefined) break;
      const [key, value] = next;
      const number = chunkKeyNumber(key);
      if (number !== pieces.length || number >= meta.chunkCount) {
        throw corrupt(
          key,
          `does not match the snapshot metadata (expected chunk ${pieces.length} of ${meta.chunkCount})`,
        );
      }
      const piece = openRecord(key, value);
      if (piece === null) throw corrupt(key, `(snapshot ${meta.index} chunk ${number}) fails its CRC-32C checksum`);
      pieces.push(piece);
      bytes += piece.byteLength;
    }
    if (pieces.length !== meta.chunkCount) {
      throw corrupt(chunkKey(pieces.length), `is missing: the snapshot at ${meta.index} has ${meta.chunkCount} chunks`);
    }
    const data = pieces.length === 1 && pieces[0] !== undefined ? pieces[0] : Buffer.concat(pieces, bytes);
    if (bytes !== meta.dataBytes) {
      throw corrupt(
        snapshotMetaKey,
        `says the snapshot at ${meta.index} has ${meta.dataBytes} bytes, but its chunks hold ${bytes}`,
      );
    }
    if (crc32c(data) !== meta.dataCrc) {
      throw corrupt(snapshotMetaKey, `does not match the snapshot data: the data checksum differs from the metadata`);
    }
    return { meta: { index: meta.index, term: meta.term, conf: meta.conf }, data, chunkCount: meta.chunkCount };
  } finally {
    await chunks.close();
  }
}
