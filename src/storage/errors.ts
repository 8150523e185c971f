import type { LostWrites } from '../node/log-mark.js';

/**
 * Why the storage layer refuses to go on. Every code names an operator-visible condition; the
 * message always names the data directory and, where one applies, the key or log index.
 *
 * - CORRUPT_DATA: a record fails its checksum, does not decode, or the log has a gap / does not
 *   match its snapshot metadata; or LevelDB itself finds its files damaged (a table file missing).
 *   The node must not start from this directory.
 * - LOST_WRITES: the log is older than what the node had made durable and acknowledged, as its
 *   evidence files record it (evidence.ts): entries, a term or a vote went backwards. A node that
 *   forgot them could vote twice in one term or deny a committed entry, so it must not start.
 * - IDENTITY_MISMATCH: the directory belongs to another cluster id or node id.
 * - FORMAT: the directory was written by an unknown storage format version, or holds data
 *   without an identity record (not a raftlock directory).
 * - DATA_DIR_LOCKED: another process (or another handle in this one) has the directory open.
 * - OPEN_FAILED: LevelDB could not open the directory for another reason (permissions, I/O).
 * - WRITE_FAILED: a write or fsync failed; the log is stopped (fail-stop).
 * - STOPPED: a call after a failed write; nothing is read or written any more.
 * - CLOSED: a call after close().
 */
export type StorageErrorCode =
  | 'CORRUPT_DATA'
  | 'LOST_WRITES'
  | 'IDENTITY_MISMATCH'
  | 'FORMAT'
  | 'DATA_DIR_LOCKED'
  | 'OPEN_FAILED'
  | 'WRITE_FAILED'
  | 'STOPPED'
  | 'CLOSED';

export interface StorageErrorDetails {
  readonly code: StorageErrorCode;
  readonly dir: string;
  /** The stored key the problem was found at, when there is one. */
  readonly key?: string;
  readonly cause?: unknown;
}

/** An environmental failure of a data directory: caught at the top, printed, and the node stops. */
export class StorageError extends Error {
  override readonly name = 'StorageError';
  readonly code: StorageErrorCode;
  readonly dir: string;
  readonly key: string | null;

  constructor(details: StorageErrorDetails, message: string) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = details.code;
    this.dir = details.dir;
    this.key = details.key ?? null;
  }
}

/** Type guard for the top-level handler that prints a storage refusal and exits. */
export function isStorageError(value: unknown): value is StorageError {
  return value instanceof StorageError;
}

/** LOST_WRITES, with the comparison that found it. */
export class LostWritesError extends StorageError {
  readonly lostWrites: LostWrites;

  constructor(dir: string, lostWrites: LostWrites, message: string) {
    super({ code: 'LOST_WRITES', dir }, message);
    this.lostWrites = lostWrites;
  }
}

/**
 * What an operator does with a directory whose data cannot be trusted: the cluster holds a copy
 * of everything, so the node rejoins empty, through learner, never as a wiped voter (see
 * docs/storage.md, "Recovering a node whose directory is refused").
 */
export function recoverySteps(dir: string, nodeId: string): string {
  return (
    `To recover: keep the directory aside (mv ${dir} ${dir}.damaged), remove the node from the cluster ` +
    `(raftlock members remove ${nodeId}), add it back (raftlock members add ${nodeId}), start it with an empty ` +
    `directory and promote it once it has caught up (raftlock members promote ${nodeId}); or restore the directory ` +
    `from a copy that holds these writes. See docs/storage.md, "Recovering a node whose directory is refused".`
  );
}
