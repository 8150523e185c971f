import type { HostReply } from '../node/host-reply.js';
import type { Rng } from '../util/rng.js';
import { Violation } from './checkers/violation.js';

export type OperationKind = 'write' | 'read';

export interface Operation {
  readonly requestId: string;
  readonly node: string;
  readonly kind: OperationKind;
  readonly payload: Uint8Array;
}

export type Outcome = 'ok' | 'notLeader' | 'dropped' | 'unknown' | 'lost';

export interface HistoryRecord {
  readonly requestId: string;
  readonly node: string;
  readonly kind: OperationKind;
  readonly invokedMs: number;
  completedMs: number | null;
  outcome: Outcome | null;
  /** For an acknowledged write: the index it committed at. */
  index: number | null;
  /** For a read: the highest index of a write acknowledged before the read was sent. */
  readonly floorIndex: number;
}

export interface WorkloadStats {
  invoked: number;
  ok: number;
  notLeader: number;
  dropped: number;
  unknown: number;
  lost: number;
}

/**
 * Simulated clients. A write goes to the node the clients last heard was leader (most of the time)
 * or to a random node; a read goes to any node (every node serves linearizable reads, a follower
 * through its leader), and each is recorded as an invocation and, later, a completion with
 * its outcome. A read is linearizable: its read point is at or after every write acknowledged
 * before it was sent (Raft dissertation §6.4), else `complete` throws a Violation. Clients learn
 * the leader from acknowledged writes and NOT_LEADER hints, not from reads (a deposed leader that
 * still answers reads must not keep them), and give up on a node whose oldest write has waited
 * `patienceMs` without an answer (it may be cut off): the next requests go to random nodes. A crashed node's open requests complete as `lost` (the connection dropped).
 */
export class Workload {
  private readonly open = new Map<string, HistoryRecord>();
  private counter = 0;
  private leaderHint: string | null = null;
  readonly stats: WorkloadStats = { invoked: 0, ok: 0, notLeader: 0, dropped: 0, unknown: 0, lost: 0 };
  /** Acknowledged writes: requestId → committed index (what durability is checked against). */
  readonly acknowledged: { readonly requestId: string; readonly index: number }[] = [];
  private acknowledgedIndexMax = 0;
  nextAtMs: number;

  constructor(
    private readonly rng: Rng,
    private readonly nodes: readonly string[],
    private readonly meanGapMs: number,
    private readonly payload: (rng: Rng) => Uint8Array = randomPayload,
    private readonly openPerNodeMax = 256,
    private readonly patienceMs = 150,
  ) {
    this.nextAtMs = this.gap();
  }

  /** The next request, due now; schedules the one after. Null when that node has too many open. */
  next(nowMs: number): Operation | null {
    this.nextAtMs = nowMs + this.gap();
    if (this.leaderHint !== null && this.oldestWriteAt(this.leaderHint) < nowMs - this.patienceMs)
      this.leaderHint = null;
    const kind: OperationKind = this.rng.chance(1, 5) ? 'read' : 'write';
    const node =
      kind === 'write' && this.leaderHint !== null && this.rng.chance(4, 5)
        ? this.leaderHint
        : this.rng.pick(this.nodes);
    let openAtNode = 0;
    for (const r of this.open.values()) if (r.node === node) openAtNode += 1;
    if (openAtNode >= this.openPerNodeMax) return null;
    this.counter += 1;
    const requestId = `c${this.counter}`;
    const payload = this.payload(this.rng);
    const floorIndex = kind === 'read' ? this.acknowledgedIndexMax : 0;
    this.open.set(requestId, {
      requestId,
      node,
      kind,
      invokedMs: nowMs,
      completedMs: null,
      outcome: null,
      index: null,
      floorIndex,
    });
    this.stats.invoked += 1;
    return { requestId, node, kind, payload };
  }

  complete(nowMs: number, reply: HostReply<unknown>): void {
    const record = this.open.get(reply.requestId);
    if (record === undefined) return;
    this.open.delete(reply.requestId);
    record.completedMs = nowMs;
    switch (reply.code) {
      case 'OK':
        record.outcome = 'ok';
        this.stats.ok += 1;
        if (reply.kind === 'write') {
          record.index = reply.index;
          this.acknowledged.push({ requestId: reply.requestId, index: reply.index });
          this.acknowledgedIndexMax = Math.max(this.acknowledgedIndexMax, reply.index);
          this.leaderHint = record.node;
        } else if (reply.kind === 'read' && reply.index < record.floorIndex) {
          throw new Violation(
            'linearizable-read',
            `read ${reply.requestId} at ${record.node} was answered at index ${reply.index}, behind write index ${record.floorIndex} acknowledged before it was sent`,
          );
        }
        break;
      case 'NOT_LEADER':
        record.outcome = 'notLeader';
        this.stats.notLeader += 1;
        this.leaderHint = reply.leader;
        break;
      case 'DROPPED':
        record.outcome = 'dropped';
        this.stats.dropped += 1;
        break;
      case 'UNKNOWN':
        record.outcome = 'unknown';
        this.stats.unknown += 1;
        break;
    }
  }

  /** The node crashed or stopped: its open requests will never be answered. */
  nodeLost(nowMs: number, node: string): void {
    for (const [id, record] of this.open) {
      if (record.node !== node) continue;
      this.open.delete(id);
      record.completedMs = nowMs;
      record.outcome = 'lost';
      this.stats.lost += 1;
    }
    if (this.leaderHint === node) this.leaderHint = null;
  }

  get openCount(): number {
    return this.open.size;
  }

  /** Open requests, oldest first (for liveness failure messages). */
  openRequests(): HistoryRecord[] {
    return [...this.open.values()];
  }

  /** When the oldest write still open at `node` was sent (Infinity: none). */
  private oldestWriteAt(node: string): number {
    let oldest = Number.POSITIVE_INFINITY;
    for (const r of this.open.values())
      if (r.node === node && r.kind === 'write' && r.invokedMs < oldest) oldest = r.invokedMs;
    return oldest;
  }

  private gap(): number {
    return Math.max(1, Math.ceil(this.rng.exponential(this.meanGapMs)));
  }
}

function randomPayload(rng: Rng): Uint8Array {
  const payload = new Uint8Array(rng.int(1, 32));
  for (let i = 0; i < payload.length; i++) payload[i] = rng.int(0, 255);
  return payload;
}
