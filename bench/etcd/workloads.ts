// The side-by-side workloads, written once against `LockBackend` so that etcd and raftlock run the
// very same loops. Every client runs until the deadline with one operation in flight; latencies are
// kept whole (no sampling) so the percentiles are exact. The loops first run for a warm-up whose
// operations are not counted: a JIT-compiled server (raftlock's nodes, and every benchmark client)
// is measured at the speed it keeps, not while it is still compiling its hot paths.
import type { BackendFactory, LockBackend } from './backend.js';
import { cpuMicrosBetween, cpuOverWindow, microsPerOp, sampleServers } from './cpu.js';
import type { ServerCpu } from './cpu.js';

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
  /**
   * µs of CPU (user + system) that all the cluster's member processes spent per counted operation
   * in the measured window; null where it was not measured (no /proc, or a member was killed).
   */
  readonly serverCpuMicrosPerOp: number | null;
};

export type WorkloadOptions = {
  /** The measured window: the rate is what completed in it, per second. */
  readonly durationMs: number;
  /** The loops run this long before the window opens; what completes then is not counted. */
  readonly warmupMs?: number;
  /** Clients are opened this many at a time (each open is a lease grant: one consensus write). */
  readonly openBatch?: number;
  /** The cluster's member processes, whose CPU over the window is charged to its operations. */
  readonly serverCpu?: ServerCpu;
};

/** The percentile of sorted values, nearest-rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

type Tally = { latenciesMs: number[]; errors: number; firstError: string | null; serverCpuMicros: number | null };

const newTally = (): Tally => ({ latenciesMs: [], errors: 0, firstError: null, serverCpuMicros: null });

/** Where a looping workload stands: operations completing in [from, to] are the measurement. */
export type Window = { readonly from: number; readonly to: number };

/** The measured window of a loop starting now: it opens after `warmupMs` and lasts `durationMs`. */
export function measuredWindow(warmupMs: number, durationMs: number): Window {
  const from = performance.now() + warmupMs;
  return { from, to: from + durationMs };
}

/** Does an operation completing at `now` count? */
export function inWindow(window: Window, now: number): boolean {
  return now >= window.from && now <= window.to;
}

/**
 * Runs `op` on every actor, one in flight each, until the window closes; the latencies (ms) of the
 * operations that completed inside it, sorted.
 */
export async function loopLatencies<A>(
  actors: readonly A[],
  window: Window,
  op: (actor: A, index: number) => Promise<void>,
): Promise<number[]> {
  const latencies: number[] = [];
  await Promise.all(
    actors.map(async (actor, i) => {
      while (performance.now() < window.to) {
        const startedAt = performance.now();
        await op(actor, i);
        const now = performance.now();
        if (inWindow(window, now)) latencies.push(now - startedAt);
      }
    }),
  );
  return latencies.sort((a, b) => a - b);
}

/** Counts an operation that started at `startedAt` and completed now, if now is in the window. */
function record(tally: Tally, window: Window, startedAt: number): void {
  const now = performance.now();
  if (inWindow(window, now)) tally.latenciesMs.push(now - startedAt);
}

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

/**
 * Opens `count` clients, runs `loop` on each through the warm-up and the measured window, closes
 * them, and tallies. Errors count whenever they happen, warm-up included: a failing backend is
 * never hidden by the warm-up.
 */
async function runClients<H>(
  factory: BackendFactory<H>,
  count: number,
  options: WorkloadOptions,
  loop: (client: LockBackend<H>, index: number, tally: Tally, window: Window) => Promise<void>,
): Promise<{ tally: Tally; elapsedMs: number }> {
  const clients = await openClients(factory, count, options.openBatch ?? 64);
  const tally = newTally();
  const window = measuredWindow(options.warmupMs ?? 0, options.durationMs);
  const cpu = cpuOverWindow(options.serverCpu, options.warmupMs ?? 0, options.durationMs);
  try {
    await Promise.all(clients.map((c, i) => loop(c, i, tally, window)));
    tally.serverCpuMicros = cpu.finish();
  } finally {
    cpu.finish();
    await Promise.allSettled(clients.map((c) => c.close()));
  }
  return { tally, elapsedMs: options.durationMs };
}

function noteError(tally: Tally, error: unknown): void {
  tally.errors++;
  tally.firstError ??= error instanceof Error ? error.message : String(error);
}

