/** A promise with its settle functions, for results that arrive through another path (pushes). */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
}

export function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A wait may be settled with nobody listening (abandoned, or refused before it was awaited).
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
