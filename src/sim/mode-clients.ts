/**
 * The client side both simulation modes share (src/sim/raft-mode.ts, src/sim/lock-mode.ts): every
 * reply goes either to the script that sent the request, kept by request id until the Simulation
 * asks for it, or to the mode's random clients. A mode adds what its replies are, how one reads as
 * a ClientAnswer, and everything its nodes run.
 */
import type { ClientAnswer } from './node-driver.js';
import { isScriptedRequest } from './node-driver.js';

/** A mode's random clients, as far as the shared client side deals with them. */
export interface ModeWorkload<R> {
  /** When they send next. */
  readonly nextAtMs: number;
  /** Requests sent and not answered yet. */
  readonly openCount: number;
  complete(nowMs: number, reply: R): void;
}

export abstract class ModeClients<R extends { readonly requestId: string }> {
  /** Replies to scripted requests, by request id. */
  private readonly scripted = new Map<string, R>();

  /** The random clients; null when a script sends every request. */
  protected abstract readonly workload: ModeWorkload<R> | null;

  /** How the mode's reply reads to whoever sent a scripted request. */
  protected abstract clientAnswer(reply: R): ClientAnswer;

  answerOf(requestId: string): ClientAnswer | undefined {
    const reply = this.scripted.get(requestId);
    return reply === undefined ? undefined : this.clientAnswer(reply);
  }

  nextRequestAtMs(): number | null {
    return this.workload?.nextAtMs ?? null;
  }

  get openRequests(): number {
    return this.workload?.openCount ?? 0;
  }

  /** Hands a reply to the script that sent its request, or else to the random clients. */
  protected deliver(nowMs: number, reply: R): void {
    if (isScriptedRequest(reply.requestId)) this.scripted.set(reply.requestId, reply);
    else this.workload?.complete(nowMs, reply);
  }
}
