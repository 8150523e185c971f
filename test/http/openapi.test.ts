// The OpenAPI document against what fastify actually registered: every route appears with the very
// schemas it validates and answers with, nothing else appears, and /openapi.json serves it without
// credentials.
import t from 'tap';
import { startHttpServer } from '../../src/http/http-server.js';
import { openApiPath } from '../../src/http/openapi.js';
import { rawAnswerOf } from '../../src/http/route.js';
import { call } from './fixtures/http-client.js';
import { startHttpCluster } from './fixtures/http-cluster.js';

type Json = Record<string, unknown>;

interface Parameter {
  readonly name: string;
  readonly in: string;
  readonly required: boolean;
  readonly schema: unknown;
}

function propertiesOf(schema: unknown): Json {
  return ((schema as Json | undefined)?.['properties'] ?? {}) as Json;
}

void t.test('the OpenAPI document describes every registered route with its schemas', async (t) => {
  const h = await startHttpCluster({ nodes: 1 });
  t.teardown(() => h.close());
  const node = h.cluster.nodes[0];
  if (node === undefined) throw new Error('no node');
  const server = await startHttpServer({ gateway: node.gateway, listen: { host: '127.0.0.1', port: 0 } });
  t.teardown(() => server.close());
  const { registered, document, routes } = server.app;
  const paths = document['paths'] as Record<string, Record<string, Json>>;
  t.equal(registered.length, routes.length, 'fastify registered every route of the table');
  t.ok(registered.length >= 30, `${registered.length} routes`);

  const operationIds = new Set<string>();
  for (const route of registered) {
    const where = `${route.method} ${route.url}`;
    const operation = paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
    if (operation === undefined) {
      t.fail(`${where} is missing from the document`);
      continue;
    }
    const id = operation['operationId'] as string;
    t.notOk(operationIds.has(id), `${where}: operationId ${id} is unique`);
    operationIds.add(id);
    const schema = route.schema as Json;
    const parameters = operation['parameters'] as Parameter[];
    for (const [part, location] of [
      ['params', 'path'],
      ['querystring', 'query'],
      ['headers', 'header'],
    ] as const) {
      const declared = propertiesOf(schema[part]);
      const documented = parameters.filter((p) => p.in === location);
      t.same(documented.map((p) => p.name).sort(), Object.keys(declared).sort(), `${where}: ${location} parameters`);
      const required = new Set(((schema[part] as Json | undefined)?.['required'] ?? []) as string[]);
      for (const p of documented) {
        t.same(p.schema, declared[p.name], `${where}: ${location} parameter ${p.name} has the validated schema`);
        t.equal(p.required, location === 'path' || required.has(p.name), `${where}: ${p.name} required as validated`);
      }
    }
    const templated = [...openApiPath(route.url).matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    t.same(
      templated.sort(),
      Object.keys(propertiesOf(schema['params'])).sort(),
      `${where}: path template and path parameters agree`,
    );
    const requestBody = operation['requestBody'] as Json | undefined;
    if (schema['body'] === undefined) t.equal(requestBody, undefined, `${where}: no body`);
    else
      t.same(
        (requestBody?.['content'] as Json)['application/json'],
        { schema: schema['body'] },
        `${where}: the validated body schema`,
      );
    const responses = operation['responses'] as Record<string, Json>;
    const answer = (schema['response'] as Json)['200'];
    const ok = responses['200']?.['content'] as Json;
    const spec = routes.find((r) => r.method === route.method && r.url === route.url);
    const raw = spec === undefined ? null : rawAnswerOf(spec.schema.response);
    if (raw !== null) {
      t.equal(answer, undefined, `${where}: sent as it is, not serialized`);
      for (const [status, documented] of Object.entries(raw.statuses)) {
        t.same(
          (responses[status]?.['content'] as Json)[raw.contentType],
          { schema: documented.schema },
          `${where}: ${status} ${raw.contentType}`,
        );
      }
    } else if (answer === undefined) t.ok(ok['text/event-stream'], `${where}: a Server-Sent Events stream`);
    else t.same(ok['application/json'], { schema: answer }, `${where}: the serialized answer schema`);
    t.same(
      (responses['4XX']?.['content'] as Json)['application/json'],
      { schema: (schema['response'] as Json)['4xx'] },
      `${where}: the error schema`,
    );
  }
  const documented = Object.values(paths).reduce((n, item) => n + Object.keys(item).length, 0);
  t.equal(documented, registered.length, 'the document lists nothing that is not served');

  const served = await call(`127.0.0.1:${server.address.port}`, '/openapi.json', { tls: h.caOnly });
  t.equal(served.status, 200, 'served without credentials');
  t.same(served.json, document, 'what is served is the document');
  t.match(served.json, { openapi: '3.1.0', security: [{ bearer: [] }, { clientCertificate: [] }] });
});
