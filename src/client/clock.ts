import { performance } from 'node:perf_hooks';

/** Cancels a scheduled callback; calling it twice is harmless. */
export type CancelTimer = () => void;

/**
 * The client's sense of time. Session safety depends on it being monotonic (never the wall
 * clock, which can jump), so tests inject a fake one and drive it by hand.
 */
export interface ClientClock {
  /** Monotonic milliseconds from an arbitrary origin. */
  nowMs(): number;
  /** Runs `callback` once, `delayMs` from now. */
  setTimer(callback: () => void, delayMs: number): CancelTimer;
}

export const systemClock: ClientClock = {
  nowMs: () => performance.now(),
  setTimer(callback, delayMs) {
    const timer = setTimeout(callback, Math.max(0, delayMs));
    return () => clearTimeout(timer);
  },
};

/** A promise that resolves after `delayMs` on `clock`, or rejects when `signal` aborts. */
export function sleep(clock: ClientClock, delayMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      cancel();
      reject(signal?.reason);
    };
    const cancel = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
