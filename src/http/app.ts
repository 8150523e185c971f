/**
 * The HTTP API as a fastify application over a NodeGateway: the route table (routes-*.ts)
 * registered with its JSON schemas (requests validated, answers serialized by them), credentials
 * checked before a body is read, every refusal answered `{ code, message, ... }` with its status
 * (errors.ts) and logged with who and why, and the OpenAPI document made from the same table.
 */
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerFactory } from 'fastify';
import Fastify from 'fastify';
import type { CertIdentity } from '../security/identity.js';
import type { CommandIdOptions } from './command-ids.js';
import { CommandIds } from './command-ids.js';
import type { HttpFailure } from './errors.js';
import { failure, unauthenticated } from './errors.js';
import type { NodeGateway } from './gateway.js';
import { openApiDocument } from './openapi.js';
import type { Call, Outcome, Route, RouteContext } from './route.js';
import { json, rawAnswerOf, route } from './route.js';
import { registerDashboard } from './dashboard.js';
import { clusterRoutes } from './routes-cluster.js';
import { electionRoutes } from './routes-elections.js';
import { kvRoutes } from './routes-kv.js';
import { lockRoutes } from './routes-locks.js';
import { sessionRoutes } from './routes-sessions.js';
import { probeRoutes } from './routes-probes.js';
import { streamRoutes } from './routes-streams.js';
import { schemasFor } from './schemas.js';
import type { StreamLimits } from './sse.js';
import { defaultStreamLimits, StreamRegistry } from './sse.js';

export interface HttpOptions {
  /** Largest request body; default: a largest value in base64 plus 64 KiB. */
  readonly bodyBytesMax?: number;
  readonly streams?: Partial<StreamLimits>;
  readonly lanes?: Partial<CommandIdOptions>;
  /** Connections open at once (default 1024); the server drops more at once. */
  readonly connectionsMax?: number;
}

export interface HttpApp {
  readonly app: FastifyInstance;
  /** Every route served, the OpenAPI document's source. */
  readonly routes: readonly Route[];
  /** What fastify registered (method, url, schema), as it reported each route. */
  readonly registered: readonly { readonly method: string; readonly url: string; readonly schema: unknown }[];
  readonly document: Record<string, unknown>;
  readonly context: RouteContext;
  /** Ends streams and long polls (answered 503), then closes the server. */
  close(): Promise<void>;
}

/** `address:port` of a socket's remote end. */
export function remoteOf(socket: Socket): string {
  const host = socket.remoteAddress ?? 'unknown';
  return `${host.includes(':') ? `[${host}]` : host}:${socket.remotePort ?? '?'}`;
}

/** The token of `Authorization: Bearer <token>`; undefined without the header; null when malformed. */
function bearerOf(header: string | undefined): string | null | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer ([A-Za-z0-9_\-.~+/]+=*)$/.exec(header.trim());
  return match === null ? null : (match[1] ?? null);
}

