/**
 * The JSON schemas of the HTTP API: fastify validates every request with them and serializes every
 * answer with them, and the OpenAPI document (openapi.ts) is made from the very same objects. Built
 * from the node's state machine limits, so the document states the limits this node enforces.
 */
import type { LockMachineConfig } from '../statemachine/config.js';
import {
  locksQueryLimitMax,
  passwordBytesMax,
  prefixLengthMax,
  principalLengthMax,
} from '../protocol/client-protocol.js';
import { httpErrorCodes } from './errors.js';

export type JsonSchema = Readonly<Record<string, unknown>>;

/** The longest a long-poll may wait (`waitMs` of an acquire or a campaign). */
export const longPollMaxMs = 30_000;

export function object(
  properties: Readonly<Record<string, JsonSchema>>,
  required: readonly string[] = [],
  description?: string,
): JsonSchema {
  return {
    type: 'object',
    additionalProperties: false,
    properties,
    ...(required.length === 0 ? {} : { required }),
    ...(description === undefined ? {} : { description }),
  };
}

export function integer(minimum: number, maximum: number = Number.MAX_SAFE_INTEGER, description?: string): JsonSchema {
  return { type: 'integer', minimum, maximum, ...(description === undefined ? {} : { description }) };
}

export function text(maxLength: number, description?: string, minLength = 0): JsonSchema {
  return {
    type: 'string',
    ...(minLength > 0 ? { minLength } : {}),
    maxLength,
    ...(description === undefined ? {} : { description }),
  };
}

export function array(items: JsonSchema, description?: string): JsonSchema {
  return { type: 'array', items, ...(description === undefined ? {} : { description }) };
}

export function nullable(schema: JsonSchema): JsonSchema {
  const type = schema['type'];
  return { ...schema, type: [typeof type === 'string' ? type : 'object', 'null'] };
}

export function literal(value: string | boolean): JsonSchema {
  return { type: typeof value, enum: [value] };
}

/** A query-string integer: digits (query strings are text; the route converts them). */
export function digits(description: string): JsonSchema {
  return { type: 'string', pattern: '^(0|[1-9][0-9]{0,15})$', description };
}

