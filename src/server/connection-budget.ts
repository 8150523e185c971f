/**
 * Who may hold a client connection, so strangers cannot lock real clients out
 * (docs/client-protocol.md, "Limits"):
 *
 * - at most `perSourceMax` connections from one source address, whatever their state;
 * - connections that have not authenticated yet (no Welcome) share a budget of
 *   `unauthenticatedMax`, separate from the authenticated ones (`authenticatedMax`). When it is
 *   full, a newcomer evicts the oldest pending connection of the source that holds the most of
 *   them: a flood from one source pushes out its own connections, not another client's
 *   half-finished handshake. Pending connections also die at the handshake deadline.
 *
 * Only an authenticated connection occupies the authenticated budget, so a stranger can fill only
 * the unauthenticated one, and only at the rate its handshakes are evicted.
 */

export interface ConnectionBudgetLimits {
  readonly perSourceMax: number;
  readonly unauthenticatedMax: number;
  readonly authenticatedMax: number;
}

export type Admission<T> =
  { readonly admitted: true; readonly evict: T | null } | { readonly admitted: false; readonly reason: string };

export class ConnectionBudget<T> {
  private readonly sources = new Map<T, string>();
  private readonly perSource = new Map<string, number>();
  /** Insertion order is age: the first entry of a source is its oldest pending connection. */
  private readonly pending = new Set<T>();
  private readonly authenticated = new Set<T>();

  constructor(private readonly limits: ConnectionBudgetLimits) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  get authenticatedCount(): number {
    return this.authenticated.size;
  }

  /** Connections from `source` at once. */
  countFrom(source: string): number {
    return this.perSource.get(source) ?? 0;
  }

  /**
   * A new connection from `source`, before its handshake. When admitted it is pending; `evict`
   * names a pending connection the caller must close to make room (its slot is already freed).
   */
  admit(connection: T, source: string): Admission<T> {
    const fromSource = this.countFrom(source);
    if (fromSource >= this.limits.perSourceMax) {
      return {
        admitted: false,
        reason: `${source} already has ${fromSource} connections open (the most one address may have)`,
      };
    }
    let evict: T | null = null;
    if (this.pending.size >= this.limits.unauthenticatedMax) {
      evict = this.oldestOfBusiestSource();
      if (evict === null) return { admitted: false, reason: 'no room for connections awaiting authentication' };
      this.release(evict);
    }
    this.sources.set(connection, source);
    this.perSource.set(source, fromSource + 1);
    this.pending.add(connection);
    return { admitted: true, evict };
  }

  /** The connection authenticated: it moves to the authenticated budget, or why it cannot. */
  authenticate(connection: T): string | null {
    if (!this.pending.has(connection)) return 'the connection is not awaiting authentication';
    if (this.authenticated.size >= this.limits.authenticatedMax) {
      return `this node serves at most ${this.limits.authenticatedMax} client connections`;
    }
    this.pending.delete(connection);
    this.authenticated.add(connection);
    return null;
  }

  /** The connection is gone (idempotent). */
  release(connection: T): void {
    const source = this.sources.get(connection);
    if (source === undefined) return;
    this.sources.delete(connection);
    this.pending.delete(connection);
    this.authenticated.delete(connection);
    const left = (this.perSource.get(source) ?? 1) - 1;
    if (left <= 0) this.perSource.delete(source);
    else this.perSource.set(source, left);
  }

  private oldestOfBusiestSource(): T | null {
    const counts = new Map<string, number>();
    let busiest: string | null = null;
    for (const connection of this.pending) {
      const source = this.sources.get(connection) ?? '';
      const count = (counts.get(source) ?? 0) + 1;
      counts.set(source, count);
      if (busiest === null || count > (counts.get(busiest) ?? 0)) busiest = source;
    }
    for (const connection of this.pending) {
      if (this.sources.get(connection) === busiest) return connection;
    }
    return null;
  }
}
