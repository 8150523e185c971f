import type { Entry, EntryId, LogIndex } from '../raft/types.js';
import { assert } from '../util/assert.js';
import type { HostReply, RequestId } from './host-reply.js';

export type ProposalKind = 'write' | 'config';

interface Pending {
  readonly requestId: RequestId;
  readonly term: number;
  readonly kind: ProposalKind;
}

/**
 * Proposals waiting for their entry to apply, keyed by log index (and checked against the term
 * the entry was proposed in). An entry at the same index with another term means ours was
 * overwritten by a later leader: its outcome is then unknown to this node, never "failed", because
 * the client cannot tell whether another copy committed.
 */
export class Proposals {
  private readonly byIndex = new Map<number, Pending>();

  get size(): number {
    return this.byIndex.size;
  }

  add(requestId: RequestId, id: EntryId, kind: ProposalKind): void {
    assert(!this.byIndex.has(id.index), () => `two proposals at index ${id.index}`);
    this.byIndex.set(id.index, { requestId, term: id.term, kind });
  }

  /** Entries written to the log: any pending proposal they replace is answered UNKNOWN. */
  onAppended<R>(entries: readonly Entry[], out: HostReply<R>[]): void {
    for (const entry of entries) {
      const pending = this.byIndex.get(entry.index);
      if (pending !== undefined && pending.term !== entry.term) {
        this.byIndex.delete(entry.index);
        out.push({ requestId: pending.requestId, code: 'UNKNOWN', reason: 'entry overwritten by a new leader' });
      }
    }
  }

  /**
   * The entry at `index` applied. Returns the waiting proposal if it is this very entry; if a
   * different entry took the index, the proposal is answered UNKNOWN and undefined is returned.
   */
  take<R>(
    index: LogIndex,
    entryTerm: number,
    out: HostReply<R>[],
  ): { requestId: RequestId; kind: ProposalKind } | undefined {
    const pending = this.byIndex.get(index);
    if (pending === undefined) return undefined;
    this.byIndex.delete(index);
    if (pending.term !== entryTerm) {
      out.push({ requestId: pending.requestId, code: 'UNKNOWN', reason: 'entry overwritten by a new leader' });
      return undefined;
    }
    return { requestId: pending.requestId, kind: pending.kind };
  }

  /** Leadership lost (or the node stops): every waiting proposal's outcome is unknown. */
  failAll<R>(reason: string, out: HostReply<R>[]): void {
    const indexes = [...this.byIndex.keys()].sort((a, b) => a - b);
    for (const index of indexes) {
      const pending = this.byIndex.get(index);
      if (pending !== undefined) out.push({ requestId: pending.requestId, code: 'UNKNOWN', reason });
    }
    this.byIndex.clear();
  }

  /** Applied through a snapshot: those indexes will never be applied one by one here. */
  failThrough<R>(index: LogIndex, out: HostReply<R>[]): void {
    const indexes = [...this.byIndex.keys()].filter((i) => i <= index).sort((a, b) => a - b);
    for (const i of indexes) {
      const pending = this.byIndex.get(i);
      this.byIndex.delete(i);
      if (pending !== undefined)
        out.push({ requestId: pending.requestId, code: 'UNKNOWN', reason: 'applied through a snapshot' });
    }
  }
}
