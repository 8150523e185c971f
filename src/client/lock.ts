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
  /**
   * The hold's own abort controller and the combined signal are built on first use of `signal`:
   * most holds are never watched, and each of them costs an allocation, an Error and an event.
   */
  private own: AbortController | null = null;
  private combined: AbortSignal | null = null;
  private released = false;
  /** The session was already lost when release() was called: the loss is why the hold ended. */
  private lostBeforeRelease = false;
  private releasing: Promise<void> | null = null;
  /** Set when the cluster ended the hold on someone else's word (an admin). */
  private revokedBy: RaftlockError | null = null;

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
    if (this.combined === null) {
      const own = new AbortController();
      this.own = own;
      if (this.revokedBy !== null) own.abort(this.revokedBy);
      else if (this.released) own.abort(this.releasedReason());
      // Whichever ended the hold first gives the reason, as if the signal had existed all along.
      const releasedFirst = (this.released && !this.lostBeforeRelease) || this.revokedBy !== null;
      this.combined = AbortSignal.any(releasedFirst ? [own.signal, this.sessionSignal] : [this.sessionSignal, own.signal]);
    }
    return this.combined;
  }

  /** True until release() is called, the session is lost or an admin ends the hold. */
  get held(): boolean {
    return !this.released && !this.sessionSignal.aborted && this.revokedBy === null;
  }

  /** Why the hold ended, once it has (a RaftlockError for a lost session or a revoked hold). */
  get lostReason(): RaftlockError | undefined {
    if (this.revokedBy !== null) return this.revokedBy;
    if (this.released && !this.lostBeforeRelease) return undefined;
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
    this.released = true;
    this.own?.abort(this.releasedReason());
    this.releasing = sessionLost
      ? Promise.resolve()
      : this.link.release(this.name, this.session, this.kind);
    this.releasing = this.releasing.finally(() => {
      this.sessionSignal.removeEventListener('abort', this.endTurn);
      this.endTurn();
    });
    return this.releasing;
  }

  /**
   * The cluster ended this hold on someone else's word (an admin released it): `signal` aborts
   * with `reason` at once, and the name's local turn passes on. A later release() is harmless.
   */
  revoke(reason: RaftlockError): void {
    if (this.released || this.revokedBy !== null || this.sessionSignal.aborted) return;
    this.revokedBy = reason;
    this.own?.abort(reason);
    this.endTurn();
  }

  private releasedReason(): Error {
    return new Error(`${this.name} was released`);
  }
}
