/** Keys: get, put (with ifVersion or a fence), compare-and-set, delete, list by prefix. */
import type { Fence } from '../statemachine/commands.js';
import { sessionId } from '../statemachine/ids.js';
import { keysQueryLimitMax } from '../protocol/client-protocol.js';
import { answer, runCommand } from './commands.js';
import { failure } from './errors.js';
import type { Call, Outcome, Route, RouteContext } from './route.js';
import { refused, route } from './route.js';
import {
  array,
  digits,
  idempotencyHeader,
  integer,
  nullable,
  numberOf,
  object,
  positiveDigits,
  text,
} from './schemas.js';
import { keyBody, valueOfBody } from './values.js';
import { readOne } from './read-one.js';

interface PutBody {
  readonly session: number;
  readonly value?: string;
  readonly text?: string;
  readonly ifVersion?: number;
  readonly fence?: Fence;
  readonly ephemeral?: boolean;
}

export function kvRoutes(ctx: RouteContext): Route[] {
  const { gateway, schemas: s } = ctx;
  const keyParams = object({ key: s.name }, ['key']);
  const written = object({ key: s.name, version: integer(1), createIndex: integer(0), modifyIndex: integer(0) }, [
    'key',
    'version',
    'createIndex',
    'modifyIndex',
  ]);
  const putProperties = {
    session: s.session,
    value: s.value,
    text: s.textValue,
    ifVersion: s.ifVersion,
    fence: s.fence,
    ephemeral: { type: 'boolean', description: 'delete the key when the session ends' },
  };
  const put =
    (required: boolean) =>
    async (call: Call<{ key: string }, Record<string, never>, PutBody>): Promise<Outcome> => {
      if (required && call.body.ifVersion === undefined)
        return refused(failure('INVALID_ARGUMENT', 'body/ifVersion: required for compare-and-set'));
      const value = valueOfBody(call.body, true);
      if (!value.ok) return refused(failure('INVALID_ARGUMENT', value.error));
      const session = sessionId(call.body.session);
      const { result, headers } = await runCommand(ctx, call, session, () => ({
        type: 'put',
        session,
        key: call.params.key,
        value: value.value,
        ifVersion: call.body.ifVersion ?? null,
        ephemeral: call.body.ephemeral ?? false,
        fence: call.body.fence ?? null,
      }));
      return answer(
        gateway,
        result,
        'put',
        (v) => ({ key: v.key, version: v.version, createIndex: v.createIndex, modifyIndex: v.modifyIndex }),
        headers,
      );
    };
  return [
    route<{ key: string }>({
      method: 'GET',
      url: '/v1/kv/:key',
      operationId: 'getKey',
      summary: 'A key: its value (base64, and as text when UTF-8) and versions (404 when absent)',
      description: 'The key is one URL path segment (encode "/" as %2F).',
      tag: 'kv',
      schema: { params: keyParams, response: s.keyBody },
      handle: (call) =>
        readOne(ctx, call, {
          query: { kind: 'get', key: call.params.key },
          kind: 'key',
          pick: (v) => v.key,
          body: keyBody,
          missing: `key ${JSON.stringify(call.params.key)} does not exist`,
        }),
    }),
    route<{ key: string }, Record<string, never>, PutBody>({
      method: 'PUT',
      url: '/v1/kv/:key',
      operationId: 'putKey',
      summary:
        'Write a key; with ifVersion only at that version (409 VERSION_MISMATCH), with a fence only while its token is current (409 STALE_TOKEN)',
      tag: 'kv',
      schema: {
        params: keyParams,
        headers: idempotencyHeader(gateway.machine),
        body: object(putProperties, ['session']),
        response: written,
      },
      handle: put(false),
    }),
    route<{ key: string }, Record<string, never>, PutBody>({
      method: 'POST',
      url: '/v1/kv/:key/cas',
      operationId: 'compareAndSet',
      summary:
        'Write a key only if its version is ifVersion (0: only if absent); 409 VERSION_MISMATCH names the current version',
      tag: 'kv',
      schema: {
        params: keyParams,
        headers: idempotencyHeader(gateway.machine),
        body: object(putProperties, ['session', 'ifVersion']),
        response: written,
      },
      handle: put(true),
    }),
    route<{ key: string }, { session: string; ifVersion?: string; fenceLock?: string; fenceToken?: string }>({
      method: 'DELETE',
      url: '/v1/kv/:key',
      operationId: 'deleteKey',
      summary: 'Delete a key, optionally only at a version or under a fence',
      tag: 'kv',
      schema: {
        params: keyParams,
        headers: idempotencyHeader(gateway.machine),
        querystring: object(
          {
            session: positiveDigits,
            ifVersion: digits("the key's version must be this (0: it must not exist)"),
            fenceLock: s.name,
            fenceToken: positiveDigits,
          },
          ['session'],
        ),
        response: object({ key: s.name, existed: { type: 'boolean' } }, ['key', 'existed']),
      },
      handle: async (call) => {
        const { fenceLock, fenceToken } = call.query;
        if ((fenceLock === undefined) !== (fenceToken === undefined)) {
          return refused(failure('INVALID_ARGUMENT', 'querystring: give fenceLock and fenceToken together'));
        }
        const fence =
          fenceLock === undefined || fenceToken === undefined ? null : { lock: fenceLock, token: Number(fenceToken) };
        const session = sessionId(Number(call.query.session));
        const ifVersion = call.query.ifVersion === undefined ? null : Number(call.query.ifVersion);
        const { result, headers } = await runCommand(ctx, call, session, () => ({
          type: 'delete',
          session,
          key: call.params.key,
          ifVersion,
          fence,
        }));
        return answer(gateway, result, 'deleted', (v) => ({ key: v.key, existed: v.existed }), headers);
      },
    }),
    route<Record<string, never>, { prefix?: string; after?: string; limit?: string }>({
      method: 'GET',
      url: '/v1/kv',
      operationId: 'listKeys',
      summary: 'Keys by name prefix, in name order, a page at a time: pass next as after for the next page',
      tag: 'kv',
      schema: {
        querystring: object({
          prefix: s.prefix,
          after: text(gateway.machine.nameBytesMax, "only keys after this one (the previous page's next)"),
          limit: digits(`at most this many (1..${keysQueryLimitMax}, default 100)`),
        }),
        response: object({ keys: array(s.keyBody), next: nullable(s.name) }, ['keys', 'next']),
      },
      handle: async (call) => {
        const limit = numberOf(call.query.limit, 100);
        if (limit < 1 || limit > keysQueryLimitMax)
          return refused(failure('INVALID_ARGUMENT', `querystring/limit must be 1..${keysQueryLimitMax}`));
        const query = {
          kind: 'keys' as const,
          prefix: call.query.prefix ?? '',
          after: call.query.after ?? null,
          limit,
        };
        const result = await gateway.request(call.principal, { kind: 'read', query }, call.remote);
        return answer(gateway, result, 'keys', (v) => ({ keys: v.keys.map(keyBody), next: v.next }));
      },
    }),
  ];
}
