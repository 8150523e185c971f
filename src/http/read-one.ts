/**
 * Reading one thing that may not exist (a key, a live session): the read goes through the node's
 * request path as the caller, and a successful read that found nothing is 404 NOT_FOUND with a
 * message naming what is missing, rather than a 200 with a null body.
 */
import type { Query, WireValue } from '../protocol/client-protocol.js';
import { answer } from './commands.js';
import { failure } from './errors.js';
import type { Call, Outcome, RouteContext } from './route.js';
import { refused } from './route.js';

export interface ReadOne<K extends WireValue['kind'], T> {
  readonly query: Query;
  /** The kind of answer the query gets. */
  readonly kind: K;
  /** The thing in the answer, or null when it does not exist. */
  readonly pick: (value: Extract<WireValue, { kind: K }>) => T | null;
  /** The response body for the thing found. */
  readonly body: (found: T) => unknown;
  /** What the 404 says: "key "a" does not exist". */
  readonly missing: string;
}

export async function readOne<K extends WireValue['kind'], T>(
  ctx: RouteContext,
  call: Call<unknown, unknown, unknown>,
  read: ReadOne<K, T>,
): Promise<Outcome> {
  const { gateway } = ctx;
  const result = await gateway.request(call.principal, { kind: 'read', query: read.query }, call.remote);
  if (result.code === 'OK' && result.value.kind === read.kind) {
    if (read.pick(result.value as Extract<WireValue, { kind: K }>) === null) {
      return refused(failure('NOT_FOUND', read.missing));
    }
  }
  // Found, or not answered: `answer` renders the one and maps the other's refusal.
  return answer(gateway, result, read.kind, (value) => {
    const found = read.pick(value);
    return found === null ? null : read.body(found);
  });
}
