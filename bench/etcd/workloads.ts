// The side-by-side workloads, written once against `LockBackend` so that etcd and raftlock run the
// very same loops. Every client runs until the deadline with one operation in flight; latencies are
// kept whole (no sampling) so the percentiles are exact.
import type { BackendFactory, LockBackend } from './backend.js';

export type WorkloadResult = {
  readonly workload: string;
  readonly backend: string;
  /** What `rate` counts per second ("ops/s": acquire+release pairs; "handoffs/s"). */
  readonly unit: string;
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly errors: number;
  readonly firstError: string | null;
};

export type WorkloadOptions = {
  readonly durationMs: number;
  /** Clients are opened this many at a time (each open is a lease grant: one consensus write). */
  readonly openBatch?: number;
};

/** The percentile of sorted values, nearest-rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

type Tally = { latenciesMs: number[]; errors: number; firstError: string | null };

async function openClients<H>(factory: BackendFactory<H>, count: number, batch: number): Promise<LockBackend<H>[]> {
  const clients: LockBackend<H>[] = [];
  try {
    for (let i = 0; i < count; i += batch) {
      const n = Math.min(batch, count - i);
      clients.push(...(await Promise.all(Array.from({ length: n }, (_, k) => factory.open(i + k)))));
    }
  } catch (error) {
    await Promise.allSettled(clients.map((c) => c.close()));
    throw error;
  }
  return clients;
}

/** Opens `count` clients, runs `loop` on each until the deadline, closes them, and tallies. */
async function runClients<H>(
  factory: BackendFactory<H>,
  count: number,
  options: WorkloadOptions,
  loop: (client: LockBackend<H>, index: number, tally: Tally, deadline: number) => Promise<void>,
): Promise<{ tally: Tally; elapsedMs: number }> {
  const clients = await openClients(factory, count, options.openBatch ?? 64);
  const tally: Tally = { latenciesMs: [], errors: 0, firstError: null };
  const started = performance.now();
  const deadline = started + options.durationMs;
  try {
    await Promise.all(clients.map((c, i) => loop(c, i, tally, deadline)));
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
  }
  return { tally, elapsedMs: performance.now() - started };
}

function noteError(tally: Tally, error: unknown): void {
  tally.errors++;
  tally.firstError ??= error instanceof Error ? error.message : String(error);
}

function summarize(workload: string, backend: string, unit: string, tally: Tally, elapsedMs: number): WorkloadResult {
  const sorted = tally.latenciesMs.slice().sort((a, b) => a - b);
  return {
    workload,
    backend,
    unit,
    rate: sorted.length / (elapsedMs / 1000),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length === 0 ? NaN : (sorted[sorted.length - 1] as number),
    errors: tally.errors,
    firstError: tally.firstError,
  };
}

/** After an error the loop waits a little, so a dead backend is not hammered in a tight loop. */
const errorPauseMs = 50;
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `clients` clients, each on its own lock, acquire then release as fast as they can. The latency is
 * one acquire+release pair. With 32 clients this is the "uncontended" workload; with 1..1,024 it is
 * "scaling".
 */
export async function ownLockEach<H>(factory: BackendFactory<H>, clients: number, options: WorkloadOptions, workload = `uncontended (${clients} clients)`): Promise<WorkloadResult> {
  const { tally, elapsedMs } = await runClients(factory, clients, options, async (client, index, t, deadline) => {
    const name = `bench-own-${index}`;
    while (performance.now() < deadline) {
      const started = performance.now();
      try {
        const handle = await client.acquire(name);
        await client.release(handle);
        t.latenciesMs.push(performance.now() - started);
      } catch (error) {
        noteError(t, error);
        await pause(errorPauseMs);
      }
    }
  });
  return summarize(workload, factory.name, 'ops/s', tally, elapsedMs);
}

/**
 * `clients` clients on one lock with the service's blocking acquire: the rate is handoffs per
 * second (grants), the latency is the wait from asking to holding. The holder releases at once.
 */
export async function contended<H>(factory: BackendFactory<H>, clients: number, options: WorkloadOptions): Promise<WorkloadResult> {
  const name = 'bench-contended';
  const { tally, elapsedMs } = await runClients(factory, clients, options, async (client, _index, t, deadline) => {
    while (performance.now() < deadline) {
      const started = performance.now();
      try {
        const handle = await client.acquire(name);
        t.latenciesMs.push(performance.now() - started);
        await client.release(handle);
      } catch (error) {
        noteError(t, error);
        await pause(errorPauseMs);
      }
    }
  });
  return summarize(`contended (${clients} clients, 1 lock)`, factory.name, 'handoffs/s', tally, elapsedMs);
}
