import type { FencingToken, SessionId } from '../statemachine/ids.js';
import type { RaftlockError } from './errors.js';

/** What a Lock needs from the client to let go of its hold. */
export interface HoldLink {
  /** Ends the hold on the server; NOT_HOLDER and SESSION_EXPIRED count as already released. */
  release(name: string, session: SessionId, kind: LockKindName): Promise<void>;
}

export type LockKindName = 'mutex' | 'semaphore' | 'rwlock' | 'election';

/**
 * A granted hold: a mutex, a semaphore permit, a read or write hold, or an election's leadership.
 *
 * `signal` aborts as soon as the hold can no longer be guaranteed: when the client's session
 * reaches its safety margin without an acknowledged keepalive (before the server could expire it
 * and grant the name to someone else), when the cluster reports the session expired, or when the
 * hold is released. Work done under the lock must stop when it aborts, and writes to other
 * systems should carry `fencingToken` so that a holder paused past its lease is refused.
 */
export class Lock {
  private readonly own = new AbortController();
  /** Built on first use of `signal`: most holds are never watched, and AbortSignal.any is costly. */
  private combined: AbortSignal | null = null;
  /** The session was already lost when release() was called: the loss is why the hold ended. */
  private lostBeforeRelease = false;
  private releasing: Promise<void> | null = null;

  constructor(
    readonly name: string,
    readonly kind: LockKindName,
    readonly fencingToken: FencingToken,
    readonly session: SessionId,
    private readonly sessionSignal: AbortSignal,
    private readonly link: HoldLink,
    private readonly endTurn: () => void,
  ) {
    // A lost session frees the local turn too: the hold is gone, another caller may try.
    sessionSignal.addEventListener('abort', this.endTurn, { once: true });
  }

  /** Aborts when the hold ends: released, or the session lost (see the class comment). */
  get signal(): AbortSignal {
    this.combined ??= AbortSignal.any([this.sessionSignal, this.own.signal]);
    return this.combined;
  }

  /** True until release() is called or the session is lost. */
  get held(): boolean {
    return !this.own.signal.aborted && !this.sessionSignal.aborted;
  }

  /** Why the hold ended, once it has (a RaftlockError for a lost session). */
  get lostReason(): RaftlockError | undefined {
    if (this.own.signal.aborted && !this.lostBeforeRelease) return undefined;
    if (!this.sessionSignal.aborted) return undefined;
    const reason: unknown = this.sessionSignal.reason;
    const isRaftlock = reason instanceof Error && reason.name === 'RaftlockError';
    return isRaftlock ? (reason as RaftlockError) : undefined;
  }

  /** Releases the hold (idempotent). Resolves once the cluster has applied the release. */
  release(): Promise<void> {
    if (this.releasing !== null) return this.releasing;
    const sessionLost = this.sessionSignal.aborted;
    this.lostBeforeRelease = sessionLost;
    this.own.abort(new Error(`${this.name} was released`));
    this.releasing = sessionLost
      ? Promise.resolve()
      : this.link.release(this.name, this.session, this.kind);
    this.releasing = this.releasing.finally(() => {
      this.sessionSignal.removeEventListener('abort', this.endTurn);
      this.endTurn();
    });
    return this.releasing;
  }
}
