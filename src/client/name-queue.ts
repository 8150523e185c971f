/**
 * Local FIFO turns per lock name. The server grants a name at most once per session, so two
 * callers in one client asking for the same name would otherwise share one grant; they take
 * turns here first, in call order.
 */
export class NameQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /** Whether a caller in this client holds or awaits a turn on `name` (a new one would wait). */
  busy(name: string): boolean {
    return this.tails.has(name);
  }

  /** Resolves with the function that ends this turn; rejects if `signal` aborts while waiting. */
  async turn(name: string, signal?: AbortSignal): Promise<() => void> {
    const previous = this.tails.get(name) ?? Promise.resolve();
    let end: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => {
      end = resolve;
    });
    const tail = previous.then(() => mine);
    this.tails.set(name, tail);
    let ended = false;
    const finish = (): void => {
      if (ended) return;
      ended = true;
      end();
      if (this.tails.get(name) === tail) this.tails.delete(name);
    };
    if (signal === undefined) {
      await previous;
      return finish;
    }
    try {
      await abortable(previous, signal);
    } catch (error: unknown) {
      // Give the turn up at once: the caller behind us waits only for whoever is before us.
      finish();
      throw error;
    }
    return finish;
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
