/**
 * Backups a node has encoded and is handing out in chunks (`raftlock backup`): each file is kept
 * whole until its last chunk was fetched or it expires, so every chunk comes from the same state.
 */
export interface BackupChunk {
  readonly backup: number;
  readonly offset: number;
  readonly total: number;
  readonly bytes: Uint8Array;
}

/** A backup not fetched for this long is dropped (a client that went away). */
export const backupIdleMs = 60_000;
/** At most this many backups are held at once; the oldest goes first. */
const backupsHeldMax = 4;

export class BackupStore {
  private readonly held = new Map<number, { readonly bytes: Uint8Array; lastUsedMs: number }>();
  private nextId = 1;

  constructor(private readonly chunkBytes: number) {}

  /** Keep `file` and answer its first chunk. */
  add(file: Uint8Array, nowMs: number): BackupChunk {
    this.expire(nowMs);
    if (this.held.size >= backupsHeldMax) {
      const oldest = this.held.keys().next();
      if (oldest.done !== true) this.held.delete(oldest.value);
    }
    const id = this.nextId++;
    this.held.set(id, { bytes: file, lastUsedMs: nowMs });
    return this.chunk(id, 0, nowMs) as BackupChunk;
  }

  /** The chunk at `offset` of backup `id`, or null when it is unknown, expired or out of range. */
  chunk(id: number, offset: number, nowMs: number): BackupChunk | null {
    this.expire(nowMs);
    const entry = this.held.get(id);
    if (entry === undefined || offset > entry.bytes.byteLength) return null;
    entry.lastUsedMs = nowMs;
    const end = Math.min(entry.bytes.byteLength, offset + this.chunkBytes);
    if (end === entry.bytes.byteLength) this.held.delete(id);
    return { backup: id, offset, total: entry.bytes.byteLength, bytes: entry.bytes.subarray(offset, end) };
  }

  private expire(nowMs: number): void {
    for (const [id, entry] of this.held) if (nowMs - entry.lastUsedMs > backupIdleMs) this.held.delete(id);
  }
}