/** Every schema the routes share, for one node's limits. */
export function schemasFor(machine: LockMachineConfig) {
  const base64Max = Math.ceil(machine.valueBytesMax / 3) * 4;
  const session = integer(1, Number.MAX_SAFE_INTEGER, 'a session id (from POST /v1/sessions)');
  const name = text(machine.nameBytesMax, 'a lock, election or key name (at most nameBytesMax bytes of UTF-8)', 1);
  const token = integer(1, Number.MAX_SAFE_INTEGER, 'a fencing token');
  const value = {
    type: 'string',
    contentEncoding: 'base64',
    pattern: '^[A-Za-z0-9+/]*={0,2}$',
    maxLength: base64Max,
    description: `bytes in base64 (at most ${machine.valueBytesMax} bytes); give value or text, not both`,
  };
  const textValue = text(machine.valueBytesMax, 'the value as UTF-8 text; give value or text, not both');
  const prefix = text(prefixLengthMax, 'names starting with this ("" for every name)');
  const errorBody = object(
    {
      code: { type: 'string', enum: httpErrorCodes },
      message: { type: 'string' },
      version: integer(0),
      cycle: array(object({ session, lock: name }, ['session', 'lock'])),
      leader: nullable(text(64)),
      leaderHttp: nullable(text(300)),
    },
    ['code', 'message'],
    'a refusal: its code, what is wrong, and for 503 the leader this node knows',
  );
  const keyBody = object(
    {
      key: name,
      value: { ...value, description: 'the value in base64' },
      text: nullable(text(machine.valueBytesMax, 'the value as text when it is valid UTF-8, else null')),
      version: integer(1),
      createIndex: integer(0),
      modifyIndex: integer(0),
      ephemeralSession: nullable(session),
    },
    ['key', 'value', 'text', 'version', 'createIndex', 'modifyIndex', 'ephemeralSession'],
  );
  const sessionView = {
    session,
    clientId: text(machine.clientIdBytesMax),
    owner: nullable(text(principalLengthMax)),
    ttlMs: integer(0),
    lastSeenMs: integer(0),
    deadlineMs: integer(0),
    holds: array(name),
    waits: array(name),
    ephemeralKeys: array(name),
  };
  const sessionRequired = Object.keys(sessionView);
  const lockDetail = object(
    {
      name,
      kind: { type: 'string', enum: ['mutex', 'semaphore', 'rwlock', 'election'] },
      permits: integer(0),
      holders: array(
        object(
          {
            session,
            token,
            mode: text(16),
            lastToken: integer(1, Number.MAX_SAFE_INTEGER, "a run of turns only: the run's last reserved token"),
            grantedAtMs: integer(0),
            heldForMs: integer(0),
          },
          ['session', 'token', 'mode', 'grantedAtMs', 'heldForMs'],
        ),
        'holders in grant order',
      ),
      waiters: array(
        object({ session, mode: text(16), deadlineMs: integer(0), waitedForMs: integer(0) }, [
          'session',
          'mode',
          'deadlineMs',
          'waitedForMs',
        ]),
        'the queue, head first',
      ),
      delayUntilMs: integer(0),
    },
    ['name', 'kind', 'permits', 'holders', 'waiters', 'delayUntilMs'],
  );
  return {
    session,
    name,
    token,
    value,
    textValue,
    prefix,
    errorBody,
    keyBody,
    lockDetail,
    sessionView: object(sessionView, sessionRequired),
    sessionDetail: object(
      {
        ...sessionView,
        expiresInMs: integer(
          0,
          Number.MAX_SAFE_INTEGER,
          'log time left before the session expires without a keepalive',
        ),
      },
      [...sessionRequired, 'expiresInMs'],
    ),
    listLimit: digits(`at most this many (1..${locksQueryLimitMax}, default 1000)`),
    user: { type: 'string', minLength: 1, maxLength: principalLengthMax, pattern: '^[A-Za-z0-9._@-]+$' },
    password: text(passwordBytesMax, 'the password (at most 1024 bytes of UTF-8)', 1),
    waitMs: integer(
      0,
      Math.min(longPollMaxMs, machine.waitMsMax),
      `how long to wait in the queue (ms; 0: answer BUSY at once; at most ${longPollMaxMs})`,
    ),
    lockDelayMs: integer(
      0,
      machine.lockDelayMsMax,
      'keep the lock from others this long after the session expires holding it',
    ),
    ttlMs: integer(machine.ttlMsMin, machine.ttlMsMax, 'session time to live (ms) without a keepalive'),
    fence: object(
      { lock: name, token },
      ['lock', 'token'],
      'refuse the write (409 STALE_TOKEN) unless token is a current grant of lock',
    ),
    ifVersion: integer(0, Number.MAX_SAFE_INTEGER, "the key's version must be this (0: the key must not exist)"),
  } as const;
}

export type Schemas = ReturnType<typeof schemasFor>;

/** The Idempotency-Key header: `<clientId>:<seq>` (docs/http.md, "Exactly once"). */
export function idempotencyHeader(machine: LockMachineConfig): JsonSchema {
  return headers({
    'idempotency-key': {
      type: 'string',
      pattern: '^\\S+:[1-9][0-9]{0,15}$',
      maxLength: machine.clientIdBytesMax + 17,
      description: '<clientId>:<seq>; a retry with the same key is answered with the first outcome',
    },
  });
}

/** Headers a route reads (names in lower case); every other header is allowed. */
export function headers(properties: Readonly<Record<string, JsonSchema>>): JsonSchema {
  return { type: 'object', properties };
}

/** A path segment that is a positive integer (a session id). */
export const positiveDigits: JsonSchema = {
  type: 'string',
  pattern: '^[1-9][0-9]{0,15}$',
  description: 'a positive integer',
};

/** `Number()` of a query-string integer, or `fallback` when it is absent. */
export function numberOf(text: string | undefined, fallback: number): number {
  return text === undefined ? fallback : Number(text);
}
