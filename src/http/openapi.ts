/**
 * The OpenAPI 3.1 document served at `/openapi.json`, made from the route table: the very schemas
 * fastify validates requests and serializes answers with (OpenAPI 3.1 schemas are JSON Schema),
 * so the document states exactly what this node accepts and answers.
 */
import type { JsonSchema } from './schemas.js';
import type { Route } from './route.js';
import { rawAnswerOf } from './route.js';

export interface OpenApiInfo {
  readonly version: string;
  readonly nodeId: string;
  readonly secure: boolean;
}

type Parameter = {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header';
  readonly required: boolean;
  readonly description?: string;
  readonly schema: JsonSchema;
};

/** `/v1/locks/:name/acquire` → `/v1/locks/{name}/acquire`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function parametersOf(schema: JsonSchema | undefined, where: Parameter['in']): Parameter[] {
  if (schema === undefined) return [];
  const properties = (schema['properties'] ?? {}) as Readonly<Record<string, JsonSchema>>;
  const required = new Set((schema['required'] ?? []) as readonly string[]);
  return Object.entries(properties).map(([name, property]) => {
    const description = property['description'];
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: property,
    };
  });
}

function operationOf(route: Route, errorBody: JsonSchema): Record<string, unknown> {
  const { schema } = route;
  const error = {
    description: 'a refusal (docs/http.md, "Errors")',
    content: { 'application/json': { schema: errorBody } },
  };
  const response = schema.response;
  const raw = rawAnswerOf(response);
  const answers: Record<string, unknown> = {};
  if (response === 'stream') {
    answers['200'] = {
      description: 'Server-Sent Events (text/event-stream)',
      content: { 'text/event-stream': { schema: { type: 'string' } } },
    };
  } else if (raw !== null) {
    for (const [status, answer] of Object.entries(raw.statuses)) {
      answers[status] = { description: answer.description, content: { [raw.contentType]: { schema: answer.schema } } };
    }
  } else {
    answers['200'] = { description: 'OK', content: { 'application/json': { schema: response } } };
  }
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description === undefined ? {} : { description: route.description }),
    tags: [route.tag],
    parameters: [
      ...parametersOf(schema.params, 'path'),
      ...parametersOf(schema.querystring, 'query'),
      ...parametersOf(schema.headers, 'header'),
    ],
    ...(schema.body === undefined
      ? {}
      : { requestBody: { required: true, content: { 'application/json': { schema: schema.body } } } }),
    responses: { ...answers, '4XX': error, ...('503' in answers ? {} : { '5XX': error }) },
    ...(route.public === true ? { security: [] } : {}),
  };
}

export function openApiDocument(
  routes: readonly Route[],
  errorBody: JsonSchema,
  info: OpenApiInfo,
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = openApiPath(route.url);
    const item = paths[path] ?? {};
    item[route.method.toLowerCase()] = operationOf(route, errorBody);
    paths[path] = item;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'raftlock HTTP API',
      version: info.version,
      description:
        `Served by node ${info.nodeId} (${info.secure ? 'HTTPS; authenticate with a client certificate or a Bearer token from /v1/auth/login' : 'insecure: plain HTTP, no authentication'}). ` +
        'Names are one URL path segment each (encode "/" as %2F). docs/http.md describes every route.',
    },
    paths,
    components: {
      schemas: { Error: errorBody },
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'a token from POST /v1/auth/login (valid on the node that issued it)',
        },
        clientCertificate: { type: 'mutualTLS', description: 'a user certificate signed by the cluster CA' },
      },
    },
    security: info.secure ? [{ bearer: [] }, { clientCertificate: [] }] : [],
  };
}
