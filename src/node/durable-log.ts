import type { Entry, HardState, PersistentState, Snapshot } from '../raft/types.js';

/**
 * One atomic write: everything a Ready (or a host-taken snapshot) asks to persist. Storage applies
 * it as a single batch, in order with the previous ones, fsynced when `sync` is set.
 */
export interface PersistRequest {
  readonly seq: number;
  readonly hardState: HardState | null;
  /** Replace any stored entries from `entries[0].index` on with these. */
  readonly entries: readonly Entry[];
  /**
   * A snapshot to store; it is all a writer says about compaction. Entries at or below its index
   * are garbage from then on (recovery never reads them), and storage drops them by itself over
   * this and later writes. The entries after it are kept only if the stored log holds its last
   * entry with the same term; otherwise the whole log is dropped at once (Raft §7).
   */
  readonly snapshot: Snapshot | null;
  readonly sync: boolean;
}

/** The async, durable side of a node's storage; only the driver (or the simulator) touches it. */
export interface DurableLog {
  /** Load and verify everything; throws a typed corruption error naming what is wrong and where. Call before persist(). */
  load(): Promise<PersistentState>;
  /**
   * Resolves once the request is durable. A log may call `onWritten` earlier, when the batch is
   * in the log and only its confirmation (LevelLog's evidence) is still being written: a group
   * committer may then hand it the next batch, which the log writes after this one.
   */
  persist(request: PersistRequest, onWritten?: () => void): Promise<void>;
  close(): Promise<void>;
}
