// The memory workload: many sessions each holding many locks, then the resident memory of every
// node at that point. A client sends one command at a time, so the fill runs on many clients in
// parallel, and each client holds several sessions (one per TTL) to reach the session count.
import { connect } from '../../src/client/client.js';
import type { RaftlockClient } from '../../src/client/client.js';
import { cpuMicrosBetween, microsPerOp, sampleServers } from './cpu.js';
import type { ServerCpu } from './cpu.js';
import { percentile } from './workloads.js';
import type { WorkloadResult } from './workloads.js';
import type { ClusterConnectOptions } from './raftlock-backend.js';

export type MemoryOptions = {
  readonly endpoints: readonly string[];
  /** The cluster id and transport (TLS with a client certificate, or plaintext). */
  readonly connectOptions: ClusterConnectOptions;
  readonly locks: number;
  readonly sessions: number;
  /** Clients filling in parallel (sessions are spread over them). */
  readonly clients: number;
  /** Called once every lock is held; returns the line describing the nodes' memory. */
  readonly sample: () => string;
  /** The node processes, whose CPU during the fill is charged to its grants. */
  readonly serverCpu?: ServerCpu;
};

export type MemoryResult = { readonly row: WorkloadResult; readonly memory: string };

/** Sessions get TTLs from this base, one millisecond apart: the client keys sessions by TTL. */
const ttlBaseMs = 600_000;

export async function heldLocksMemory(options: MemoryOptions): Promise<MemoryResult> {
  const { endpoints, locks, sessions } = options;
  const clientCount = Math.max(1, Math.min(options.clients, sessions));
  const clients: RaftlockClient[] = [];
  const latenciesMs: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  const started = performance.now();
  let memory: string;
  let serverCpuMicros: number | null;
  const cpuFrom = sampleServers(options.serverCpu);
  try {
    for (let c = 0; c < clientCount; c++) {
      const rotated = [...endpoints.slice(c % endpoints.length), ...endpoints.slice(0, c % endpoints.length)];
      clients.push(await connect({ ...options.connectOptions, endpoints: rotated, ttlMs: ttlBaseMs }));
    }
    await Promise.all(
      clients.map(async (client, c) => {
        // Session s belongs to client s % clientCount; lock l to session l % sessions.
        for (let s = c; s < sessions; s += clientCount) {
          const ttlMs = ttlBaseMs + Math.floor(s / clientCount);
          for (let l = s; l < locks; l += sessions) {
            const t0 = performance.now();
            try {
              await client.lock(`mem-${l}`, { waitMs: 0, ttlMs });
              latenciesMs.push(performance.now() - t0);
            } catch (error) {
              errors++;
              firstError ??= error instanceof Error ? error.message : String(error);
            }
          }
        }
      }),
    );
    serverCpuMicros = cpuMicrosBetween(cpuFrom, sampleServers(options.serverCpu));
    memory = options.sample();
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
  }
  const elapsedMs = performance.now() - started;
  const sorted = latenciesMs.sort((a, b) => a - b);
  const row: WorkloadResult = {
    workload: `memory (${locks.toLocaleString('en-US')} locks held, ${sessions.toLocaleString('en-US')} sessions)`,
    backend: 'raftlock',
    unit: 'grants/s',
    rate: sorted.length / (elapsedMs / 1000),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length === 0 ? NaN : (sorted[sorted.length - 1] as number),
    errors,
    firstError,
    serverCpuMicrosPerOp: microsPerOp(serverCpuMicros, sorted.length),
  };
  return { row, memory };
}
