// Cluster figures on 3 real node processes (fsync on, 127.0.0.1): acquire+release pairs/s with 1,
// 32 and 256 clients on distinct locks (p50/p99 per pair), handoffs/s and wait latency with 16
// clients on one lock, and the time from SIGKILL of the leader to the next successful acquire
// (median of 5). Clients speak the raw client protocol to the leader. Prints numbers only.
// Run: npx tsx bench/cluster.ts [--short]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { nodeId } from '../src/raft/types.js';
import { loadClusterConfig } from '../src/server/cluster-config.js';
import { Launcher } from '../src/server/launcher.js';
import type { SessionId } from '../src/statemachine/ids.js';
import type { WireResult } from '../src/transport/client-protocol.js';
import type { TestNode } from '../test/e2e/fixtures/procs.js';
import { makeNodes, writeClusterFile } from '../test/e2e/fixtures/procs.js';
import { RawClient } from '../test/e2e/fixtures/raw-client.js';

const short = process.argv.includes('--short');
const measureMs = Number(process.env.MEASURE_MS ?? (short ? 3000 : 10_000));
const failoverRounds = short ? 3 : 5;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function ms(value: number): string {
  return `${value.toFixed(2)} ms`;
}

interface Actor {
  readonly client: RawClient;
  readonly clientId: string;
  readonly session: SessionId;
  seq: number;
}

async function actor(port: number, clientId: string): Promise<Actor> {
  const client = await RawClient.connect({ port, redirect: true, name: clientId });
  const opened = await client.command(clientId, 1, { type: 'openSession', ttlMs: 60_000 });
  if (opened.code !== 'OK' || opened.value.kind !== 'session') throw new Error(`openSession: ${JSON.stringify(opened)}`);
  return { client, clientId, session: opened.value.session, seq: 1 };
}

function command(a: Actor, op: Parameters<RawClient['command']>[2]): Promise<WireResult> {
  a.seq += 1;
  return a.client.command(a.clientId, a.seq, op);
}

async function leaderOf(nodes: readonly TestNode[]): Promise<TestNode> {
  for (let attempt = 0; attempt < 100; attempt++) {
    for (const node of nodes) {
      try {
        const c = await RawClient.connect({ port: node.clientPort });
        c.close();
        const leader = nodes.find((n) => n.id === c.welcome.leader);
        if (leader !== undefined) return leader;
      } catch {
        // Node down or starting: try the next.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('no leader');
}

async function pairs(port: number, clients: number): Promise<void> {
  const actors = await Promise.all(Array.from({ length: clients }, (_, i) => actor(port, `pair-${clients}-${i}`)));
  const latencies: number[] = [];
  const deadline = performance.now() + measureMs;
  const started = performance.now();
  await Promise.all(
    actors.map(async (a, i) => {
      const name = `lock-${clients}-${i}`;
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const got = await command(a, { type: 'acquire', session: a.session, name, waitMs: 0, lockDelayMs: 0 });
        const released = await command(a, { type: 'release', session: a.session, name });
        if (got.code !== 'OK' || released.code !== 'OK') throw new Error(`pair failed: ${JSON.stringify([got, released])}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((x, y) => x - y);
  const rate = Math.round(latencies.length / seconds);
  console.log(`acquire+release, ${String(clients).padStart(3)} clients on distinct locks: ${rate.toLocaleString('en-US')} pairs/s, p50 ${ms(percentile(latencies, 50))}, p99 ${ms(percentile(latencies, 99))}`);
  for (const a of actors) a.client.close();
}

async function handoffs(port: number, clients: number): Promise<void> {
  const actors = await Promise.all(Array.from({ length: clients }, (_, i) => actor(port, `handoff-${i}`)));
  const waits: number[] = [];
  const deadline = performance.now() + measureMs;
  const started = performance.now();
  await Promise.all(
    actors.map(async (a) => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const seq = a.seq + 1;
        const got = await command(a, { type: 'acquire', session: a.session, name: 'hot', waitMs: 60_000, lockDelayMs: 0 });
        if (got.code !== 'OK') throw new Error(`acquire: ${JSON.stringify(got)}`);
        if (got.value.kind === 'queued') {
          await a.client.waitForPush((p) => p.kind === 'granted' && p.seq === seq, 60_000);
        }
        waits.push(performance.now() - t0);
        const released = await command(a, { type: 'release', session: a.session, name: 'hot' });
        if (released.code !== 'OK') throw new Error(`release: ${JSON.stringify(released)}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  waits.sort((x, y) => x - y);
  const rate = Math.round(waits.length / seconds);
  console.log(`handoffs, ${clients} clients on one lock: ${rate.toLocaleString('en-US')} grants/s, wait p50 ${ms(percentile(waits, 50))}, p99 ${ms(percentile(waits, 99))}`);
  for (const a of actors) a.client.close();
}

async function failover(launcher: Launcher, nodes: readonly TestNode[]): Promise<number> {
  const leader = await leaderOf(nodes);
  const survivor = nodes.find((n) => n.id !== leader.id)!;
  const a = await RawClient.connect({ port: survivor.clientPort });
  const clientId = `failover-${Date.now()}`;
  const opened = await a.command(clientId, 1, { type: 'openSession', ttlMs: 60_000 });
  if (opened.code !== 'OK' || opened.value.kind !== 'session') throw new Error('openSession');
  const session = opened.value.session;
  const pid = launcher.pids.get(nodeId(leader.id));
  if (pid === undefined) throw new Error('leader pid unknown');
  const killedAt = performance.now();
  process.kill(pid, 'SIGKILL');
  let seq = 1;
  for (;;) {
    seq += 1;
    const r = await a.command(clientId, seq, { type: 'acquire', session, name: `${clientId}-${seq}`, waitMs: 0, lockDelayMs: 0 });
    if (r.code === 'OK') break;
    if (process.env.DEBUG_BENCH !== undefined) process.stderr.write(`  ${JSON.stringify(r)}\n`);
    seq -= 1; // retry the same (clientId, seq): the outcome was unknown
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const elapsed = performance.now() - killedAt;
  process.stderr.write(`  failover: ${Math.round(elapsed)} ms after SIGKILL of ${leader.id}\n`);
  a.close();
  await launcher.restart(nodeId(leader.id));
  return elapsed;
}

const dir = mkdtempSync(join(tmpdir(), 'raftlock-bench-'));
const nodes = await makeNodes(3);
const file = writeClusterFile(dir, nodes, { tick: '50ms', election: 10 });
const config = await loadClusterConfig(file);
if (!config.ok) throw new Error(config.error.message);
const launcher = new Launcher({ config: config.value, logLevel: 'warn', includeJoining: false, out: () => undefined });
try {
  await launcher.start();
  console.log(`3 node processes (tick 50ms, election 10 ticks, fsync on), ${measureMs / 1000}s per figure`);
  const leader = await leaderOf(nodes);
  if (process.env.ONLY_FAILOVER === undefined) {
    for (const clients of [1, 32, 256]) await pairs(leader.clientPort, clients);
    await handoffs(leader.clientPort, 16);
  }
  const times: number[] = [];
  for (let round = 0; round < failoverRounds; round++) times.push(await failover(launcher, nodes));
  times.sort((x, y) => x - y);
  console.log(`leader SIGKILL → next successful acquire: median ${ms(percentile(times, 50))} of ${failoverRounds} (${times.map((x) => Math.round(x)).join(', ')} ms)`);
} finally {
  await launcher.stop();
  rmSync(dir, { recursive: true, force: true });
}
