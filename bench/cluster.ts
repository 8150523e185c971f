// Cluster figures on 3 real node processes (fsync on, 127.0.0.1), driven through the client
// library: acquire+release pairs/s with 1, 32 and 256 clients on distinct locks (p50/p99 per
// pair), handoffs/s and wait latency with 16 clients on one lock, and the time from SIGKILL of the
// leader to the next successful acquire (median of 5). Each figure is measured after a warm-up of
// the same loop (3 s, --short 1 s) whose operations are not counted, with the CPU time each node
// process and the client spent per operation in the measured window (Linux). Prints numbers only.
// Run: npx tsx bench/cluster.ts [--short]
import { loopLatencies, measuredWindow, percentile } from './etcd/workloads.js';
import { mainThreadCpuSampler, procCpuSampler } from './etcd/cpu.js';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect } from '../src/client/client.js';
import type { RaftlockClient } from '../src/client/client.js';
import { nodeId } from '../src/raft/types.js';
import { loadClusterConfig } from '../src/config/cluster-config.js';
import { Launcher } from '../src/server/launcher.js';
import { probeStatus } from '../src/server/server-probe.js';
import { allocateLocalNodes, writeLocalClusterFile } from '../src/config/local-cluster-file.js';
import type { LocalNode } from '../src/config/local-cluster-file.js';
import { benchClusterId } from './etcd/raftlock-backend.js';

const short = process.argv.includes('--short');
const measureMs = short ? 3000 : 10_000;
const warmupMs = short ? 1000 : 3000;
const failoverRounds = short ? 3 : 5;

function ms(value: number): string {
  return `${value.toFixed(2)} ms`;
}

