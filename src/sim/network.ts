import type { NodeId } from '../raft/types.js';
import { assert } from '../util/assert.js';
import type { Rng } from '../util/rng.js';
import { TimeHeap } from './heap.js';

/** Anything with a sender and a recipient. */
export interface Addressed {
  readonly from: NodeId;
  readonly to: NodeId;
}

export interface NetworkKnobs {
  /** Every packet takes at least this long. */
  readonly delayMinMs: number;
  /** Plus an exponentially distributed extra delay with this mean: reordering follows. */
  readonly delayMeanMs: number;
  /** Probability that a packet is lost. */
  readonly lossRate: number;
  /** Probability that a packet is delivered twice (each copy with its own delay). */
  readonly duplicateRate: number;
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  lost: number;
  blocked: number;
  duplicated: number;
}

const pathKey = (from: NodeId, to: NodeId): string => `${from}>${to}`;

/**
 * The simulated network: every packet gets a delivery time and waits in one queue ordered by
 * (deliverAt, sequence). Links can be cut one way (asymmetric partitions) or clogged (held until
 * a time, then released in order). A packet on a link that is cut when it would arrive is lost,
 * as with a connection reset.
 */
export class SimNetwork<T extends Addressed> {
  private readonly queue = new TimeHeap<T>();
  private readonly cut = new Set<string>();
  private readonly cloggedUntil = new Map<string, number>();
  readonly stats: NetworkStats = { sent: 0, delivered: 0, lost: 0, blocked: 0, duplicated: 0 };

  constructor(
    private readonly rng: Rng,
    private knobs: NetworkKnobs,
  ) {
    assert(knobs.delayMinMs >= 0 && knobs.delayMeanMs >= 0, 'network delays must not be negative');
  }

  setKnobs(knobs: NetworkKnobs): void {
    this.knobs = knobs;
  }

  send(packet: T, nowMs: number): void {
    this.stats.sent += 1;
    if (this.isCut(packet.from, packet.to)) {
      this.stats.blocked += 1;
      return;
    }
    if (this.rng.bernoulli(this.knobs.lossRate)) {
      this.stats.lost += 1;
      return;
    }
    this.enqueue(packet, nowMs);
    if (this.rng.bernoulli(this.knobs.duplicateRate)) {
      this.stats.duplicated += 1;
      this.enqueue(packet, nowMs);
    }
  }

  /** When the next packet is due, or null when nothing is in flight. */
  nextAt(): number | null {
    return this.queue.peekAt();
  }

  /** The next packet due at or before `nowMs` that survives the links as they are now. */
  popDue(nowMs: number): T | undefined {
    for (;;) {
      const at = this.queue.peekAt();
      if (at === null || at > nowMs) return undefined;
      const item = this.queue.pop();
      if (item === undefined) return undefined;
      if (this.isCut(item.value.from, item.value.to)) {
        this.stats.blocked += 1;
        continue;
      }
      this.stats.delivered += 1;
      return item.value;
    }
  }

  get inFlight(): number {
    return this.queue.size;
  }

  // ---- link state ----------------------------------------------------------------------------

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.size > 0 && this.cut.has(pathKey(from, to));
  }

  /** Cut one direction only (an asymmetric partition). */
  cutOneWay(from: NodeId, to: NodeId): void {
    if (from !== to) this.cut.add(pathKey(from, to));
  }

  /** Only nodes in the same group can talk; a node in no group is isolated. */
  partition(nodes: readonly NodeId[], groups: readonly (readonly NodeId[])[]): void {
    const groupOf = new Map<NodeId, number>();
    groups.forEach((group, g) => group.forEach((node) => groupOf.set(node, g)));
    for (const a of nodes) {
      for (const b of nodes) {
        if (a === b) continue;
        const ga = groupOf.get(a);
        if (ga === undefined || ga !== groupOf.get(b)) this.cut.add(pathKey(a, b));
      }
    }
  }

  /** Two halves that cannot talk, except through `bridge`, which sees both. */
  bridge(nodes: readonly NodeId[], bridge: NodeId): void {
    const others = nodes.filter((n) => n !== bridge);
    const half = Math.floor(others.length / 2);
    const left = others.slice(0, half);
    const right = others.slice(half);
    for (const a of left) {
      for (const b of right) {
        this.cutOneWay(a, b);
        this.cutOneWay(b, a);
      }
    }
  }

  isolate(nodes: readonly NodeId[], node: NodeId): void {
    for (const other of nodes) {
      this.cutOneWay(node, other);
      this.cutOneWay(other, node);
    }
  }

  /** Hold every packet on the link until `untilMs`; they are then delivered in order. */
  clog(from: NodeId, to: NodeId, untilMs: number): void {
    this.cloggedUntil.set(pathKey(from, to), untilMs);
  }

  /** Repair every link (packets already lost stay lost). */
  heal(): void {
    this.cut.clear();
    this.cloggedUntil.clear();
  }

  get cutLinks(): number {
    return this.cut.size;
  }

  private enqueue(packet: T, nowMs: number): void {
    let at = nowMs + this.knobs.delayMinMs + this.rng.exponential(this.knobs.delayMeanMs);
    const clog = this.cloggedUntil.size > 0 ? this.cloggedUntil.get(pathKey(packet.from, packet.to)) : undefined;
    if (clog !== undefined && clog > at) at = clog;
    this.queue.push(Math.ceil(at), packet);
  }
}
