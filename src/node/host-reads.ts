import type { ReadContext } from '../raft/messages.js';
import type { ReadState } from '../raft/ready.js';
import type { LogIndex } from '../raft/types.js';
import type { HostReply, RequestId } from './host-reply.js';

interface WaitingRead {
  readonly requestId: RequestId;
  readonly startedMs: number;
}

/**
 * Linearizable reads (ReadIndex, Raft dissertation §6.4): a read waits for its read point from the
 * core, then for the state machine to apply through it. Reads carry no side effects, so failing one
 * (leader change, timeout) is always safe: the client simply retries.
 */
export class Reads {
  private readonly awaitingPoint = new Map<ReadContext, WaitingRead>();
  /** Read points received, in arrival order; released once applied reaches them. */
  private awaitingApply: { readonly requestId: RequestId; readonly index: LogIndex }[] = [];

  get size(): number {
    return this.awaitingPoint.size + this.awaitingApply.length;
  }

  add(context: ReadContext, requestId: RequestId, nowMs: number): void {
    this.awaitingPoint.set(context, { requestId, startedMs: nowMs });
  }

  onReadStates(states: readonly ReadState[]): void {
    for (const state of states) {
      const waiting = this.awaitingPoint.get(state.context);
      if (waiting === undefined) continue;
      this.awaitingPoint.delete(state.context);
      this.awaitingApply.push({ requestId: waiting.requestId, index: state.index });
    }
  }

  release<R>(applied: LogIndex, out: HostReply<R>[]): void {
    if (this.awaitingApply.length === 0) return;
    const still: { readonly requestId: RequestId; readonly index: LogIndex }[] = [];
    for (const read of this.awaitingApply) {
      if (read.index <= applied) out.push({ requestId: read.requestId, code: 'OK', kind: 'read', index: read.index });
      else still.push(read);
    }
    this.awaitingApply = still;
  }

  /** Reads whose read point never came (lost ReadIndex, dead leader) time out as DROPPED. */
  expire<R>(nowMs: number, timeoutMs: number, out: HostReply<R>[]): void {
    for (const [context, read] of this.awaitingPoint) {
      if (nowMs - read.startedMs >= timeoutMs) {
        this.awaitingPoint.delete(context);
        out.push({ requestId: read.requestId, code: 'DROPPED', reason: 'read timed out' });
      }
    }
  }

  failAll<R>(reason: string, out: HostReply<R>[]): void {
    for (const read of this.awaitingPoint.values()) out.push({ requestId: read.requestId, code: 'DROPPED', reason });
    for (const read of this.awaitingApply) out.push({ requestId: read.requestId, code: 'DROPPED', reason });
    this.awaitingPoint.clear();
    this.awaitingApply = [];
  }
}
