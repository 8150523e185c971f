/**
 * All of one node's metrics, in a prom-client `Registry` of its own (several nodes may run in one
 * process; the global default registry is never used). docs/metrics.md lists every metric.
 *
 * Two kinds of input:
 * - hooks the node's shells call as things happen (the node server with each drained output,
 *   received message, status and applied command; the group committer with each durable batch;
 *   the connections with each answer and push), grouped by subject in `raft`, `storage`, `locks`
 *   and `clients`. They only increment counters and fill histogram buckets;
 * - a `MetricsSource` the node binds once, read at each scrape for the gauges (term, role,
 *   indexes, sessions, locks, connections) and by `readiness()` and `health()`.
 */
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import type { RaftStatus } from '../raft/status.js';
import type { LockState } from '../statemachine/state.js';
import { ClientMetrics } from './client-metrics.js';
import { LockMetrics } from './lock-metrics.js';
import type { Health, Readiness } from './probes.js';
import { defaultAppliedLagMax, health, readiness } from './probes.js';
import { registerProcessMetrics } from './process-metrics.js';
import type { RaftSample } from './raft-metrics.js';
import { RaftMetrics } from './raft-metrics.js';
import { StorageMetrics } from './storage-metrics.js';

/** What the node shows the metrics at a scrape and to the probes. */
export interface MetricsSource {
  status(): RaftStatus;
  /** The node's applied index. */
  readonly applied: number;
  readonly state: LockState;
  /** Client connections open now. */
  readonly connections: number;
  /** The node stopped (shutting down, or after a fatal error). */
  readonly stopped: boolean;
  /** The error that stopped the node; null while it runs. */
  readonly fatal: unknown;
}

export interface NodeMetricsOptions {
  readonly nodeId: string;
  /** Data directory whose size is reported (`raftlock_storage_disk_bytes`); none: not reported. */
  readonly dataDir?: string;
  /** Readiness: how many committed entries may wait to be applied (default 1000). */
  readonly appliedLagMax?: number;
  /** Add the process's metrics (CPU, memory, event loop; default true). */
  readonly processMetrics?: boolean;
}

interface Sample extends RaftSample {
  readonly state: LockState;
  readonly connections: number;
}

export class NodeMetrics {
  readonly nodeId: string;
  readonly registry = new Registry();
  readonly raft: RaftMetrics;
  readonly storage: StorageMetrics;
  readonly locks: LockMetrics;
  readonly clients: ClientMetrics;
  private readonly appliedLagMax: number;
  private source: MetricsSource | null = null;
  /** One reading of the source per scrape, shared by every gauge (cleared after the scrape's turn). */
  private sampled: Sample | null = null;

  constructor(options: NodeMetricsOptions) {
    this.nodeId = options.nodeId;
    this.appliedLagMax = options.appliedLagMax ?? defaultAppliedLagMax;
    this.registry.setDefaultLabels({ node: options.nodeId });
    const sample = (): Sample | null => this.sample();
    this.raft = new RaftMetrics(this.registry, sample, () => this.nowSeconds());
    this.storage = new StorageMetrics(this.registry, () => sample()?.status ?? null, options.dataDir ?? null);
    this.locks = new LockMetrics(this.registry, () => sample()?.state ?? null);
    this.clients = new ClientMetrics(this.registry, () => sample()?.connections ?? null);
    if (options.processMetrics !== false) registerProcessMetrics(this.registry);
  }

  /** The node this reports on; until bound, the gauges are absent and the node is not ready. */
  bind(source: MetricsSource): void {
    this.source = source;
    this.raft.started(source.status());
  }

  /** The monotonic clock the hooks measure durations with, in seconds. */
  nowSeconds(): number {
    return performance.now() / 1000;
  }

  readiness(): Readiness {
    const source = this.source;
    if (source === null) return { ready: false, reason: `node ${this.nodeId} is starting` };
    const s = source.status();
    const status = {
      nodeId: s.id,
      leader: s.leader,
      commit: s.commit,
      applied: source.applied,
      voters: s.conf.voters,
      learners: s.conf.learners,
      stopped: source.stopped,
    };
    return readiness(status, this.appliedLagMax);
  }

  health(): Health {
    return health({ nodeId: this.nodeId, fatal: this.source?.fatal ?? null });
  }

  /** The prometheus text of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  private sample(): Sample | null {
    if (this.sampled !== null) return this.sampled;
    const source = this.source;
    if (source === null) return null;
    this.sampled = {
      status: source.status(),
      applied: source.applied,
      state: source.state,
      connections: source.connections,
    };
    // A scrape runs every gauge's collect in one synchronous pass: read the source once for all.
    queueMicrotask(() => {
      this.sampled = null;
    });
    return this.sampled;
  }
}
