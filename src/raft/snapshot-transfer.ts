import type { Message } from './messages.js';
import type { Snapshot, SnapshotMeta } from './types.js';

type InstallSnapshot = Extract<Message, { type: 'InstallSnapshot' }>;

/** The chunk of `snapshot` that starts at `offset`: at most `chunkBytes` bytes (a view, no copy). */
export function snapshotChunk(
  snapshot: Snapshot,
  offset: number,
  chunkBytes: number,
): { data: Uint8Array; done: boolean } {
  const total = snapshot.data.byteLength;
  const end = Math.min(total, offset + Math.max(1, chunkBytes));
  return { data: snapshot.data.subarray(offset, end), done: end >= total };
}

export type ChunkOutcome =
  { readonly kind: 'ack'; readonly nextOffset: number } | { readonly kind: 'complete'; readonly snapshot: Snapshot };

/**
 * The receiving side of a chunked InstallSnapshot. Chunks must arrive in order; a chunk at offset 0
 * (re)starts a transfer, and any gap or unknown transfer is answered with the offset expected
 * (0 when there is nothing to continue), so the sender resumes from there.
 */
export class SnapshotReceiver {
  private meta: SnapshotMeta | null = null;
  private totalBytes = 0;
  private received = 0;
  private parts: Uint8Array[] = [];

  accept(msg: InstallSnapshot): ChunkOutcome {
    if (msg.offset === 0) {
      this.meta = msg.meta;
      this.totalBytes = msg.totalBytes;
      this.received = 0;
      this.parts = [];
    } else if (
      this.meta === null ||
      this.meta.index !== msg.meta.index ||
      this.meta.term !== msg.meta.term ||
      this.totalBytes !== msg.totalBytes
    ) {
      return { kind: 'ack', nextOffset: 0 };
    } else if (msg.offset !== this.received) {
      return { kind: 'ack', nextOffset: this.received };
    }
    this.parts.push(msg.data);
    this.received += msg.data.byteLength;
    if (!msg.done || this.received < this.totalBytes) return { kind: 'ack', nextOffset: this.received };
    const data = new Uint8Array(this.totalBytes);
    let at = 0;
    for (const part of this.parts) {
      data.set(part, at);
      at += part.byteLength;
    }
    const snapshot: Snapshot = { meta: msg.meta, data };
    this.reset();
    return { kind: 'complete', snapshot };
  }

  reset(): void {
    this.meta = null;
    this.totalBytes = 0;
    this.received = 0;
    this.parts = [];
  }
}
