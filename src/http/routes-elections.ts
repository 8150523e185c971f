/** Elections: campaign (a long poll), resign, proclaim a new value, observe the leader. */
import { sessionId } from '../statemachine/ids.js';
import { answer, runCommand } from './commands.js';
import { failure } from './errors.js';
import type { Route, RouteContext } from './route.js';
import { refused, route } from './route.js';
import { idempotencyHeader, nullable, object } from './schemas.js';
import { leaderBody, valueOfBody } from './values.js';
import { waitingRequest } from './waiting.js';
import { giveBackRoute } from './give-back-route.js';

interface CampaignBody {
  readonly session: number;
  readonly value?: string;
  readonly text?: string;
  readonly waitMs?: number;
  readonly lockDelayMs?: number;
}

export function electionRoutes(ctx: RouteContext, closing: AbortSignal): Route[] {
  const { gateway, schemas: s } = ctx;
  const nameParams = object({ name: s.name }, ['name']);
  const leader = object({ session: s.session, token: s.token, value: s.value, text: nullable(s.textValue) }, [
    'session',
    'token',
    'value',
    'text',
  ]);
  return [
    route<{ name: string }, Record<string, never>, CampaignBody>({
      method: 'POST',
      url: '/v1/elections/:name/campaign',
      operationId: 'campaign',
      summary: 'Run for leader with a value, waiting up to waitMs; answers with the leadership token',
      tag: 'elections',
      schema: {
        params: nameParams,
        headers: idempotencyHeader(gateway.machine),
        body: object(
          { session: s.session, value: s.value, text: s.textValue, waitMs: s.waitMs, lockDelayMs: s.lockDelayMs },
          ['session'],
        ),
        response: object({ name: s.name, session: s.session, token: s.token }, ['name', 'session', 'token']),
      },
      handle: async (call) => {
        const value = valueOfBody(call.body, false);
        if (!value.ok) return refused(failure('INVALID_ARGUMENT', value.error));
        const session = sessionId(call.body.session);
        const name = call.params.name;
        const waitMs = call.body.waitMs ?? 0;
        const lockDelayMs = call.body.lockDelayMs ?? 0;
        return waitingRequest(ctx, call, closing, {
          session,
          name,
          waitMs,
          operation: { type: 'campaign', session, name, value: value.value, waitMs, lockDelayMs },
          giveBack: { type: 'resign', session, name },
        });
      },
    }),
    giveBackRoute(ctx, {
      url: '/v1/elections/:name/resign',
      operationId: 'resign',
      summary: 'Step down as leader (409 NOT_HOLDER when not leading); the next candidate is elected',
      tag: 'elections',
      command: 'resign',
      done: 'resigned',
    }),
    route<{ name: string }, Record<string, never>, { session: number; value?: string; text?: string }>({
      method: 'POST',
      url: '/v1/elections/:name/proclaim',
      operationId: 'proclaim',
      summary: 'The leader changes its value (409 NOT_HOLDER when the session does not lead)',
      tag: 'elections',
      schema: {
        params: nameParams,
        headers: idempotencyHeader(gateway.machine),
        body: object({ session: s.session, value: s.value, text: s.textValue }, ['session']),
        response: object({ name: s.name, token: s.token }, ['name', 'token']),
      },
      handle: async (call) => {
        const value = valueOfBody(call.body, true);
        if (!value.ok) return refused(failure('INVALID_ARGUMENT', value.error));
        const session = sessionId(call.body.session);
        const { result, headers } = await runCommand(ctx, call, session, () => ({
          type: 'proclaim',
          session,
          name: call.params.name,
          value: value.value,
        }));
        return answer(gateway, result, 'proclaimed', (v) => ({ name: v.name, token: v.token }), headers);
      },
    }),
    route<{ name: string }>({
      method: 'GET',
      url: '/v1/elections/:name',
      operationId: 'observe',
      summary: 'The current leader of an election and its value (leader null when nobody leads)',
      tag: 'elections',
      schema: { params: nameParams, response: object({ name: s.name, leader: nullable(leader) }, ['name', 'leader']) },
      handle: async (call) => {
        const result = await gateway.request(
          call.principal,
          { kind: 'read', query: { kind: 'observe', name: call.params.name } },
          call.remote,
        );
        return answer(gateway, result, 'leader', (v) => ({
          name: v.name,
          leader: v.leader === null ? null : leaderBody(v.leader),
        }));
      },
    }),
  ];
}
