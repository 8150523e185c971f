import { assert } from '../util/assert.js';

export interface InboundBudgetLimits {
  /** Connections not yet authenticated, at once, from everyone. */
  readonly total: number;
  /** ... from one source address. */
  readonly perSource: number;
}

/** Whether a new connection may stay, and which older one (if any) must go to make room for it. */
export type Admission<T> =
  | { readonly admitted: true; readonly evict: T | null; readonly why: string | null }
  | { readonly admitted: false; readonly why: string };

/**
 * The budget of connections that have not authenticated yet (TLS handshake and Hello), kept per
 * source address in arrival order. Authenticated connections leave it (`remove`): a stranger can
 * only ever fill this budget, never crowd out the links of real peers.
 *
 * Within the budget, newer attempts win over older ones, so holding connections open gains a
 * stranger nothing:
 * - a source at its `perSource` bound loses its own oldest connection to its new one. A peer
 *   behind the same address as a stranger (one host, a NAT) still gets through: its handshake
 *   takes milliseconds, and the stranger would have to open connections faster than that;
 * - when the `total` is reached, the new connection takes the place of the oldest connection of
 *   the source holding the most, if that source holds more than the newcomer's; otherwise (the
 *   newcomer's source is among the largest holders already) the newcomer is refused. So a
 *   stranger with many addresses can fill the budget only up to an equal share with everyone
 *   else, and a peer's single attempt always finds room.
 *
 * Invariants: every tracked connection is counted under exactly one source; counts never exceed
 * the limits after an admission.
 */
export class InboundBudget<T> {
  private readonly bySource = new Map<string, T[]>();
  private readonly sourceOf = new Map<T, string>();

  constructor(private readonly limits: InboundBudgetLimits) {
    const { total, perSource } = limits;
    assert(Number.isSafeInteger(total) && total >= 1, () => `inbound connection limit must be ≥ 1, got ${total}`);
    assert(Number.isSafeInteger(perSource) && perSource >= 1, () => `per-source limit must be ≥ 1, got ${perSource}`);
  }

  get size(): number {
    return this.sourceOf.size;
  }

  /** Unauthenticated connections from `source` now. */
  countOf(source: string): number {
    return this.bySource.get(source)?.length ?? 0;
  }

  /**
   * Decides on `connection` from `source`, and tracks it if admitted. The caller closes the
   * evicted connection (which `admit` already stopped tracking) or the refused newcomer.
   */
  admit(connection: T, source: string): Admission<T> {
    assert(!this.sourceOf.has(connection), 'connection admitted twice');
    const own = this.countOf(source);
    let evict: T | null = null;
    let why: string | null = null;
    if (own >= this.limits.perSource) {
      evict = this.oldestOf(source);
      why = `more than ${this.limits.perSource} unauthenticated connections from ${source}; the oldest gives way`;
    } else if (this.size >= this.limits.total) {
      const [largest, count] = this.largestSource();
      if (count <= own) {
        return { admitted: false, why: `more than ${this.limits.total} unauthenticated connections` };
      }
      evict = this.oldestOf(largest);
      why = `more than ${this.limits.total} unauthenticated connections; ${largest} holds the most (${count}), its oldest gives way`;
    }
    if (evict !== null) this.remove(evict);
    this.track(connection, source);
    return { admitted: true, evict, why };
  }

  /** Stops tracking `connection` (it authenticated or closed); unknown connections are ignored. */
  remove(connection: T): void {
    const source = this.sourceOf.get(connection);
    if (source === undefined) return;
    this.sourceOf.delete(connection);
    const list = this.bySource.get(source) ?? [];
    const at = list.indexOf(connection);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.bySource.delete(source);
  }

  private track(connection: T, source: string): void {
    this.sourceOf.set(connection, source);
    const list = this.bySource.get(source);
    if (list === undefined) this.bySource.set(source, [connection]);
    else list.push(connection);
  }

  private oldestOf(source: string): T {
    const oldest = this.bySource.get(source)?.[0];
    assert(oldest !== undefined, () => `no connection tracked from ${source}`);
    return oldest;
  }

  private largestSource(): readonly [string, number] {
    let best: readonly [string, number] = ['', 0];
    for (const [source, list] of this.bySource) {
      if (list.length > best[1]) best = [source, list.length];
    }
    return best;
  }
}
