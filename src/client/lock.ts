import type { FencingToken, SessionId } from '../statemachine/ids.js';
import { RaftlockError } from './errors.js';
import { abortedNow, checkedOnRead } from './lease-signal.js';

/** What a Lock needs from the client to let go of its hold. */
export interface HoldLink {
  /** Ends the hold on the server; NOT_HOLDER and SESSION_EXPIRED count as already released. */
  release(name: string, session: SessionId, kind: LockKindName, token?: FencingToken): Promise<void>;
}

/** The session a hold lives in, as the hold sees it. */
export interface HoldLease {
  /** Aborts when the session is lost (its reason says why). */
  readonly signal: AbortSignal;
  /** Loses the session now if its safe window has passed on the clock; whether it is lost. */
  expireIfLapsed(): boolean;
}

/** The local turn a hold keeps on its name while it lasts (see name-queue.ts). */
export interface HoldTurn {
  /** Ends the turn: the next caller of this client may ask for the name. */
  end(): void;
  /**
   * Releases the hold through the next caller of this client waiting for the name, if one can take
   * it: the release goes out with that caller's acquire as one command, and the promise settles
   * when the cluster has applied it. null when no caller can; the hold is then released alone.
   */
  handOff(): Promise<void> | null;
}

export type LockKindName = 'mutex' | 'semaphore' | 'rwlock' | 'election';

/**
 * A granted hold: a mutex, a semaphore permit, a read or write hold, or an election's leadership.
 *
 * `signal` aborts as soon as the hold can no longer be guaranteed: when the client's session
 * reaches its safety margin without an acknowledged keepalive (before the server could expire it
 * and grant the name to someone else: LEASE_EXPIRED), when the cluster reports the session
 * expired (SESSION_EXPIRED) or tells that someone else ended the hold (NOT_HOLDER), or when the
 * hold is released. The margin is also checked on the clock whenever `signal.aborted`, `held` or
 * `check()` is read, so a process resumed after a pause sees the loss at its first look, before
 * any timer has run. Work done under the lock must stop when it aborts: check, then act with the
 * token — `lock.check()` right before each action, and `fencingToken` on every write to another
 * system, so that a holder paused between its check and its write is refused there.
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
  /** Set when the cluster told that someone else ended the hold. */
  private revokedBy: RaftlockError | null = null;
  private readonly endTurn = (): void => this.turn.end();

  constructor(
    readonly name: string,
    readonly kind: LockKindName,
    readonly fencingToken: FencingToken,
    readonly session: SessionId,
    private readonly lease: HoldLease,
    private readonly link: HoldLink,
    private readonly turn: HoldTurn,
  ) {
    // A lost session frees the local turn too: the hold is gone, another caller may try.
    lease.signal.addEventListener('abort', this.endTurn, { once: true });
  }

  /**
   * Aborts when the hold ends: released, revoked, or the session lost (see the class comment).
   * Reading `aborted` (or `reason`, or calling `throwIfAborted()`) checks the clock first.
   */
  get signal(): AbortSignal {
    if (this.combined === null) {
      const own = new AbortController();
      this.own = own;
      if (this.revokedBy !== null) own.abort(this.revokedBy);
      else if (this.released) own.abort(this.releasedReason());
      // Whichever ended the hold first gives the reason, as if the signal had existed all along.
      const releasedFirst = (this.released && !this.lostBeforeRelease) || this.revokedBy !== null;
      const sessionSignal = this.lease.signal;
      const combined = AbortSignal.any(releasedFirst ? [own.signal, sessionSignal] : [sessionSignal, own.signal]);
      this.combined = checkedOnRead(combined, () => void this.lease.expireIfLapsed());
    }
    return this.combined;
  }

  /** True until release() is called, the session is lost (checked on the clock) or the hold is revoked. */
  get held(): boolean {
    return !this.released && this.revokedBy === null && !this.lease.expireIfLapsed();
  }

  /**
   * Throws unless the hold is guaranteed right now, reading the monotonic clock: LEASE_EXPIRED
   * once the session's safe window has passed (even if no timer has noticed yet: a process
   * resumed after a pause learns it here, before it acts), SESSION_EXPIRED when the cluster
   * expired the session, NOT_HOLDER when the hold was released or someone else ended it.
   * Synchronous and cheap: call it right before every action taken under the lock.
   */
  check(): void {
    if (this.held) return;
    throw this.endReason();
  }

  /** Why the hold ended, once it has (a RaftlockError for a lost session or a revoked hold). */
  get lostReason(): RaftlockError | undefined {
    if (this.revokedBy !== null) return this.revokedBy;
    if (this.released && !this.lostBeforeRelease) return undefined;
    if (!this.lease.expireIfLapsed()) return undefined;
    return this.sessionReason();
  }

  /** Releases the hold (idempotent). Resolves once the cluster has applied the release. */
  release(): Promise<void> {
    if (this.releasing !== null) return this.releasing;
    const sessionLost = abortedNow(this.lease.signal);
    this.lostBeforeRelease = sessionLost;
    this.released = true;
    this.own?.abort(this.releasedReason());
    // A caller of this client waiting for the name takes the release with its acquire: one commit.
    this.releasing = sessionLost
      ? Promise.resolve()
      : (this.turn.handOff() ?? this.link.release(this.name, this.session, this.kind, this.fencingToken));
    this.releasing = this.releasing.finally(() => {
      this.lease.signal.removeEventListener('abort', this.endTurn);
      this.endTurn();
    });
    return this.releasing;
  }

  /**
   * The cluster told that this hold ended by someone else's hand (released by another client,
   * its node caught up past its end): `signal` aborts with `reason` at once, and the name's local
   * turn passes on. A later release() is harmless.
   */
  revoke(reason: RaftlockError): void {
    if (this.released || this.revokedBy !== null || abortedNow(this.lease.signal)) return;
    this.revokedBy = reason;
    this.own?.abort(reason);
    this.endTurn();
  }

  private endReason(): RaftlockError {
    if (this.revokedBy !== null) return this.revokedBy;
    if (this.released && !this.lostBeforeRelease) return new RaftlockError('NOT_HOLDER', `${this.name} was released`);
    return this.sessionReason() ?? new RaftlockError('SESSION_EXPIRED', `session ${this.session} is lost`);
  }

  private sessionReason(): RaftlockError | undefined {
    const reason: unknown = this.lease.signal.reason;
    const isRaftlock = reason instanceof Error && reason.name === 'RaftlockError';
    return isRaftlock ? (reason as RaftlockError) : undefined;
  }

  private releasedReason(): Error {
    return new Error(`${this.name} was released`);
  }
}
