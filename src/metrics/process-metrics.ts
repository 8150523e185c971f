/**
 * Process metrics (CPU, resident memory, heap, event-loop delay, open files, GC, handles), from
 * prom-client's `collectDefaultMetrics` with the `raftlock_` prefix.
 *
 * They describe the process, not a node, and `collectDefaultMetrics` starts an event-loop delay
 * monitor and a GC observer that it never stops; so they are collected once per process into a
 * registry of their own and the same metric objects are added to every node's registry (tests run
 * several nodes in one process; production runs one). Each scrape of any node reads the event-loop
 * delay observed since the previous scrape of any node.
 */
import type { Metric } from 'prom-client';
import { collectDefaultMetrics, Registry } from 'prom-client';

let processRegistry: Registry | null = null;

/** Adds the process's metrics to `registry` (collected from the first call on). */
export function registerProcessMetrics(registry: Registry): void {
  if (processRegistry === null) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'raftlock_' });
  }
  // prom-client declares its registry's contents as plain descriptions; they are its metrics.
  for (const metric of processRegistry.getMetricsAsArray()) registry.registerMetric(metric as unknown as Metric);
}
