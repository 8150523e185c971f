/**
 * Limits of the lock state machine. Every replica must run with the same values: they decide
 * results, so a mismatch is divergence. Units are in the names.
 */
export interface LockMachineConfig {
  /** Shortest session TTL; a few election timeouts, so an election alone cannot expire a session. */
  readonly ttlMsMin: number;
  /** Longest session TTL. */
  readonly ttlMsMax: number;
  /** Longest time a lock request may wait in a queue. */
  readonly waitMsMax: number;
  /** Longest lock-delay a holder may set. */
  readonly lockDelayMsMax: number;
  /** Names of locks and keys, in UTF-8 bytes. */
  readonly nameBytesMax: number;
  /** Key values and election values, in bytes. */
  readonly valueBytesMax: number;
  /** Client ids, in UTF-8 bytes. */
  readonly clientIdBytesMax: number;
  /** Waiters queued on one lock; one more request is refused with BUSY. */
  readonly waitersPerLockMax: number;
  /** Permits of one semaphore. */
  readonly permitsMax: number;
  /** Sessions in one keepAliveBatch command. */
  readonly keepAliveBatchMax: number;
  /** Watch events kept for resuming watchers; older ones are compacted. */
  readonly eventHistoryMax: number;
}

export const defaultLockMachineConfig: LockMachineConfig = {
  ttlMsMin: 1_000,
  ttlMsMax: 86_400_000,
  waitMsMax: 86_400_000,
  lockDelayMsMax: 60_000,
  nameBytesMax: 512,
  valueBytesMax: 1_048_576,
  clientIdBytesMax: 128,
  waitersPerLockMax: 1_000_000,
  permitsMax: 1_000_000,
  keepAliveBatchMax: 1_000_000,
  eventHistoryMax: 10_000,
};

/** Validates a config; returns the problems found (empty when usable). */
export function validateLockMachineConfig(config: LockMachineConfig): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      problems.push(`${key} must be a non-negative safe integer, got ${String(value)}`);
    }
  }
  if (config.ttlMsMin < 1 || config.ttlMsMin > config.ttlMsMax) {
    problems.push('ttlMsMin must be in [1, ttlMsMax]');
  }
  if (config.nameBytesMax < 1) problems.push('nameBytesMax must be at least 1');
  if (config.permitsMax < 1) problems.push('permitsMax must be at least 1');
  if (config.eventHistoryMax < 1) problems.push('eventHistoryMax must be at least 1');
  return problems;
}