async function leaderOf(nodes: readonly LocalNode[]): Promise<LocalNode> {
  for (let attempt = 0; attempt < 100; attempt++) {
    for (const node of nodes) {
      const status = await probeStatus({ host: '127.0.0.1', port: node.clientPort }, benchClusterId, 500);
      const leader = nodes.find((n) => n.id === status?.leader);
      if (leader !== undefined) return leader;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('no leader');
}

async function clients(endpoints: readonly string[], count: number): Promise<RaftlockClient[]> {
  const all = await Promise.all(Array.from({ length: count }, () => connect({ endpoints, clusterId: benchClusterId })));
  await Promise.all(all.map((c) => c.session()));
  return all;
}

interface CpuMicros {
  /** Every thread: the main thread, libuv's pool (level writes and fsyncs), V8's and our workers. */
  readonly all: number;
  /** The main thread alone, where the JavaScript runs. */
  readonly main: number;
}

const allThreads = procCpuSampler();
const mainThread = mainThreadCpuSampler();

/**
 * CPU time of each node process and of this client process, in µs, for all threads and for the
 * main thread (bench/etcd/cpu.ts reads /proc); empty off Linux. A process that is gone (a failover
 * round restarts it) has no figure.
 */
function cpuMicros(pids: ReadonlyMap<string, number>): Map<string, CpuMicros> {
  const named = [...pids, ['client', process.pid] as const];
  const all = allThreads(named.map(([, pid]) => pid));
  const main = mainThread(named.map(([, pid]) => pid));
  const out = new Map<string, CpuMicros>();
  for (const [name, pid] of named) {
    const a = all?.get(pid);
    const m = main?.get(pid);
    if (a !== undefined && m !== undefined) out.set(name, { all: a, main: m });
  }
  return out;
}

async function measure(
  label: string,
  actors: readonly RaftlockClient[],
  op: (client: RaftlockClient, i: number) => Promise<void>,
): Promise<void> {
  const window = measuredWindow(warmupMs, measureMs);
  // CPU is sampled at the window's edges, so the figures per operation are the warm ones.
  let cpuFrom = new Map<string, CpuMicros>();
  let cpuTo = new Map<string, CpuMicros>();
  const edges = [
    setTimeout(() => {
      cpuFrom = cpuMicros(launcher.pids);
    }, warmupMs),
    setTimeout(() => {
      cpuTo = cpuMicros(launcher.pids);
    }, warmupMs + measureMs),
  ];
  const latencies = await loopLatencies(actors, window, op);
  for (const timer of edges) clearTimeout(timer);
  const rate = Math.round(latencies.length / (measureMs / 1000)).toLocaleString('en-US');
  const ops = Math.max(1, latencies.length);
  const perOp = [...cpuTo].flatMap(([name, to]) => {
    const from = cpuFrom.get(name);
    if (from === undefined) return [];
    return [`${name} ${Math.round((to.all - from.all) / ops)} [${Math.round((to.main - from.main) / ops)}]`];
  });
  const cpu = perOp.length > 0 ? `; CPU µs per operation [main thread]: ${perOp.join(', ')}` : '';
  console.log(`${label}: ${rate}/s, p50 ${ms(percentile(latencies, 50))}, p99 ${ms(percentile(latencies, 99))}${cpu}`);
}

async function failover(launcher: Launcher, nodes: readonly LocalNode[], round: number): Promise<number> {
  const leader = await leaderOf(nodes);
  const client = await connect({ endpoints: nodes.map((n) => `127.0.0.1:${n.clientPort}`), clusterId: benchClusterId });
  (await client.lock(`failover-${round}-warm`)).release().catch(() => undefined);
  const pid = launcher.pids.get(nodeId(leader.id));
  if (pid === undefined) throw new Error('leader pid unknown');
  const killedAt = performance.now();
  process.kill(pid, 'SIGKILL');
  const lock = await client.lock(`failover-${round}`, { waitMs: 0 });
  const elapsed = performance.now() - killedAt;
  await lock.release().catch(() => undefined);
  await client.close();
  await launcher.restart(nodeId(leader.id));
  return elapsed;
}

const dir = mkdtempSync(join(tmpdir(), 'raftlock-bench-'));
const nodes = await allocateLocalNodes(3);
const file = writeLocalClusterFile(dir, nodes, {
  clusterId: benchClusterId,
  tick: '50ms',
  election: 10,
  security: 'insecure',
});
// 256 clients, all from 127.0.0.1: the per-address and not-yet-authenticated budgets, meant for
// strangers, get room for all of them.
appendFileSync(file, 'limits:\n  connectionsPerSourceMax: 1024\n  connectionsUnauthenticatedMax: 1024\n');
const config = await loadClusterConfig(file);
if (!config.ok) throw new Error(config.error.message);
const launcher = new Launcher({ config: config.value, logLevel: 'warn', includeJoining: false, out: () => undefined });
try {
  await launcher.start();
  console.log(
    `3 node processes (tick 50ms, election 10 ticks, fsync on), client library, ${measureMs / 1000}s per figure after ${warmupMs / 1000}s of warm-up`,
  );
  await leaderOf(nodes);
  const endpoints = nodes.map((n) => `127.0.0.1:${n.clientPort}`);
  for (const count of [1, 32, 256]) {
    const actors = await clients(endpoints, count);
    await measure(
      `acquire+release pairs, ${String(count).padStart(3)} clients on distinct locks`,
      actors,
      async (c, i) => {
        const lock = await c.lock(`pair-${count}-${i}`, { waitMs: 0 });
        await lock.release();
      },
    );
    await Promise.all(actors.map((c) => c.close()));
  }
  const contenders = await clients(endpoints, 16);
  await measure('handoffs, 16 clients on one lock (wait = lock() latency)', contenders, async (c) => {
    const lock = await c.lock('hot', { waitMs: 60_000 });
    await lock.release();
  });
  await Promise.all(contenders.map((c) => c.close()));
  const times: number[] = [];
  for (let round = 0; round < failoverRounds; round++) times.push(await failover(launcher, nodes, round));
  times.sort((x, y) => x - y);
  const each = times.map((x) => Math.round(x)).join(', ');
  console.log(
    `leader SIGKILL → next successful acquire: median ${ms(percentile(times, 50))} of ${failoverRounds} (${each} ms)`,
  );
} finally {
  await launcher.stop();
  rmSync(dir, { recursive: true, force: true });
}
