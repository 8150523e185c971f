/** Sessions: open with a TTL, keep alive, close, look at one, list the caller's. */
import { sessionId } from '../statemachine/ids.js';
import { locksQueryLimitMax } from '../protocol/client-protocol.js';
import { answer, refusalOutcome, runCommand } from './commands.js';
import { failure } from './errors.js';
import type { Route, RouteContext } from './route.js';
import { json, refused, route } from './route.js';
import { readOne } from './read-one.js';
import { digits, idempotencyHeader, integer, literal, numberOf, object, positiveDigits, array } from './schemas.js';

export function sessionRoutes(ctx: RouteContext): Route[] {
  const { gateway, schemas: s } = ctx;
  const idParams = object({ id: positiveDigits }, ['id']);
  return [
    route<Record<string, never>, Record<string, never>, { ttlMs: number }>({
      method: 'POST',
      url: '/v1/sessions',
      operationId: 'openSession',
      summary: 'Open a session with a TTL; keep it alive with /keepalive more often than the TTL',
      tag: 'sessions',
      schema: {
        body: object({ ttlMs: s.ttlMs }, ['ttlMs']),
        headers: idempotencyHeader(gateway.machine),
        response: object({ session: s.session, ttlMs: integer(0) }, ['session', 'ttlMs']),
      },
      handle: async (call) => {
        const { result, headers } = await runCommand(ctx, call, null, () => ({
          type: 'openSession',
          ttlMs: call.body.ttlMs,
        }));
        return answer(gateway, result, 'session', (v) => ({ session: v.session, ttlMs: v.ttlMs }), headers);
      },
    }),
    route<Record<string, never>, { after?: string; limit?: string }>({
      method: 'GET',
      url: '/v1/sessions',
      operationId: 'listSessions',
      summary: 'The live sessions the caller may use (its own; every one for an admin), in id order',
      tag: 'sessions',
      schema: {
        querystring: object({ after: digits('only sessions with a larger id (paging)'), limit: s.listLimit }),
        response: array(s.sessionDetail),
      },
      handle: async (call) => {
        const limit = numberOf(call.query.limit, 1000);
        if (limit < 1 || limit > locksQueryLimitMax)
          return refused(failure('INVALID_ARGUMENT', `querystring/limit must be 1..${locksQueryLimitMax}`));
        const listing = await gateway.sessions(call.principal, numberOf(call.query.after, 0), limit, call.remote);
        return listing.ok ? json(listing.value) : refusalOutcome(gateway, listing.refusal);
      },
    }),
    route<{ id: string }>({
      method: 'GET',
      url: '/v1/sessions/:id',
      operationId: 'getSession',
      summary: 'One session: owner, TTL, deadline, what it holds and waits for (404 when not live)',
      tag: 'sessions',
      schema: { params: idParams, response: s.sessionView },
      handle: (call) => {
        const session = sessionId(Number(call.params.id));
        return readOne(ctx, call, {
          query: { kind: 'session', session },
          kind: 'sessionInfo',
          pick: (v) => v.session,
          body: (info) => info,
          missing: `session ${session} is not live`,
        });
      },
    }),
    route<{ id: string }>({
      method: 'POST',
      url: '/v1/sessions/:id/keepalive',
      operationId: 'keepAlive',
      summary: 'Extend a session by its TTL (410 SESSION_EXPIRED when it is gone)',
      tag: 'sessions',
      schema: {
        params: idParams,
        response: object({ session: s.session, deadlineMs: integer(0) }, ['session', 'deadlineMs']),
      },
      handle: async (call) => {
        const session = sessionId(Number(call.params.id));
        const clientId = ctx.ids.forOpen().clientId;
        const result = await gateway.request(call.principal, { kind: 'keepAlive', session, clientId }, call.remote);
        if (result.code === 'SESSION_EXPIRED') ctx.ids.sessionEnded(session);
        return answer(gateway, result, 'kept', (v) => ({ session: v.session, deadlineMs: v.deadlineMs }));
      },
    }),
    route<{ id: string }>({
      method: 'DELETE',
      url: '/v1/sessions/:id',
      operationId: 'closeSession',
      summary: 'Close a session: its locks are released and its ephemeral keys deleted',
      tag: 'sessions',
      schema: {
        params: idParams,
        headers: idempotencyHeader(gateway.machine),
        response: object({ session: s.session, closed: literal(true) }, ['session', 'closed']),
      },
      handle: async (call) => {
        const session = sessionId(Number(call.params.id));
        const { result, headers } = await runCommand(ctx, call, session, () => ({ type: 'closeSession', session }));
        if (result.code === 'OK') ctx.ids.sessionEnded(session);
        return answer(gateway, result, 'closed', (v) => ({ session: v.session, closed: true }), headers);
      },
    }),
  ];
}
