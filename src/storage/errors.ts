/**
 * Why the storage layer refuses to go on. Every code names an operator-visible condition; the
 * message always names the data directory and, where one applies, the key or log index.
 *
 * - CORRUPT_DATA: a record fails its checksum, does not decode, or the log has a gap / does not
 *   match its snapshot metadata. The node must not start from this directory.
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
