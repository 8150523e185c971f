/**
 * The chaos clients' workload: each worker runs one operation at a time on a session — lock,
 * fenced write with the lock's token, release; semaphore acquire/release; versioned puts (blind
 * and CAS from a previous read), reads and deletes — and records every operation in a history.
 * The service is reached through `ChaosSession`, which the runner implements over the client
 * library, so the same workload runs against an in-memory reference in the tests.
 *
 * Outcomes: a call that returns is `ok`; a call that throws `DefiniteFailure` is `fail` (it
 * certainly had no effect); anything else, including running past `opTimeoutMs`, is `unknown`.
 * After an unknown lock or semaphore operation the worker cannot know what it holds, so it ends
 * its session (recorded as `session.end`) and opens a new one.
 */
import type { Rng } from '../util/rng.js';
import type { ChaosOp, ChaosResult, HistoryWriter } from './history.js';

/** Thrown by a session when the operation certainly did not take effect (e.g. NOT_LEADER). */
export class DefiniteFailure extends Error {
  override readonly name = 'DefiniteFailure';
}

export interface ChaosSession {
  /** The owner name the service knows this session by (unique per session). */
  readonly owner: string;
  /** Blocking acquire; resolves with the fencing token. */
  lockAcquire(lock: string): Promise<number>;
  lockRelease(lock: string, token: number): Promise<boolean>;
  /** Try-acquire of one permit of a semaphore with `limit` permits. */
  semAcquire(sem: string, limit: number): Promise<boolean>;
  semRelease(sem: string): Promise<boolean>;
  put(key: string, value: string, ifVersion: number | null): Promise<{ ok: boolean; version: number }>;
  get(key: string): Promise<{ value: string | null; version: number }>;
  del(key: string, ifVersion: number | null): Promise<boolean>;
  /** A write to a fenced resource that the service accepts only with a current token. */
  fencedWrite(resource: string, token: number, value: string): Promise<boolean>;
  /**
   * If the service ended this session (expiry), the monotonic µs send time of the last keepalive
   * it acknowledged; otherwise null.
   */
  lostSince(): number | null;
  /** Ends the session, releasing what it holds. */
  close(): Promise<void>;
}

export interface ChaosTarget {
  openSession(worker: string): Promise<ChaosSession>;
}

export type WorkloadConfig = {
  readonly locks: readonly string[];
  readonly semaphores: readonly string[];
  readonly semaphoreLimit: number;
  readonly keys: readonly string[];
  readonly opTimeoutMs: number;
  /** How long a lock or permit is held before release (uniform in [0, holdMsMax]). */
  readonly holdMsMax: number;
};

export const defaultWorkloadConfig: WorkloadConfig = {
  locks: ['lock-a', 'lock-b'],
  semaphores: ['sem-a'],
  semaphoreLimit: 2,
  keys: ['key-a', 'key-b', 'key-c'],
  opTimeoutMs: 5000,
  holdMsMax: 50,
};

type Outcome<T> = { kind: 'ok'; value: T } | { kind: 'fail' } | { kind: 'unknown' };

class Timeout extends Error {}

/** One worker: a loop of operations until `shouldStop()`, every one recorded in `history`. */
export class ChaosWorker {
  private session: ChaosSession | null = null;
  private sessions = 0;
  private readonly versions = new Map<string, number>();

  constructor(
    readonly name: string,
    private readonly target: ChaosTarget,
    private readonly history: HistoryWriter,
    private readonly rng: Rng,
    private readonly config: WorkloadConfig = defaultWorkloadConfig,
  ) {}

  async run(shouldStop: () => boolean): Promise<void> {
    while (!shouldStop()) {
      const session = await this.currentSession();
      if (session === null) {
        await sleep(50);
        continue;
      }
      if (this.recordLoss(session)) continue;
      await this.oneRound(session);
    }
    await this.endSession();
  }

  private async currentSession(): Promise<ChaosSession | null> {
    if (this.session !== null) return this.session;
    try {
      this.session = await withTimeout(
        this.target.openSession(`${this.name}/${this.sessions++}`),
        this.config.opTimeoutMs,
      );
    } catch {
      this.session = null;
    }
    return this.session;
  }

  /**
   * Records a session the service ended (or will end), and forgets it. The completion is unknown:
   * a client declares its session lost at its own safety margin, before the service expires it,
   * and the expiry needs a leader to commit it, so the end may take effect well after the client
   * knows. Recording it as complete at that moment made the checker free a permit the service
   * still counted (a semaphore "violation" in a 4-minute run).
   */
  private recordLoss(session: ChaosSession): boolean {
    const since = session.lostSince();
    if (since === null) return false;
    const id = this.history.invoke({ type: 'session.end', owner: session.owner }, since);
    this.history.unknown(id, 'lost; the service ends the session at its own expiry');
    this.session = null;
    return true;
  }

