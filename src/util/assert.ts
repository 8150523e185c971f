/**
 * Invariant checks. A failed assertion is a programmer error: the node stops (fail-stop) and the
 * simulator reports a `crash` outcome with its seed. Never catch an AssertionError to carry on.
 */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new AssertionError(typeof message === 'function' ? message() : message);
  }
}

/** Exhaustiveness guard for closed unions: the compiler proves the call unreachable. */
export function assertNever(value: never, what = 'value'): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(value)}`);
}
