/**
 * The node's metrics and probes (src/metrics, docs/metrics.md) on its HTTP port: `/metrics` in the
 * Prometheus text format, for an authenticated principal (a scraper presents a user certificate),
 * and `/healthz` and `/readyz` without credentials, as Kubernetes probes call them.
 */
import { healthAnswer, metricsAnswer, metricsContentType, readinessAnswer } from '../metrics/metrics-server.js';
import type { Route, RouteContext } from './route.js';
import { route } from './route.js';
import { object } from './schemas.js';

export function probeRoutes(ctx: RouteContext): Route[] {
  const { gateway } = ctx;
  const json = 'application/json; charset=utf-8';
  const verdict = (key: 'healthy' | 'ready') =>
    object({ [key]: { type: 'boolean' }, reason: { type: 'string' } }, [key, 'reason']);
  /** A probe without credentials (as Kubernetes calls them): 200 with `key` true, or 503 with why. */
  const probe = (
    url: string,
    operationId: string,
    summary: string,
    key: 'healthy' | 'ready',
    failure: string,
    answerOf: typeof healthAnswer,
  ): Route =>
    route({
      method: 'GET',
      url,
      operationId,
      summary,
      tag: 'metrics',
      public: true,
      schema: {
        response: {
          raw: {
            contentType: json,
            statuses: {
              '200': { description: key, schema: verdict(key) },
              '503': { description: failure, schema: verdict(key) },
            },
          },
        },
      },
      handle: () => {
        const answer = answerOf(gateway.metrics);
        return Promise.resolve({
          kind: 'raw',
          status: answer.status,
          contentType: answer.contentType,
          body: answer.body,
        });
      },
    });
  return [
    route({
      method: 'GET',
      url: '/metrics',
      operationId: 'metrics',
      summary: "This node's metrics in the Prometheus text format (docs/metrics.md)",
      tag: 'metrics',
      schema: {
        response: {
          raw: {
            contentType: metricsContentType,
            statuses: { '200': { description: 'every metric of the node', schema: { type: 'string' } } },
          },
        },
      },
      handle: async () => {
        const answer = await metricsAnswer(gateway.metrics);
        return { kind: 'raw', status: answer.status, contentType: answer.contentType, body: answer.body };
      },
    }),
    probe(
      '/healthz',
      'health',
      'Liveness: 200 while the node serves, 503 once it stopped on a fatal error',
      'healthy',
      'stopped on a fatal error',
      healthAnswer,
    ),
    probe(
      '/readyz',
      'readiness',
      'Readiness: 200 when a member that knows a leader and has applied nearly all it knows committed; 503 with why',
      'ready',
      'not ready, and why',
      readinessAnswer,
    ),
  ];
}
