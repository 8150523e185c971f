/**
 * `ChaosTarget` over the client library: every chaos session is its own `RaftlockClient` with one
 * server session, so a session's owner name, its holds and its loss are one thing. Versioned-key
 * operations hold nothing, so they may instead all go through one shared client (`kv`), whose lanes
 * then carry many workers' commands at once through the faults. Outcomes follow
 * the history's rules: `DefiniteFailure` only when nothing was sent (the session was already
 * lost) or the cluster refused before proposing; every other error is left to the worker, which
 * records it as unknown.
 *
 * The fenced resource is an in-process register shared by every worker of the run: it accepts a
 * write whose token is at least the highest it has accepted, as an external system checking
 * fencing tokens would, so the history shows whether a stale token was ever accepted.
 */
import { connect } from '../client/client.js';
import type { RaftlockClient } from '../client/client.js';
import type { ClientTls } from '../client/client-pki.js';
import { isRaftlockError } from '../client/errors.js';
import type { Lock } from '../client/lock.js';
import type { ClientSession } from '../client/session.js';
import { monotonicUs } from './history.js';
import { DefiniteFailure } from './workload.js';
import type { ChaosSession, ChaosTarget } from './workload.js';

/** Accepts a write with a token at least the highest accepted so far; refuses older tokens. */
export class FencedResources {
  private readonly highest = new Map<string, number>();

  write(resource: string, token: number): boolean {
    const top = this.highest.get(resource);
    if (top !== undefined && token < top) return false;
    this.highest.set(resource, token);
    return true;
  }
}

export type ClientTargetOptions = {
  readonly endpoints: readonly string[];
  readonly clusterId: string;
  readonly ttlMs: number;
  /** How long one attempt waits before the client presumes the connection dead. */
  readonly attemptTimeoutMs: number;
  /** How long a call keeps retrying before it gives up (the worker's own timeout is separate). */
  readonly requestTimeoutMs: number;
  readonly fenced: FencedResources;
  /** The cluster's CA and the certificate each session's client presents (its principal). */
  readonly tls: ClientTls;
  /** The client every session's versioned-key operations go through; absent, each session's own. */
  readonly kv?: RaftlockClient;
};

/** Errors that prove the operation was not applied: refused before it reached the log. */
const definiteCodes = ['NOT_LEADER', 'INVALID_ARGUMENT', 'CLOSED'] as const;

function classify(error: unknown): unknown {
  if (definiteCodes.some((code) => isRaftlockError(error, code))) {
    return new DefiniteFailure(error instanceof Error ? error.message : String(error));
  }
  return error;
}

class ClientChaosSession implements ChaosSession {
  private readonly holds = new Map<string, Lock>();

  constructor(
    readonly owner: string,
    private readonly client: RaftlockClient,
    private readonly session: ClientSession,
    private readonly ttlMs: number,
    private readonly driftMax: number,
    private readonly fenced: FencedResources,
    private readonly kv: RaftlockClient,
  ) {}

  /** Refuses to send once the session is lost: the client would silently open a new one. */
  private live(): void {
    if (this.session.isLost) throw new DefiniteFailure(`session of ${this.owner} is lost; nothing sent`);
  }

  private async hold(name: string, acquire: () => Promise<Lock | null>): Promise<Lock | null> {
    this.live();
    let lock: Lock | null;
    try {
      lock = await acquire();
    } catch (error) {
      throw classify(error);
    }
    if (lock !== null && lock.session !== this.session.id) {
      // The client replaced a lost session on its own; this grant belongs to another owner.
      void lock.release().catch(() => undefined);
      throw new Error(`${name} was granted to a replacement session`);
    }
    if (lock !== null) this.holds.set(name, lock);
    return lock;
  }

  async lockAcquire(lock: string): Promise<number> {
    const held = await this.hold(lock, () => this.client.lock(lock, { waitMs: 600_000, ttlMs: this.ttlMs }));
    if (held === null) throw new Error(`${lock}: no grant`);
    return held.fencingToken;
  }

  private async releaseHold(name: string): Promise<boolean> {
    const lock = this.holds.get(name);
    if (lock === undefined) return false;
    this.live();
    this.holds.delete(name);
    try {
      await lock.release();
    } catch (error) {
      throw classify(error);
    }
    return true;
  }

  lockRelease(lock: string, _token: number): Promise<boolean> {
    return this.releaseHold(lock);
  }

  async semAcquire(sem: string, limit: number): Promise<boolean> {
    const held = await this.hold(sem, () => this.client.semaphore(sem, limit).tryAcquire({ ttlMs: this.ttlMs }));
    return held !== null;
  }

  semRelease(sem: string): Promise<boolean> {
    return this.releaseHold(sem);
  }

  async put(key: string, value: string, ifVersion: number | null): Promise<{ ok: boolean; version: number }> {
    try {
      if (ifVersion === null) return { ok: true, version: (await this.kv.kv.put(key, value)).version };
      const result = await this.kv.kv.cas(key, ifVersion, value);
      return { ok: result.ok, version: result.version };
    } catch (error) {
      throw classify(error);
    }
  }

  async get(key: string): Promise<{ value: string | null; version: number }> {
    try {
      const view = await this.kv.kv.get(key);
      return view === null
        ? { value: null, version: 0 }
        : { value: Buffer.from(view.value).toString('utf8'), version: view.version };
    } catch (error) {
      throw classify(error);
    }
  }

  async del(key: string, ifVersion: number | null): Promise<boolean> {
    try {
      return await this.kv.kv.delete(key, ifVersion === null ? {} : { ifVersion });
    } catch (error) {
      // A conditional delete refused for its version is an answer, not a doubt: nothing was
      // deleted (recorded as unknown, these piled up by hundreds per key in a 4-minute run).
      if (isRaftlockError(error, 'VERSION_MISMATCH')) return false;
      throw classify(error);
    }
  }

  fencedWrite(resource: string, token: number, _value: string): Promise<boolean> {
    return Promise.resolve(this.fenced.write(resource, token));
  }

  lostSince(): number | null {
    if (!this.session.isLost) return null;
    // The client declares loss at safeUntil = last acknowledged send + ttl·(1 − 2·drift).
    const lastAckMs = this.session.safeUntilMs - this.ttlMs * (1 - 2 * this.driftMax);
    const ageMs = Math.max(0, performance.now() - lastAckMs);
    void this.client.close().catch(() => undefined);
    return monotonicUs() - Math.ceil(ageMs * 1000);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** Opens one client (and its session) per chaos session, on the given endpoints. */
export function clientTarget(options: ClientTargetOptions): ChaosTarget {
  let opened = 0;
  return {
    openSession: async (worker) => {
      const index = opened++;
      const rotated = [
        ...options.endpoints.slice(index % options.endpoints.length),
        ...options.endpoints.slice(0, index % options.endpoints.length),
      ];
      const client = await connect({
        endpoints: rotated,
        clusterId: options.clusterId,
        tls: options.tls,
        ttlMs: options.ttlMs,
        attemptTimeoutMs: options.attemptTimeoutMs,
        requestTimeoutMs: options.requestTimeoutMs,
      });
      try {
        const session = await client.session(options.ttlMs);
        return new ClientChaosSession(
          worker,
          client,
          session,
          options.ttlMs,
          0.01,
          options.fenced,
          options.kv ?? client,
        );
      } catch (error) {
        await client.close().catch(() => undefined);
        throw error;
      }
    },
  };
}
