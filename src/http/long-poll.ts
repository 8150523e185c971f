/**
 * Long-poll lock requests (acquire, campaign): the command is proposed with the caller's `waitMs`;
 * when the state machine queues it, the answer waits for the grant or the wait's timeout, which
 * the node pushes for the command's `(clientId, seq)`. The subscription opens before the command
 * is sent, so a grant that overtakes the command's own answer (a follower may apply the grant
 * before the leader's answer arrives) is not missed.
 *
 * A caller that leaves while its request waits, having sent no Idempotency-Key, can never learn a
 * later grant: the grant is released at once (`onAbandonedGrant`), so no lock is held by nobody.
 */
import type { SessionId } from '../statemachine/ids.js';
import type { ClientOp, PushEvent } from '../protocol/client-protocol.js';
import type { NodeGateway, Refusal } from './gateway.js';

export interface AwaitedCommand {
  readonly principal: string | null;
  readonly remote: string;
  readonly session: SessionId;
  readonly name: string;
  readonly clientId: string;
  readonly seq: number;
  readonly op: ClientOp;
  readonly waitMs: number;
}

export type GrantOutcome =
  { readonly ok: true; readonly token: number } | { readonly ok: false; readonly refusal: Refusal };

export interface WaitSignals {
  /** The caller went away before its answer. */
  readonly callerGone: AbortSignal;
  /** The HTTP server is closing: answer now. */
  readonly closing: AbortSignal;
}

/** After the wait's own deadline, how long to wait for its outcome to reach this node. */
export const outcomeGraceMs = 10_000;

export async function requestWithWait(
  gateway: NodeGateway,
  command: AwaitedCommand,
  signals: WaitSignals,
  onAbandonedGrant: ((token: number) => void) | null,
): Promise<GrantOutcome> {
  let settled: GrantOutcome | null = null;
  let wake: (() => void) | null = null;
  const settle = (outcome: GrantOutcome): void => {
    if (settled !== null) return;
    settled = outcome;
    wake?.();
  };
  const onPush = (push: PushEvent): void => {
    const ours = 'seq' in push && push.clientId === command.clientId && push.seq === command.seq;
    if (ours && push.kind === 'granted') settle({ ok: true, token: push.token });
    else if (ours && push.kind === 'timeout') {
      settle({
        ok: false,
        refusal: { code: 'TIMEOUT', message: `the wait for ${command.name} timed out after ${command.waitMs} ms` },
      });
    } else if (push.kind === 'sessionExpired' && push.session === command.session) {
      settle({
        ok: false,
        refusal: {
          code: 'SESSION_EXPIRED',
          message: `session ${command.session} expired while waiting for ${command.name}`,
        },
      });
    }
  };
  const unsubscribe = gateway.subscribe(
    command.principal,
    { clientId: command.clientId, session: command.session },
    onPush,
  );
  let keepListening = false;
  try {
    const result = await gateway.request(command.principal, command.op, command.remote);
    if (result.code !== 'OK') return { ok: false, refusal: result };
    const value = result.value;
    if (value.kind === 'granted') return { ok: true, token: value.token };
    if (value.kind !== 'queued') {
      return {
        ok: false,
        refusal: { code: 'UNAVAILABLE', message: `unexpected answer ${value.kind} to a lock request` },
      };
    }
    const deadline = command.waitMs + outcomeGraceMs;
    const outcome = await new Promise<GrantOutcome | 'callerGone' | 'closing' | 'late'>((resolve) => {
      if (settled !== null) return resolve(settled);
      const timer = setTimeout(() => resolve('late'), deadline);
      const stop = (why: 'callerGone' | 'closing') => (): void => {
        clearTimeout(timer);
        resolve(why);
      };
      signals.callerGone.addEventListener('abort', stop('callerGone'), { once: true });
      signals.closing.addEventListener('abort', stop('closing'), { once: true });
      wake = (): void => {
        clearTimeout(timer);
        if (settled !== null) resolve(settled);
      };
    });
    if (outcome === 'late') {
      const message = `the outcome of the wait for ${command.name} did not reach this node in time; retry with Idempotency-Key ${command.clientId}:${command.seq}`;
      return { ok: false, refusal: { code: 'UNAVAILABLE', message } };
    }
    if (outcome === 'closing') {
      const message = `this node is shutting down; retry elsewhere with Idempotency-Key ${command.clientId}:${command.seq}`;
      return { ok: false, refusal: { code: 'UNAVAILABLE', message } };
    }
    if (outcome === 'callerGone') {
      if (onAbandonedGrant !== null) {
        keepListening = true;
        releaseWhenGranted(command.waitMs + outcomeGraceMs, unsubscribe, onAbandonedGrant, (handler) => {
          if (settled !== null) return handler(settled);
          wake = () => {
            if (settled !== null) handler(settled);
          };
        });
      }
      return { ok: false, refusal: { code: 'UNAVAILABLE', message: 'the caller went away' } };
    }
    return outcome;
  } finally {
    if (!keepListening) unsubscribe();
  }
}

/** Keeps listening for an abandoned wait's outcome (bounded by `forMs`); a grant is handed to `release`. */
function releaseWhenGranted(
  forMs: number,
  unsubscribe: () => void,
  release: (token: number) => void,
  onOutcome: (handler: (outcome: GrantOutcome) => void) => void,
): void {
  const timer = setTimeout(unsubscribe, forMs);
  timer.unref();
  onOutcome((outcome) => {
    clearTimeout(timer);
    unsubscribe();
    if (outcome.ok) release(outcome.token);
  });
}
