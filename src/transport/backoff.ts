/** Reconnect pacing: exponential growth from `baseMs`, capped at `maxMs`. */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry): "equal jitter", a uniform
 * draw from [d/2, d] where d = min(maxMs, baseMs × 2^attempt). Half the delay is fixed so a
 * flapping peer is never hammered; the random half keeps a whole cluster that lost the same peer
 * from reconnecting in lockstep. `random` returns a float in [0, 1).
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 30);
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
