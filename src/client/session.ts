import { setMaxListeners } from 'node:events';
import type { SessionId } from '../statemachine/ids.js';
import type { CancelTimer, ClientClock } from './clock.js';
import type { RaftlockErrorCode } from './errors.js';
import { RaftlockError } from './errors.js';
import { abortedNow, checkedOnRead } from './lease-signal.js';

/** What one keepalive came back with: acknowledged, refused (the session is gone), or unknown. */
export type KeepAliveOutcome = 'kept' | 'expired' | 'unknown';

export interface SessionTimingOptions {
  readonly ttlMs: number;
  readonly keepAliveIntervalMs: number;
  /** Bound on the relative clock-rate difference between this client and the leader (0.01 = 1%). */
  readonly driftMax: number;
}

export interface SessionDeps {
  readonly clock: ClientClock;
  /** Sends one keepalive; must not throw (failures are 'unknown'). */
  readonly sendKeepAlive: (session: SessionId, deadlineMs: number) => Promise<KeepAliveOutcome>;
  readonly onLost: (session: ClientSession, reason: RaftlockError) => void;
}

/**
 * The safe window of a lease acknowledged for a keepalive sent at `sentAtMs`: the server counts
 * the TTL from a log time no earlier than the send, so the client is safe until
 * `sentAtMs + ttlMs × (1 − 2 × driftMax)` on its own monotonic clock — the factor 2 covers
 * this clock running slow and the leader's running fast by up to driftMax each.
 */
export function safeUntilMs(sentAtMs: number, ttlMs: number, driftMax: number): number {
  return sentAtMs + ttlMs * (1 - 2 * driftMax);
}

/** Why a session is lost: the cluster said so, or its safe window passed on the client's clock. */
type LossCode = Extract<RaftlockErrorCode, 'SESSION_EXPIRED' | 'LEASE_EXPIRED'>;

/**
 * One server session as the client sees it: keepalives every interval, and `signal`, which aborts
 * the moment the session can no longer be guaranteed to be live on the server — at the safe
 * window's end without a newer acknowledgement (LEASE_EXPIRED), on a SESSION_EXPIRED answer or
 * push, or on close. The window's end is checked on the clock at every read of the signal and by
 * `expireIfLapsed()`, not only by the loss timer: after a pause the first read already knows.
 */
export class ClientSession {
  private readonly controller = new AbortController();
  private readonly checkedSignal: AbortSignal;
  private lastAckSentAtMs: number;
  private cancelLoss: CancelTimer = () => undefined;
  private cancelTick: CancelTimer = () => undefined;

  constructor(
    readonly id: SessionId,
    private readonly timing: SessionTimingOptions,
    openSentAtMs: number,
    private readonly deps: SessionDeps,
  ) {
    // Every lock held in the session and every acquire waiting in it listens here, and each
    // removes its listener when it ends: many at once is normal use, not a leak to warn about.
    setMaxListeners(0, this.controller.signal);
    this.checkedSignal = checkedOnRead(this.controller.signal, () => void this.expireIfLapsed());
    // The open itself is the first acknowledged keepalive: the session's clock starts at its entry.
    this.lastAckSentAtMs = openSentAtMs;
    this.armLoss();
    this.scheduleTick();
  }

  get ttlMs(): number {
    return this.timing.ttlMs;
  }

  /**
   * Aborts (with a SESSION_EXPIRED or LEASE_EXPIRED RaftlockError as reason) when the session is
   * lost or closed; reading it after the safe window's end finds it aborted.
   */
  get signal(): AbortSignal {
    return this.checkedSignal;
  }

  get isLost(): boolean {
    return this.expireIfLapsed();
  }

  /**
   * Declares the session lost (LEASE_EXPIRED) if its safe window has passed on the clock, whether
   * or not the loss timer has run yet: a process resumed after a pause learns it at its first
   * check instead of acting once more. Returns whether the session is lost.
   */
  expireIfLapsed(): boolean {
    if (abortedNow(this.controller.signal)) return true;
    if (this.deps.clock.nowMs() < this.safeUntilMs) return false;
    this.lose('no keepalive acknowledged within the safety margin', 'LEASE_EXPIRED');
    return true;
  }

  /** Client-clock time until which the session is guaranteed live. */
  get safeUntilMs(): number {
    return safeUntilMs(this.lastAckSentAtMs, this.timing.ttlMs, this.timing.driftMax);
  }

  /** A keepalive sent at `sentAtMs` was acknowledged (acknowledgements may arrive out of order). */
  acknowledged(sentAtMs: number): void {
    if (abortedNow(this.controller.signal) || sentAtMs <= this.lastAckSentAtMs) return;
    this.lastAckSentAtMs = sentAtMs;
    this.armLoss();
  }

  /** Declares the session lost now (idempotent). */
  lose(reason: string, code: LossCode = 'SESSION_EXPIRED'): void {
    if (abortedNow(this.controller.signal)) return;
    this.cancelLoss();
    this.cancelTick();
    const error = new RaftlockError(code, `session ${this.id}: ${reason}`);
    this.controller.abort(error);
    this.deps.onLost(this, error);
  }

  /** Stops the timers without reporting a loss (used once the session was closed on purpose). */
  stop(): void {
    this.cancelLoss();
    this.cancelTick();
    if (abortedNow(this.controller.signal)) return;
    this.controller.abort(new RaftlockError('SESSION_EXPIRED', `session ${this.id} was closed`));
  }

  private armLoss(): void {
    this.cancelLoss();
    const clock = this.deps.clock;
    const delayMs = this.safeUntilMs - clock.nowMs();
    if (delayMs <= 0) {
      this.lose('no keepalive acknowledged within the safety margin', 'LEASE_EXPIRED');
      return;
    }
    this.cancelLoss = clock.setTimer(() => {
      // Timers may fire early or late; only the clock decides.
      if (!this.expireIfLapsed()) this.armLoss();
    }, delayMs);
  }

  /**
   * Sends a keepalive now, out of turn: after a reconnection it tells the new node which client
   * and session this connection serves (so pushes about them come here) and renews the lease.
   */
  keepAliveNow(): void {
    if (!abortedNow(this.controller.signal)) void this.keepAlive();
  }

  private scheduleTick(): void {
    this.cancelTick = this.deps.clock.setTimer(() => {
      if (abortedNow(this.controller.signal)) return;
      this.scheduleTick();
      void this.keepAlive();
    }, this.timing.keepAliveIntervalMs);
  }

  private async keepAlive(): Promise<void> {
    const sentAtMs = this.deps.clock.nowMs();
    // Past the safe window an acknowledgement no longer helps: the session is already counted lost.
    const outcome = await this.deps.sendKeepAlive(this.id, this.safeUntilMs);
    if (outcome === 'kept') this.acknowledged(sentAtMs);
    else if (outcome === 'expired') this.lose('the cluster reports it expired');
  }
}
