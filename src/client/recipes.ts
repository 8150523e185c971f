import type { FencingToken, SessionId } from '../statemachine/ids.js';
import type { LeaderView } from '../statemachine/queries.js';
import type { RwMode } from '../statemachine/commands.js';
import { answerOf } from './answers.js';
import type { RaftlockClient } from './client.js';
import type { AcquireOptions } from './types.js';
import { RaftlockError } from './errors.js';
import type { Lock } from './lock.js';

async function orNull(attempt: Promise<Lock>): Promise<Lock | null> {
  try {
    return await attempt;
  } catch (error: unknown) {
    if (error instanceof RaftlockError && error.code === 'BUSY') return null;
    throw error;
  }
}

/**
 * A counting semaphore: up to `permits` sessions hold `name` at once, each with its own fencing
 * token. Every user of a name must state the same `permits` (INVALID_ARGUMENT otherwise). One
 * client holds at most one permit of a name; its callers take turns for it.
 */
export class Semaphore {
  constructor(
    private readonly client: RaftlockClient,
    readonly name: string,
    readonly permits: number,
  ) {}

  acquire(options: AcquireOptions = {}): Promise<Lock> {
    const { name, permits } = this;
    return this.client.acquireHold(
      {
        name,
        kind: 'semaphore',
        request: (session, waitMs, lockDelayMs) => ({
          type: 'acquireSemaphore',
          session,
          name,
          permits,
          waitMs,
          lockDelayMs,
        }),
      },
      { waitMs: 30_000, ...options },
    );
  }

  tryAcquire(options: Omit<AcquireOptions, 'waitMs'> = {}): Promise<Lock | null> {
    return orNull(this.acquire({ ...options, waitMs: 0 }));
  }
}

/** A read/write lock: many readers or one writer, granted in FIFO order (no writer starvation). */
export class RwLock {
  constructor(
    private readonly client: RaftlockClient,
    readonly name: string,
  ) {}

  read(options: AcquireOptions = {}): Promise<Lock> {
    return this.take('read', options);
  }

  write(options: AcquireOptions = {}): Promise<Lock> {
    return this.take('write', options);
  }

  tryRead(options: Omit<AcquireOptions, 'waitMs'> = {}): Promise<Lock | null> {
    return orNull(this.take('read', { ...options, waitMs: 0 }));
  }

  tryWrite(options: Omit<AcquireOptions, 'waitMs'> = {}): Promise<Lock | null> {
    return orNull(this.take('write', { ...options, waitMs: 0 }));
  }

  private take(mode: RwMode, options: AcquireOptions): Promise<Lock> {
    const name = this.name;
    return this.client.acquireHold(
      {
        name,
        kind: 'rwlock',
        request: (session, waitMs, lockDelayMs) => ({
          type: 'acquireRw',
          session,
          name,
          mode,
          waitMs,
          lockDelayMs,
        }),
      },
      { waitMs: 30_000, ...options },
    );
  }
}

/** Leadership won by `campaign`: a hold whose value can be changed in place. */
export interface Leadership {
  readonly lock: Lock;
  /** The leadership's fencing token. */
  readonly token: FencingToken;
  /** Publishes a new value without giving up leadership. */
  proclaim(value: Uint8Array | string): Promise<void>;
  /** Steps down; the next candidate in line is elected in the same step. */
  resign(): Promise<void>;
}

/** Who leads, as observers see it: null while nobody does. */
export type LeaderState = LeaderView | null;

function bytesOf(value: Uint8Array | string): Uint8Array {
  return typeof value === 'string' ? new TextEncoder().encode(value) : value;
}

/**
 * Leader election on a name: candidates queue in FIFO order; the holder leads, with the grant's
 * fencing token as its term of office. Observers follow every change through a watch.
 */
export class Election {
  constructor(
    private readonly client: RaftlockClient,
    readonly name: string,
  ) {}

  /** Waits (up to `waitMs`, default 30 000) to become leader with `value`. */
  async campaign(value: Uint8Array | string, options: AcquireOptions = {}): Promise<Leadership> {
    const name = this.name;
    const bytes = bytesOf(value);
    const lock = await this.client.acquireHold(
      {
        name,
        kind: 'election',
        request: (session, waitMs, lockDelayMs) => ({
          type: 'campaign',
          session,
          name,
          value: bytes,
          waitMs,
          lockDelayMs,
        }),
      },
      { waitMs: 30_000, ...options },
    );
    const client = this.client;
    return {
      lock,
      token: lock.fencingToken,
      async proclaim(next) {
        // Check, then act: a leader whose lease lapsed (paused past it) must not proclaim.
        lock.check();
        const value = bytesOf(next);
        const session = lock.session;
        const result = await client.command(
          { type: 'proclaim', session, name, value },
          { holdCheck: () => lock.check() },
        );
        answerOf(result, 'proclaimed');
      },
      resign: () => lock.release(),
    };
  }

  /** The current leader (linearizable read), or null. */
  async leader(): Promise<LeaderState> {
    return answerOf(await this.client.channelRead({ kind: 'observe', name: this.name }), 'leader').leader;
  }

  /**
   * The current leader, then every change, as an async iterator (`break` or `signal` stops
   * it). Changes are `leader` events (new leader or proclaimed value) and releases by the
   * leader of the moment.
   */
  async *observe(options: { readonly signal?: AbortSignal } = {}): AsyncGenerator<LeaderState, void, undefined> {
    const stream = this.client.watch(this.name);
    // A generator suspended in an await cannot be returned from outside; ending the stream can.
    const stop = (): void => void stream.return();
    options.signal?.addEventListener('abort', stop, { once: true });
    if (options.signal?.aborted === true) stop();
    try {
      let current = await this.leader();
      yield current;
      for await (const event of stream) {
        if (event.type === 'leader' && event.lock === this.name) {
          // Events older than what the read returned are already reflected in it.
          if (current !== null && event.token < current.token) continue;
          current = { session: event.session as SessionId, token: event.token, value: event.value };
          yield current;
        } else if (event.type === 'release' && event.lock === this.name) {
          if (current === null || event.session !== current.session) continue;
          current = null;
          yield current;
        }
      }
    } finally {
      options.signal?.removeEventListener('abort', stop);
      await stream.return();
    }
  }
}