export function createHttpApp(
  gateway: NodeGateway,
  options: HttpOptions = {},
  server?: { readonly factory: FastifyServerFactory; readonly certificateOf: (socket: Socket) => CertIdentity | null },
): HttpApp {
  const closing = new AbortController();
  const schemas = schemasFor(gateway.machine);
  const context: RouteContext = {
    gateway,
    schemas,
    ids: new CommandIds(gateway.nodeId, options.lanes),
    streams: new StreamRegistry({ ...defaultStreamLimits, ...options.streams }, gateway.log, () =>
      gateway.metrics.clients.slowConsumerClosed(),
    ),
  };
  const bodyBytesMax = options.bodyBytesMax ?? Math.ceil(gateway.machine.valueBytesMax / 3) * 4 + 64 * 1024;
  const apiRoutes = [
    ...sessionRoutes(context),
    ...lockRoutes(context, closing.signal),
    ...electionRoutes(context, closing.signal),
    ...kvRoutes(context),
    ...clusterRoutes(context),
    ...streamRoutes(context),
    ...probeRoutes(context),
  ];
  const info = { version: 'v1', nodeId: gateway.nodeId, secure: gateway.tls !== null };
  let document: Record<string, unknown> = {};
  const documentRoute = route({
    method: 'GET',
    url: '/openapi.json',
    operationId: 'openApi',
    summary: 'This document',
    tag: 'meta',
    public: true,
    schema: { response: { type: 'object', additionalProperties: true } },
    handle: () => Promise.resolve(json(document)),
  });
  const routes = [...apiRoutes, documentRoute];
  document = openApiDocument(routes, schemas.errorBody, info);

  const app = Fastify({
    logger: false,
    bodyLimit: bodyBytesMax,
    requestTimeout: 30_000,
    return503OnClosing: true,
    // Only the methods the table names (the OpenAPI document lists exactly what is served).
    exposeHeadRoutes: false,
    // Strict bodies: a wrong type is an error, never silently converted; unknown fields are refused.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    ...(server === undefined ? {} : { serverFactory: server.factory }),
  });
  // JSON bodies, where an empty one is no body (curl with a JSON content type on a DELETE, say);
  // a route that needs a body then says so through its schema.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    const raw = String(text);
    if (raw.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(raw) as unknown);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      done(Object.assign(new Error(`the body is not JSON: ${reason}`), { statusCode: 400 }), undefined);
    }
  });
  // A bound on what strangers can hold open (each connection costs a socket and, with TLS, a
  // handshake); slow requests are bounded by requestTimeout above and node:http's headersTimeout.
  app.server.maxConnections = options.connectionsMax ?? 1024;
  const certificateOf = server?.certificateOf ?? (() => null);
  const registered: { method: string; url: string; schema: unknown }[] = [];
  app.addHook('onRoute', (options) => {
    // The dashboard's static files (dashboard.ts) are pages, not API routes: not in the document.
    if ((options.config as { readonly dashboard?: boolean } | undefined)?.dashboard === true) return;
    const methods = Array.isArray(options.method) ? options.method : [options.method];
    for (const method of methods) registered.push({ method: String(method), url: options.url, schema: options.schema });
  });
  const principals = new WeakMap<FastifyRequest, string | null>();

  const send = (request: FastifyRequest, reply: FastifyReply, answer: HttpFailure): FastifyReply => {
    if (answer.status === 403 || answer.status === 413) {
      gateway.log.warn('http request refused', {
        remote: remoteOf(request.raw.socket),
        user: principals.get(request) ?? null,
        route: `${request.method} ${request.url}`,
        code: answer.body.code,
        reason: answer.body.message,
      });
    }
    return reply
      .code(answer.status)
      .headers(answer.headers ?? {})
      .send(answer.body);
  };

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation !== undefined) return send(request, reply, failure('INVALID_ARGUMENT', error.message));
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return send(request, reply, failure('TOO_LARGE', `the request body is larger than ${bodyBytesMax} bytes`));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return send(request, reply, { status, body: { code: 'INVALID_ARGUMENT', message: error.message } });
    }
    gateway.log.error('http request failed', { route: `${request.method} ${request.url}`, error: error.message });
    return send(request, reply, {
      status: 500,
      body: { code: 'UNAVAILABLE', message: `internal error: ${error.message}` },
    });
  });
  app.setNotFoundHandler((request, reply) =>
    send(request, reply, failure('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`)),
  );

  for (const spec of routes) {
    const errorSchemas = { '4xx': schemas.errorBody, '5xx': schemas.errorBody };
    const { params, querystring, body, headers, response } = spec.schema;
    app.route({
      method: spec.method,
      url: spec.url,
      schema: {
        ...(params === undefined ? {} : { params }),
        ...(querystring === undefined ? {} : { querystring }),
        ...(body === undefined ? {} : { body }),
        ...(headers === undefined ? {} : { headers }),
        response:
          response === 'stream' || rawAnswerOf(response) !== null ? errorSchemas : { 200: response, ...errorSchemas },
      },
      // Credentials first: a stranger's body is never read, let alone validated.
      onRequest: async (request, reply) => {
        if (spec.public === true) return undefined;
        const remote = remoteOf(request.raw.socket);
        const bearer = bearerOf(request.headers.authorization);
        if (bearer === null) {
          const message = 'expected the header Authorization: Bearer <token> (a token from POST /v1/auth/login)';
          gateway.log.warn('http request refused', { remote, reason: message });
          return send(request, reply, failure('UNAUTHENTICATED', message));
        }
        const who = await gateway.identify({
          remote,
          certificate: certificateOf(request.raw.socket),
          bearer: bearer ?? null,
        });
        if (!who.ok) return send(request, reply, unauthenticated(who.message, who.retryAfterMs));
        principals.set(request, who.principal);
        return undefined;
      },
      handler: async (request, reply) => {
        const gone = new AbortController();
        reply.raw.on('close', () => {
          if (!reply.raw.writableFinished) gone.abort();
        });
        const call: Call<unknown, unknown, unknown> = {
          principal: principals.get(request) ?? null,
          remote: remoteOf(request.raw.socket),
          params: request.params,
          query: request.query,
          body: request.body,
          header: (name) => {
            const value = request.headers[name];
            return Array.isArray(value) ? value[0] : value;
          },
          gone: gone.signal,
          request,
          reply,
        };
        const outcome: Outcome = await spec.handle(call);
        switch (outcome.kind) {
          case 'json':
            return reply
              .code(200)
              .headers(outcome.headers ?? {})
              .send(outcome.body);
          case 'failure':
            return send(request, reply, outcome.failure);
          case 'raw':
            return reply.code(outcome.status).type(outcome.contentType).send(outcome.body);
          case 'stream':
            return reply;
        }
      },
    });
  }
  app.register(registerDashboard);

  return {
    app,
    routes,
    registered,
    document,
    context,
    close: async () => {
      closing.abort();
      await context.streams.closeAll('the node is shutting down');
      await app.close();
    },
  };
}
