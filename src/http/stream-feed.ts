/**
 * What a watch stream writes, in order. Several events may share one log index (one entry can
 * grant and release), and a resume by `Last-Event-ID: N` replays every event after index N; so an
 * event carries `id: N` only when it is the last of index N that this node has applied, and a
 * stream cut between two events of one index resumes from the index before it: events may repeat
 * after a resume, none is skipped. The events of one entry reach the feed together (the node routes
 * an entry's notifications in one go), and the feed writes on the next microtask, so it always sees
 * an index's events together.
 */
import type { EventStream } from './sse.js';

export interface FeedItem {
  readonly event: string;
  readonly data: unknown;
  /** The log index of a replayable event; absent for live-only events (no id line). */
  readonly index?: number;
  /** Ends the stream after this item, with this reason. */
  readonly end?: string;
}

export class StreamFeed {
  private pending: FeedItem[] = [];
  private stream: EventStream | null = null;
  private scheduled = false;

  add(item: FeedItem): void {
    this.pending.push(item);
    if (this.stream === null || this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  /** The stream is open: what waited is written, and what follows as it comes. */
  attach(stream: EventStream): void {
    this.stream = stream;
    this.flush();
  }

  private flush(): void {
    this.scheduled = false;
    const stream = this.stream;
    if (stream === null) return;
    const items = this.pending;
    this.pending = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item === undefined || !stream.isOpen) return;
      const next = items[i + 1];
      const lastOfIndex = item.index !== undefined && next?.index !== item.index;
      stream.send(item.event, item.data, lastOfIndex ? item.index : undefined);
      if (item.end !== undefined) {
        void stream.close(item.end);
        return;
      }
    }
  }
}
