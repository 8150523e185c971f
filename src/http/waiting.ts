/**
 * The handler of a lock request that may wait (acquire, campaign): its command id, the long poll
 * (long-poll.ts), and the answer `{ name, session, token }` or the refusal (408 TIMEOUT, 409 BUSY
 * or DEADLOCK, 410 SESSION_EXPIRED, ...).
 */
import type { Operation } from '../statemachine/commands.js';
import type { SessionId } from '../statemachine/ids.js';
import { commandOp } from '../protocol/client-protocol.js';
import { chooseId, finishId, refusalOutcome } from './commands.js';
import { requestWithWait } from './long-poll.js';
import type { Call, Outcome, RouteContext } from './route.js';
import { json } from './route.js';

export interface WaitingRequest {
  readonly session: SessionId;
  readonly name: string;
  readonly waitMs: number;
  /** The command that may queue. */
  readonly operation: Operation;
  /** The command that gives a grant back (release, resign), for a caller that left. */
  readonly giveBack: Operation;
}

export async function waitingRequest(
  ctx: RouteContext,
  call: Call<unknown, unknown, unknown>,
  closing: AbortSignal,
  request: WaitingRequest,
): Promise<Outcome> {
  const { gateway } = ctx;
  const chosen = await chooseId(ctx, call, request.session);
  const { clientId, seq } = chosen.id;
  const giveBack = async (token: number): Promise<void> => {
    const id = await ctx.ids.forSession(call.principal, request.session);
    const result = await gateway.request(call.principal, commandOp(id.clientId, id.seq, request.giveBack), call.remote);
    id.done({ retire: result.code === 'UNAVAILABLE' });
    gateway.log.info('gave back the grant of a long poll whose caller left', {
      remote: call.remote,
      user: call.principal,
      name: request.name,
      session: request.session,
      token,
      result: result.code,
    });
  };
  const outcome = await requestWithWait(
    gateway,
    {
      principal: call.principal,
      remote: call.remote,
      session: request.session,
      name: request.name,
      clientId,
      seq,
      op: commandOp(clientId, seq, request.operation),
      waitMs: request.waitMs,
    },
    { callerGone: call.gone, closing },
    // A caller that chose its key can retry and learn of the grant: it stays the caller's.
    chosen.fromCaller ? null : (token) => void giveBack(token),
  );
  finishId(chosen, call, outcome.ok ? { code: 'OK', value: { kind: 'accepted' } } : outcome.refusal);
  if (!outcome.ok) return refusalOutcome(gateway, outcome.refusal, chosen.headers);
  return json({ name: request.name, session: request.session, token: outcome.token }, chosen.headers);
}
