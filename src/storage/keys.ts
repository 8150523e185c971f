/**
 * The key layout of a data directory (one LevelDB). Keys are UTF-8 strings; numbers inside them are
 * zero-padded decimal of fixed width, so LevelDB's byte order is numeric order and a log range is
 * one contiguous key range (cheap range reads, truncation and compaction).
 *
 *   identity                  cluster id, node id, format version (written once, on first open)
 *   hardstate                 term, vote, commit
 *   generation                how many batches the log has written (one more in every batch)
 *   snapshot                  metadata of the one stored snapshot (index, term, conf, size, crc)
 *   snapchunk:<8 digits>      snapshot data, chunk n (a snapshot may be tens of MB)
 *   entry:<16 digits>         the log entry at that index (16 digits hold any safe integer)
 */

export const identityKey = 'identity';
export const hardStateKey = 'hardstate';
export const snapshotMetaKey = 'snapshot';
/**
 * Rewritten by every batch with the batch's number: the evidence files (evidence.ts) record the
 * number of the last synced batch, so a log that lost batches shows a lower one.
 */
export const generationKey = 'generation';

const entryPrefix = 'entry:';
const entryDigits = 16;
const chunkPrefix = 'snapchunk:';
const chunkDigits = 8;

/** Bounds that enclose every entry key (`entryRangeEnd` sorts right after the last one). */
export const entryRangeStart = entryPrefix;
export const entryRangeEnd = 'entry;';
export const chunkRangeStart = chunkPrefix;
export const chunkRangeEnd = 'snapchunk;';

/** The key of the entry at `index` (1-based; fixed width, so keys sort by index). */
export function entryKey(index: number): string {
  return entryPrefix + String(index).padStart(entryDigits, '0');
}

/** The key of snapshot data chunk `chunk` (0-based). */
export function chunkKey(chunk: number): string {
  return chunkPrefix + String(chunk).padStart(chunkDigits, '0');
}

/** The index in an entry key, or null if the key is not a well-formed entry key. */
export function entryKeyIndex(key: string): number | null {
  return parseFixed(key, entryPrefix, entryDigits);
}

/** The chunk number in a chunk key, or null if the key is not a well-formed chunk key. */
export function chunkKeyNumber(key: string): number | null {
  return parseFixed(key, chunkPrefix, chunkDigits);
}

function parseFixed(key: string, prefix: string, digits: number): number | null {
  if (key.length !== prefix.length + digits || !key.startsWith(prefix)) return null;
  const text = key.slice(prefix.length);
  if (!/^[0-9]+$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}
