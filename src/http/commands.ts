/**
 * Running state machine commands for HTTP requests: each gets its `(clientId, seq)` from the
 * caller's Idempotency-Key or from the node's lanes (command-ids.ts), goes through the node's
 * request path, and is answered with the key in the `Idempotency-Key` response header, so a caller
 * that got 503 (outcome unknown) can retry and be answered from the exactly-once table.
 */
import type { Operation } from '../statemachine/commands.js';
import type { SessionId } from '../statemachine/ids.js';
import type { WireResult, WireValue } from '../protocol/client-protocol.js';
import { commandOp } from '../protocol/client-protocol.js';
import type { CommandId } from './command-ids.js';
import type { HttpFailure, LeaderHint } from './errors.js';
import { failure, failureOfRefusal } from './errors.js';
import type { NodeGateway } from './gateway.js';
import type { Call, Outcome, RouteContext } from './route.js';
import { json, refused } from './route.js';

/** A command's id and whether the caller chose it. */
export interface ChosenId {
  readonly id: CommandId;
  readonly fromCaller: boolean;
  /** The response header naming it. */
  readonly headers: Readonly<Record<string, string>>;
}

/** `<clientId>:<seq>` as sent in the Idempotency-Key header (the schema checked its form). */
export function parseIdempotencyKey(header: string): { readonly clientId: string; readonly seq: number } {
  const colon = header.lastIndexOf(':');
  return { clientId: header.slice(0, colon), seq: Number(header.slice(colon + 1)) };
}

/** The command id of this call: the caller's key, or a lane's next id (`session` null: opening one). */
export async function chooseId(
  ctx: RouteContext,
  call: Call<unknown, unknown, unknown>,
  session: SessionId | null,
): Promise<ChosenId> {
  const header = call.header('idempotency-key');
  let id: CommandId;
  if (header !== undefined) {
    const { clientId, seq } = parseIdempotencyKey(header);
    id = { clientId, seq, done: () => undefined };
  } else {
    id = session === null ? ctx.ids.forOpen() : await ctx.ids.forSession(call.principal, session);
  }
  return { id, fromCaller: header !== undefined, headers: { 'idempotency-key': `${id.clientId}:${id.seq}` } };
}

/** Frees the id's lane; a lane whose outcome the caller may not have learnt is retired. */
export function finishId(chosen: ChosenId, call: Call<unknown, unknown, unknown>, result: WireResult): void {
  chosen.id.done({ retire: result.code === 'UNAVAILABLE' || call.gone.aborted });
}

/** Runs `operation` as this call's command, in `session` (null: openSession). */
export async function runCommand(
  ctx: RouteContext,
  call: Call<unknown, unknown, unknown>,
  session: SessionId | null,
  operation: (clientId: string, seq: number) => Operation,
): Promise<{ readonly result: WireResult; readonly headers: Readonly<Record<string, string>> }> {
  const chosen = await chooseId(ctx, call, session);
  const { clientId, seq } = chosen.id;
  const result = await ctx.gateway.request(
    call.principal,
    commandOp(clientId, seq, operation(clientId, seq)),
    call.remote,
  );
  finishId(chosen, call, result);
  if (session !== null && result.code === 'SESSION_EXPIRED') ctx.ids.sessionEnded(session);
  return { result, headers: chosen.headers };
}

export function leaderHint(gateway: NodeGateway): () => LeaderHint {
  return () => {
    const leader = gateway.leader;
    return { leader, leaderHttp: leader === null ? null : gateway.httpAddress(leader) };
  };
}

/** A refusal as an HTTP failure, with the command's headers. */
export function refusalOutcome(
  gateway: NodeGateway,
  result: Exclude<WireResult, { code: 'OK' }>,
  headers?: Readonly<Record<string, string>>,
): Outcome {
  const mapped = failureOfRefusal(result, leaderHint(gateway));
  return refused(headers === undefined ? mapped : { ...mapped, headers: { ...mapped.headers, ...headers } });
}

/** An OK answer whose value is of `kind`, turned into a body; anything else is a refusal or a surprise. */
export function answer<K extends WireValue['kind']>(
  gateway: NodeGateway,
  result: WireResult,
  kind: K,
  body: (value: Extract<WireValue, { kind: K }>) => unknown,
  headers?: Readonly<Record<string, string>>,
): Outcome {
  if (result.code !== 'OK') return refusalOutcome(gateway, result, headers);
  if (result.value.kind !== kind) return refused(unexpected(kind, result.value.kind));
  return json(body(result.value as Extract<WireValue, { kind: K }>), headers);
}

function unexpected(wanted: string, got: string): HttpFailure {
  return failure('UNAVAILABLE', `the node answered ${got} where ${wanted} was expected`);
}
