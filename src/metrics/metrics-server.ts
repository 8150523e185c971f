/**
 * What the HTTP server answers at `/metrics`, `/healthz` and `/readyz`: status, content type and
 * body, from a node's `NodeMetrics`. Framework-free, so the HTTP layer only maps them onto its
 * replies (and tests call them directly).
 */
import { Registry } from 'prom-client';
import type { NodeMetrics } from './node-metrics.js';

export interface ProbeAnswer {
  readonly status: 200 | 503;
  readonly contentType: string;
  readonly body: string;
}

/** The Prometheus text exposition format, version 0.0.4. */
export const metricsContentType: string = Registry.PROMETHEUS_CONTENT_TYPE;

const json = 'application/json; charset=utf-8';

/** Every metric of the node (and of its process) in the Prometheus text format. */
export function renderMetrics(metrics: NodeMetrics): Promise<string> {
  return metrics.render();
}

/** `GET /metrics`. */
export async function metricsAnswer(metrics: NodeMetrics): Promise<ProbeAnswer> {
  return { status: 200, contentType: metricsContentType, body: await renderMetrics(metrics) };
}

/** `GET /healthz`: 200 `{healthy: true, reason}` while the node serves, else 503. */
export function healthAnswer(metrics: NodeMetrics): ProbeAnswer {
  const answer = metrics.health();
  return { status: answer.healthy ? 200 : 503, contentType: json, body: JSON.stringify(answer) };
}

/** `GET /readyz`: 200 `{ready: true, reason}` when ready (docs/metrics.md), else 503 with why. */
export function readinessAnswer(metrics: NodeMetrics): ProbeAnswer {
  const answer = metrics.readiness();
  return { status: answer.ready ? 200 : 503, contentType: json, body: JSON.stringify(answer) };
}
