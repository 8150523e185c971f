/** Locks, semaphores and read/write locks: acquire (a long poll), release, check a fence, list. */
import type { Operation } from '../statemachine/commands.js';
import { sessionId } from '../statemachine/ids.js';
import { locksQueryLimitMax } from '../protocol/client-protocol.js';
import { answer, refusalOutcome } from './commands.js';
import { failure } from './errors.js';
import type { Route, RouteContext } from './route.js';
import { json, refused, route } from './route.js';
import { array, digits, idempotencyHeader, literal, numberOf, object } from './schemas.js';
import { valueOfBody } from './values.js';
import { waitingRequest } from './waiting.js';
import { giveBackRoute } from './give-back-route.js';

interface AcquireBody {
  readonly session: number;
  readonly kind?: 'mutex' | 'semaphore' | 'rwlock' | 'election';
  readonly waitMs?: number;
  readonly permits?: number;
  readonly mode?: 'read' | 'write';
  readonly value?: string;
  readonly text?: string;
  readonly lockDelayMs?: number;
}

/** The operation an acquire body asks for, or what is wrong with it. */
function acquireOperation(name: string, body: AcquireBody): Operation | string {
  const session = sessionId(body.session);
  const kind = body.kind ?? 'mutex';
  const waitMs = body.waitMs ?? 0;
  const lockDelayMs = body.lockDelayMs ?? 0;
  if (body.permits !== undefined && kind !== 'semaphore') return `body/permits: only for kind semaphore, not ${kind}`;
  if (body.mode !== undefined && kind !== 'rwlock') return `body/mode: only for kind rwlock, not ${kind}`;
  if ((body.value !== undefined || body.text !== undefined) && kind !== 'election')
    return `body/value: only for kind election, not ${kind}`;
  switch (kind) {
    case 'mutex':
      return { type: 'acquire', session, name, waitMs, lockDelayMs };
    case 'semaphore':
      if (body.permits === undefined) return 'body/permits: required for kind semaphore';
      return { type: 'acquireSemaphore', session, name, permits: body.permits, waitMs, lockDelayMs };
    case 'rwlock':
      return { type: 'acquireRw', session, name, mode: body.mode ?? 'write', waitMs, lockDelayMs };
    case 'election': {
      const value = valueOfBody(body, false);
      if (!value.ok) return value.error;
      return { type: 'campaign', session, name, value: value.value, waitMs, lockDelayMs };
    }
  }
}

export function lockRoutes(ctx: RouteContext, closing: AbortSignal): Route[] {
  const { gateway, schemas: s } = ctx;
  const nameParams = object({ name: s.name }, ['name']);
  const granted = object({ name: s.name, session: s.session, token: s.token }, ['name', 'session', 'token']);
  return [
    route<{ name: string }, Record<string, never>, AcquireBody>({
      method: 'POST',
      url: '/v1/locks/:name/acquire',
      operationId: 'acquire',
      summary: 'Take a lock (mutex, semaphore, rwlock or election), waiting up to waitMs in its FIFO queue',
      description:
        'Answers when granted (the fencing token), or 409 BUSY at once when waitMs is 0, or 408 TIMEOUT when ' +
        'the wait ends, or 409 DEADLOCK when waiting would close a cycle. The name is one URL path segment ' +
        '(encode "/" as %2F).',
      tag: 'locks',
      schema: {
        params: nameParams,
        headers: idempotencyHeader(gateway.machine),
        body: object(
          {
            session: s.session,
            kind: { type: 'string', enum: ['mutex', 'semaphore', 'rwlock', 'election'], default: 'mutex' },
            waitMs: s.waitMs,
            permits: {
              ...s.session,
              minimum: 1,
              maximum: gateway.machine.permitsMax,
              description: 'semaphore capacity (every request on a name must agree)',
            },
            mode: {
              type: 'string',
              enum: ['read', 'write'],
              description: 'rwlock: shared (read) or exclusive (write, the default)',
            },
            value: s.value,
            text: s.textValue,
            lockDelayMs: s.lockDelayMs,
          },
          ['session'],
        ),
        response: granted,
      },
      handle: async (call) => {
        const operation = acquireOperation(call.params.name, call.body);
        if (typeof operation === 'string') return refused(failure('INVALID_ARGUMENT', operation));
        const session = sessionId(call.body.session);
        const election = operation.type === 'campaign';
        return waitingRequest(ctx, call, closing, {
          session,
          name: call.params.name,
          waitMs: call.body.waitMs ?? 0,
          operation,
          giveBack: election
            ? { type: 'resign', session, name: call.params.name }
            : { type: 'release', session, name: call.params.name },
        });
      },
    }),
    giveBackRoute(ctx, {
      url: '/v1/locks/:name/release',
      operationId: 'release',
      summary: 'Give a lock back (409 NOT_HOLDER when the session does not hold it); the next waiter is granted',
      tag: 'locks',
      command: 'release',
      done: 'released',
    }),
    route<{ name: string }, { token: string }>({
      method: 'GET',
      url: '/v1/locks/:name/fence',
      operationId: 'checkFence',
      summary: 'Whether a fencing token is a current grant of the lock (409 STALE_TOKEN when not)',
      tag: 'locks',
      schema: {
        params: nameParams,
        querystring: object({ token: digits('the fencing token to check') }, ['token']),
        response: object({ lock: s.name, token: s.token, current: literal(true) }, ['lock', 'token', 'current']),
      },
      handle: async (call) => {
        const query = { kind: 'checkFence' as const, lock: call.params.name, token: Number(call.query.token) };
        const result = await gateway.request(call.principal, { kind: 'read', query }, call.remote);
        return answer(gateway, result, 'fence', (v) => ({ lock: v.lock, token: v.token, current: true }));
      },
    }),
    route<Record<string, never>, { prefix?: string; limit?: string }>({
      method: 'GET',
      url: '/v1/locks',
      operationId: 'listLocks',
      summary: 'Locks by name prefix: kind, holders (token, hold time) and the queue of waiters in order',
      tag: 'locks',
      schema: {
        querystring: object({ prefix: s.prefix, limit: s.listLimit }),
        response: array(s.lockDetail),
      },
      handle: async (call) => {
        const limit = numberOf(call.query.limit, 1000);
        if (limit < 1 || limit > locksQueryLimitMax)
          return refused(failure('INVALID_ARGUMENT', `querystring/limit must be 1..${locksQueryLimitMax}`));
        const listing = await gateway.locks(call.principal, call.query.prefix ?? '', limit, call.remote);
        return listing.ok ? json(listing.value) : refusalOutcome(gateway, listing.refusal);
      },
    }),
  ];
}
