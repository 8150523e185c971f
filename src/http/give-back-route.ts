/**
 * The route by which a session gives back what it holds under a name: a lock's release
 * (routes-locks.ts) and an election's resign (routes-elections.ts) are the same request, `{ session }`
 * posted to the name's URL, answered `{ name, <done>: true }` (409 NOT_HOLDER when the session holds
 * nothing there), so one place declares its schema and runs it.
 */
import { sessionId } from '../statemachine/ids.js';
import { answer, runCommand } from './commands.js';
import type { Route, RouteContext } from './route.js';
import { route } from './route.js';
import { idempotencyHeader, literal, object } from './schemas.js';

export interface GiveBackSpec {
  /** With a `:name` parameter. */
  readonly url: string;
  readonly operationId: string;
  readonly summary: string;
  readonly tag: string;
  /** The command that gives the hold back. */
  readonly command: 'release' | 'resign';
  /** The answer's flag: `released`, `resigned`. */
  readonly done: string;
}

export function giveBackRoute(ctx: RouteContext, spec: GiveBackSpec): Route {
  const { gateway, schemas: s } = ctx;
  return route<{ name: string }, Record<string, never>, { session: number }>({
    method: 'POST',
    url: spec.url,
    operationId: spec.operationId,
    summary: spec.summary,
    tag: spec.tag,
    schema: {
      params: object({ name: s.name }, ['name']),
      headers: idempotencyHeader(gateway.machine),
      body: object({ session: s.session }, ['session']),
      response: object({ name: s.name, [spec.done]: literal(true) }, ['name', spec.done]),
    },
    handle: async (call) => {
      const session = sessionId(call.body.session);
      const { result, headers } = await runCommand(ctx, call, session, () => ({
        type: spec.command,
        session,
        name: call.params.name,
      }));
      return answer(gateway, result, 'released', (v) => ({ name: v.name, [spec.done]: true }), headers);
    },
  });
}
