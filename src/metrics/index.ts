export type { MetricsSource, NodeMetricsOptions } from './node-metrics.js';
export { NodeMetrics } from './node-metrics.js';
export type { Health, HealthStatus, Readiness, ReadinessStatus } from './probes.js';
export { defaultAppliedLagMax, health, readiness } from './probes.js';
export type { ProbeAnswer } from './metrics-server.js';
export { healthAnswer, metricsAnswer, metricsContentType, readinessAnswer, renderMetrics } from './metrics-server.js';
export { opLabel, unreadOpLabel } from './client-metrics.js';
