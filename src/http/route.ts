/**
 * One HTTP route as data: method, path, the JSON schemas of its parts and of its answer, and its
 * handler. app.ts registers the table with fastify (which validates with the schemas) and
 * openapi.ts describes the same table, so the document cannot drift from what is served.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CommandIds } from './command-ids.js';
import type { HttpFailure } from './errors.js';
import type { NodeGateway } from './gateway.js';
import type { JsonSchema, Schemas } from './schemas.js';
import type { StreamRegistry } from './sse.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** What a handler answers: JSON (status 200), a refusal, text as it is, or a stream it wrote itself. */
export type Outcome =
  | { readonly kind: 'json'; readonly body: unknown; readonly headers?: Readonly<Record<string, string>> }
  | { readonly kind: 'raw'; readonly status: number; readonly contentType: string; readonly body: string }
  | { readonly kind: 'failure'; readonly failure: HttpFailure }
  | { readonly kind: 'stream' };

export function json(body: unknown, headers?: Readonly<Record<string, string>>): Outcome {
  return headers === undefined ? { kind: 'json', body } : { kind: 'json', body, headers };
}

export function refused(failure: HttpFailure): Outcome {
  return { kind: 'failure', failure };
}

/** One request, as a handler sees it: parts already checked against the route's schemas. */
export interface Call<Params, Query, Body> {
  /** Who the request acts as (null: an insecure node, or a public route). */
  readonly principal: string | null;
  /** `address:port` of the caller. */
  readonly remote: string;
  readonly params: Params;
  readonly query: Query;
  readonly body: Body;
  /** A request header (lower-case name), if sent. */
  header(name: string): string | undefined;
  /** Aborted when the caller goes away before its answer, or the server closes. */
  readonly gone: AbortSignal;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
}

/** What every handler may use. */
export interface RouteContext {
  readonly gateway: NodeGateway;
  readonly schemas: Schemas;
  readonly ids: CommandIds;
  readonly streams: StreamRegistry;
}

/** An answer sent as it is (the probes, the metrics text): its content type, and its body per status. */
export interface RawAnswer {
  readonly contentType: string;
  readonly statuses: Readonly<Record<string, { readonly description: string; readonly schema: JsonSchema }>>;
}

export interface RouteSchema {
  readonly params?: JsonSchema;
  readonly querystring?: JsonSchema;
  readonly body?: JsonSchema;
  readonly headers?: JsonSchema;
  /** The 200 answer: a JSON schema, `stream` for Server-Sent Events, or a raw answer. */
  readonly response: JsonSchema | 'stream' | { readonly raw: RawAnswer };
}

/** The raw answer of a route's schema, or null for JSON and streams. */
export function rawAnswerOf(response: RouteSchema['response']): RawAnswer | null {
  return response !== 'stream' && 'raw' in response ? (response as { readonly raw: RawAnswer }).raw : null;
}

export interface Route {
  readonly method: Method;
  /** fastify's form: `/v1/locks/:name/acquire`. */
  readonly url: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tag: string;
  /** Served without credentials (login, the OpenAPI document, probes). */
  readonly public?: boolean;
  readonly schema: RouteSchema;
  readonly handle: (call: Call<unknown, unknown, unknown>) => Promise<Outcome>;
}

/**
 * A route whose handler sees its parts typed. The types are what the route's schemas admit: the
 * one place where validated `unknown` becomes typed, since fastify has checked the shapes.
 */
export function route<Params = Record<string, never>, Query = Record<string, never>, Body = undefined>(
  spec: Omit<Route, 'handle'> & { readonly handle: (call: Call<Params, Query, Body>) => Promise<Outcome> },
): Route {
  return { ...spec, handle: (call) => spec.handle(call as Call<Params, Query, Body>) };
}
