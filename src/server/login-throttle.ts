/**
 * Failed logins are rate-limited per source address and per user name, so neither one address
 * trying many passwords nor many addresses trying one user's password get far: after
 * `freeFailures` failures a key must wait `baseDelayMs`, doubling with each further failure up to
 * `maxDelayMs`. An attempt inside the wait is refused without checking the password (no scrypt
 * work for an attacker's flood). A success clears the user's and the address's record; a record
 * is forgotten `forgetAfterMs` after its last failure. The table is bounded: beyond `entriesMax`
 * keys the least recently failed is dropped.
 *
 * A user's lockout lasts at most `maxDelayMs` and concerns password logins only: certificates and
 * tokens still work while an attacker keeps failing that user's password.
 */

export interface LoginThrottleOptions {
  readonly freeFailures: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly forgetAfterMs: number;
  readonly entriesMax: number;
}

export const defaultLoginThrottleOptions: LoginThrottleOptions = {
  freeFailures: 3,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  forgetAfterMs: 15 * 60_000,
  entriesMax: 10_000,
};

interface FailureRecord {
  failures: number;
  lastFailureMs: number;
  blockedUntilMs: number;
}

export class LoginThrottle {
  private readonly options: LoginThrottleOptions;
  /** Keys `a:<address>` and `u:<user>`; insertion order is failure recency (re-inserted on failure). */
  private readonly records = new Map<string, FailureRecord>();

  constructor(options: Partial<LoginThrottleOptions> = {}) {
    this.options = { ...defaultLoginThrottleOptions, ...options };
  }

  /** How long this address (and user, if named) must wait before a login is checked; 0 = now. */
  waitMs(address: string, user: string | null, nowMs: number): number {
    const keys = user === null ? [`a:${address}`] : [`a:${address}`, `u:${user}`];
    let wait = 0;
    for (const key of keys) {
      const record = this.current(key, nowMs);
      if (record !== null) wait = Math.max(wait, record.blockedUntilMs - nowMs);
    }
    return wait;
  }

  failed(address: string, user: string | null, nowMs: number): void {
    this.fail(`a:${address}`, nowMs);
    if (user !== null) this.fail(`u:${user}`, nowMs);
  }

  succeeded(address: string, user: string): void {
    this.records.delete(`a:${address}`);
    this.records.delete(`u:${user}`);
  }

  get size(): number {
    return this.records.size;
  }

  private current(key: string, nowMs: number): FailureRecord | null {
    const record = this.records.get(key);
    if (record === undefined) return null;
    if (nowMs - record.lastFailureMs >= this.options.forgetAfterMs) {
      this.records.delete(key);
      return null;
    }
    return record;
  }

  private fail(key: string, nowMs: number): void {
    const { freeFailures, baseDelayMs, maxDelayMs, entriesMax } = this.options;
    const record = this.current(key, nowMs) ?? { failures: 0, lastFailureMs: nowMs, blockedUntilMs: 0 };
    record.failures += 1;
    record.lastFailureMs = nowMs;
    const over = record.failures - freeFailures;
    if (over > 0) {
      const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(over - 1, 30));
      record.blockedUntilMs = nowMs + delay;
    }
    this.records.delete(key);
    this.records.set(key, record);
    while (this.records.size > entriesMax) {
      const oldest = this.records.keys().next().value;
      if (oldest === undefined) break;
      this.records.delete(oldest);
    }
  }
}