  /** Closes the session, recording the end it causes (unknown if the close fails). */
  private async endSession(): Promise<void> {
    const session = this.session;
    if (session === null) return;
    // Already ended by the service: the end lies in the window since the last keepalive, which
    // may be long before this close.
    if (this.recordLoss(session)) return;
    this.session = null;
    const id = this.history.invoke({ type: 'session.end', owner: session.owner });
    try {
      await withTimeout(session.close(), this.config.opTimeoutMs);
      this.history.ok(id, { type: 'session.end' });
    } catch (error) {
      this.history.unknown(id, describe(error));
    }
  }

  private async oneRound(s: ChaosSession): Promise<void> {
    const c = this.config;
    switch (this.rng.int(0, 5)) {
      case 0:
      case 1: {
        const lock = this.rng.pick(c.locks);
        const got = await this.call(
          { type: 'lock.acquire', lock, owner: s.owner },
          () => s.lockAcquire(lock),
          (token) => ({ type: 'lock.acquire', token }),
        );
        if (got.kind === 'unknown') return this.endSession();
        if (got.kind === 'fail') return;
        const token = got.value;
        await this.call(
          { type: 'fence.write', resource: `fenced-${lock}`, token, value: `${s.owner}@${token}` },
          () => s.fencedWrite(`fenced-${lock}`, token, `${s.owner}@${token}`),
          (accepted) => ({ type: 'fence.write', accepted }),
        );
        await sleep(this.rng.int(0, c.holdMsMax));
        const released = await this.call(
          { type: 'lock.release', lock, owner: s.owner, token },
          () => s.lockRelease(lock, token),
          (r) => ({ type: 'lock.release', released: r }),
        );
        if (released.kind !== 'ok') return this.endSession();
        return;
      }
      case 2: {
        const sem = this.rng.pick(c.semaphores);
        const limit = c.semaphoreLimit;
        const got = await this.call(
          { type: 'sem.acquire', sem, owner: s.owner, limit },
          () => s.semAcquire(sem, limit),
          (acquired) => ({ type: 'sem.acquire', acquired }),
        );
        if (got.kind === 'unknown') return this.endSession();
        if (got.kind === 'fail' || !got.value) return;
        await sleep(this.rng.int(0, c.holdMsMax));
        const released = await this.call(
          { type: 'sem.release', sem, owner: s.owner, limit },
          () => s.semRelease(sem),
          (r) => ({ type: 'sem.release', released: r }),
        );
        if (released.kind !== 'ok') return this.endSession();
        return;
      }
      case 3: {
        const key = this.rng.pick(c.keys);
        const got = await this.call(
          { type: 'kv.get', key },
          () => s.get(key),
          (r) => ({ type: 'kv.get', value: r.value, version: r.version }),
        );
        if (got.kind === 'ok') this.versions.set(key, got.value.version);
        return;
      }
      case 4: {
        const key = this.rng.pick(c.keys);
        // Half blind writes, half compare-and-set from the version this worker last saw.
        const ifVersion = this.rng.bernoulli(0.5) ? (this.versions.get(key) ?? 0) : null;
        const value = `${this.name}-${this.rng.u32().toString(36)}`;
        const put = await this.call(
          { type: 'kv.put', key, value, ifVersion },
          () => s.put(key, value, ifVersion),
          (r) => ({ type: 'kv.put', ok: r.ok, version: r.version }),
        );
        if (put.kind === 'ok') this.versions.set(key, put.value.version);
        return;
      }
      default: {
        const key = this.rng.pick(c.keys);
        const ifVersion = this.rng.bernoulli(0.5) ? (this.versions.get(key) ?? null) : null;
        await this.call(
          { type: 'kv.delete', key, ifVersion },
          () => s.del(key, ifVersion),
          (deleted) => ({ type: 'kv.delete', deleted }),
        );
        this.versions.delete(key);
      }
    }
  }

  private async call<T>(op: ChaosOp, run: () => Promise<T>, result: (value: T) => ChaosResult): Promise<Outcome<T>> {
    const id = this.history.invoke(op);
    try {
      const value = await withTimeout(run(), this.config.opTimeoutMs);
      this.history.ok(id, result(value));
      return { kind: 'ok', value };
    } catch (error) {
      if (error instanceof DefiniteFailure) {
        this.history.fail(id, error.message);
        return { kind: 'fail' };
      }
      this.history.unknown(id, describe(error));
      return { kind: 'unknown' };
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Timeout ? 'timeout' : error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with `Timeout` after `ms`; the underlying call goes on and may still take effect. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(`no answer in ${ms}ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
