/**
 * Local FIFO turns per lock name. The server grants a name at most once per session, so two
 * callers in one client asking for the same name would otherwise share one grant; they take
 * turns here first, in call order.
 *
 * A turn may end by handing something over to the next caller (`handOver`): the client passes a
 * release that way, so the next caller sends it together with its own acquire as one command, and
 * a hold within a run of turns. Waiting callers are numbered in arrival order (one count for all
 * names), so a hand-over can be kept to callers already waiting at some earlier moment (`arrivedBy`).
 */

/** One caller's turn on a name. */
export interface Turn<C> {
  /** Ends the turn (idempotent): the next caller's starts. */
  end(): void;
  /**
   * Ends the turn by giving `carry` to the next caller, if one is waiting, arrived by number
   * `arrivedBy` (any, by default) and accepts it (true); false, and the turn goes on as before,
   * if none does.
   */
  handOver(carry: C, arrivedBy?: number): boolean;
  /** What the previous turn handed over with this one, if anything. */
  readonly carried: C | null;
}

interface Seat<C> {
  /** The caller's number in arrival order (see NameQueue.arrivals). */
  readonly arrival: number;
  /** Whether this caller would take `carry` now (asked synchronously, at hand-over time). */
  readonly accepts: (carry: C) => boolean;
  readonly start: (carried: C | null) => void;
}

/** The callers waiting for a name, in call order, behind the one whose turn it is. */
type Line<C> = Seat<C>[];

export class NameQueue<C = never> {
  private readonly lines = new Map<string, Line<C>>();
  private arrived = 0;

  /** Whether a caller in this client holds or awaits a turn on `name` (a new one would wait). */
  busy(name: string): boolean {
    return this.lines.has(name);
  }

  /** How many callers wait for `name` behind the one whose turn it is. */
  waiting(name: string): number {
    return this.lines.get(name)?.length ?? 0;
  }

  /** The arrival number of the latest caller so far: everyone waiting now arrived by it. */
  get arrivals(): number {
    return this.arrived;
  }

  /**
   * Resolves with this caller's turn once every earlier caller's has ended; rejects if `signal`
   * aborts while waiting (the turn is then given up at once: callers behind wait only for those
   * before). `accepts` says which hand-overs this caller takes; by default none.
   */
  turn(name: string, signal?: AbortSignal, accepts: (carry: C) => boolean = () => false): Promise<Turn<C>> {
    const line = this.lines.get(name);
    if (line === undefined) {
      const fresh: Line<C> = [];
      this.lines.set(name, fresh);
      return Promise.resolve(this.turnOf(name, fresh, null));
    }
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    return new Promise<Turn<C>>((resolve, reject) => {
      const onAbort = (): void => {
        const at = line.indexOf(seat);
        if (at >= 0) line.splice(at, 1);
        reject(signal?.reason);
      };
      const seat: Seat<C> = {
        arrival: ++this.arrived,
        accepts,
        start: (carried) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.turnOf(name, line, carried));
        },
      };
      line.push(seat);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private turnOf(name: string, line: Line<C>, carried: C | null): Turn<C> {
    let ended = false;
    return {
      carried,
      end: () => {
        if (ended) return;
        ended = true;
        const next = line.shift();
        if (next !== undefined) next.start(null);
        else if (this.lines.get(name) === line) this.lines.delete(name);
      },
      handOver: (carry, arrivedBy = Number.POSITIVE_INFINITY) => {
        const next = line[0];
        if (ended || next === undefined || next.arrival > arrivedBy || !next.accepts(carry)) return false;
        ended = true;
        line.shift();
        next.start(carry);
        return true;
      },
    };
  }
}

/** `promise`, or a rejection with the signal's reason if it aborts first. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