function summarize(workload: string, backend: string, unit: string, tally: Tally, elapsedMs: number): WorkloadResult {
  const sorted = tally.latenciesMs.slice().sort((a, b) => a - b);
  // A backend that stalled for the whole window made no error, yet measured nothing: say so, so
  // that a rate of 0 is never read as a figure (and the table prints why).
  const stalled = sorted.length === 0 && tally.errors === 0;
  const stall = `no operation completed in the ${Math.round(elapsedMs)} ms window (the backend stalled)`;
  return {
    workload,
    backend,
    unit,
    rate: sorted.length / (elapsedMs / 1000),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length === 0 ? NaN : (sorted[sorted.length - 1] as number),
    errors: stalled ? 1 : tally.errors,
    firstError: stalled ? stall : tally.firstError,
    serverCpuMicrosPerOp: microsPerOp(tally.serverCpuMicros, sorted.length),
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
export async function ownLockEach<H>(
  factory: BackendFactory<H>,
  clients: number,
  options: WorkloadOptions,
  workload = `uncontended (${clients} clients)`,
): Promise<WorkloadResult> {
  const { tally, elapsedMs } = await runClients(factory, clients, options, async (client, index, t, window) => {
    const name = `bench-own-${index}`;
    while (performance.now() < window.to) {
      const started = performance.now();
      try {
        const handle = await client.acquire(name);
        await client.release(handle);
        record(t, window, started);
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
 * With a factory of workers sharing one client, the queue is of one session's workers.
 */
export async function contended<H>(
  factory: BackendFactory<H>,
  clients: number,
  options: WorkloadOptions,
  workload = `contended (${clients} clients, 1 lock)`,
): Promise<WorkloadResult> {
  const name = 'bench-contended';
  const { tally, elapsedMs } = await runClients(factory, clients, options, async (client, _index, t, window) => {
    while (performance.now() < window.to) {
      const started = performance.now();
      try {
        const handle = await client.acquire(name);
        record(t, window, started);
        await client.release(handle);
      } catch (error) {
        noteError(t, error);
        await pause(errorPauseMs);
      }
    }
  });
  return summarize(workload, factory.name, 'handoffs/s', tally, elapsedMs);
}

const queueJoinBatch = 100;
const queueJoinPauseMs = 100;

/** A cluster whose leader the failover workload can kill: who leads (null while none does), and a SIGKILL. */
export interface KillableCluster<L extends string> {
  leader(): Promise<L | null>;
  kill(name: L): void;
}

/**
 * SIGKILLs a cluster's leader for `FailoverControl.killLeader`: waits (up to 30 s) until the
 * cluster names one, kills it and returns its name.
 */
export async function killCurrentLeader<L extends string>(system: string, cluster: KillableCluster<L>): Promise<L> {
  const started = Date.now();
  let current = await cluster.leader();
  while (current === null) {
    if (Date.now() - started > 30_000) throw new Error(`${system} has had no leader for 30 s`);
    await pause(50);
    current = await cluster.leader();
  }
  cluster.kill(current);
  return current;
}

/** What the failover workload needs from a cluster besides its clients. */
export interface FailoverControl {
  /** SIGKILLs the current leader (waiting until there is one) and returns its name. */
  killLeader(): Promise<string>;
  /** Restarts a killed member and waits until the whole cluster is healthy again. */
  restart(name: string): Promise<void>;
}

export type FailoverOptions = {
  readonly rounds: number;
  /** The client's loop runs this long before the kill, so the kill lands mid-loop. */
  readonly steadyMs: number;
  /** A round that sees no successful acquire within this time counts as an error. */
  readonly recoveryLimitMs: number;
};

/**
 * One client loops acquire+release on one lock; the leader is SIGKILLed mid-loop; the sample is the
 * time from the kill to the completion of the first acquire asked for after it. Repeated `rounds` times (the
 * killed member restarted in between); the rate column is the median in milliseconds.
 */
export async function failover<H>(
  factory: BackendFactory<H>,
  control: FailoverControl,
  options: FailoverOptions,
): Promise<WorkloadResult> {
  const tally = newTally();
  for (let round = 0; round < options.rounds; round++) {
    const client = await factory.open(round);
    let killedAt = Infinity;
    let recoveredAt = Infinity;
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        try {
          const asked = performance.now();
          const handle = await client.acquire('bench-failover');
          // Only an acquire asked for after the kill proves the cluster serves again: a reply
          // already on its way from the old leader does not.
          if (asked > killedAt && recoveredAt === Infinity) recoveredAt = performance.now();
          await client.release(handle);
        } catch {
          // Expected while the cluster has no leader; the client moves to another member.
          await pause(10);
        }
      }
    })();
    await pause(options.steadyMs);
    const killed = await control.killLeader();
    killedAt = performance.now();
    while (recoveredAt === Infinity && performance.now() - killedAt < options.recoveryLimitMs) await pause(5);
    stop = true;
    await loop;
    if (recoveredAt === Infinity)
      noteError(
        tally,
        new Error(`round ${round}: no acquire within ${options.recoveryLimitMs}ms of killing ${killed}`),
      );
    else tally.latenciesMs.push(recoveredAt - killedAt);
    await client.close().catch(() => undefined);
    await control.restart(killed);
  }
  const sorted = tally.latenciesMs.slice().sort((a, b) => a - b);
  return {
    workload: `failover (SIGKILL leader, ${options.rounds} rounds)`,
    backend: factory.name,
    unit: 'ms median',
    rate: percentile(sorted, 50),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length === 0 ? NaN : (sorted[sorted.length - 1] as number),
    errors: tally.errors,
    firstError: tally.firstError,
    // A killed and restarted member has no CPU delta, and recovery is not a rate of operations.
    serverCpuMicrosPerOp: null,
  };
}

/**
 * `waiters` clients queue on one lock held by another client; then the holder lets go and every
 * waiter releases as soon as it is granted. The rate is handoffs per second through the deep queue
 * for the run's duration; the latency is each waiter's wait from the holder's release. Waiters still queued at the deadline
 * are abandoned by closing their clients. `onQueued` runs once every waiter has asked (to sample
 * memory at the deepest point). The queue drains once, so it has no warm-up of its own: the looping
 * workloads before it have warmed the processes.
 */
export async function queueDepth<H>(
  factory: BackendFactory<H>,
  waiters: number,
  options: WorkloadOptions & { readonly onQueued?: () => void },
): Promise<WorkloadResult> {
  const name = 'bench-queue';
  const [holder, ...queue] = await openClients(factory, waiters + 1, options.openBatch ?? 256);
  const tally = newTally();
  let deadline = Infinity;
  let started = 0;
  try {
    const held = await (holder as LockBackend<H>).acquire(name);
    const wait = async (client: LockBackend<H>): Promise<void> => {
      try {
        const handle = await client.acquire(name);
        if (performance.now() >= deadline) return;
        tally.latenciesMs.push(performance.now() - started);
        await client.release(handle);
      } catch (error) {
        if (performance.now() < deadline) noteError(tally, error);
      }
    };
    const waits: Promise<void>[] = [];
    // Waiters join in batches, as a real crowd arrives, rather than in one burst of 10,000 calls.
    for (let i = 0; i < queue.length; i += queueJoinBatch) {
      waits.push(...queue.slice(i, i + queueJoinBatch).map(wait));
      await pause(queueJoinPauseMs);
    }
    // Give the service time to take in the last arrivals before the first handoff (1 ms per
    // waiter: in etcd's lock recipe each arrival costs a sorted range over the queue's keys), so
    // the rate is the deep queue's handoff rate rather than the arrival backlog's.
    await pause(Math.max(1000, waiters));
    options.onQueued?.();
    const cpuFrom = sampleServers(options.serverCpu);
    started = performance.now();
    deadline = started + options.durationMs;
    await (holder as LockBackend<H>).release(held);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(waits),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, options.durationMs);
      }),
    ]);
    clearTimeout(timer);
    // The window is the drain: from the holder's release until the queue emptied or time ran out.
    tally.serverCpuMicros = cpuMicrosBetween(cpuFrom, sampleServers(options.serverCpu));
  } finally {
    await Promise.allSettled([holder, ...queue].map((c) => c?.close()));
  }
  const elapsedMs = Math.min(performance.now(), deadline) - started;
  return summarize(`queue depth (${waiters} waiters, 1 lock)`, factory.name, 'handoffs/s', tally, elapsedMs);
}
