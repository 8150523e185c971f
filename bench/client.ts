/**
 * Client round trips against a real in-process 3-node cluster on 127.0.0.1 (Raft, durable log on
 * level with fsync, client listener): lock+release cycles and kv puts per second, with 1 and 16
 * clients each working on its own name, and with 16 workers sharing one client (their commands in
 * flight together on its lanes). Latency is wall time per operation (p50/p99).
 * Run: `npx tsx bench/client.ts [--short]`.
 */
import { loopLatencies, measuredWindow, percentile } from './etcd/workloads.js';
import { connect } from '../src/client/client.js';
import type { RaftlockClient } from '../src/client/client.js';
import { startCluster } from '../src/embed/embed.js';

const short = process.argv.includes('--short');
const durationMs = short ? 1_500 : 5_000;

async function run(
  label: string,
  clients: readonly RaftlockClient[],
  op: (c: RaftlockClient, i: number) => Promise<void>,
): Promise<void> {
  const latencies = await loopLatencies(clients, measuredWindow(0, durationMs), op);
  const rate = Math.round(latencies.length / (durationMs / 1000));
  const p50 = percentile(latencies, 50).toFixed(1);
  const p99 = percentile(latencies, 99).toFixed(1);
  console.log(`${label.padEnd(38)} ${String(rate).padStart(6)} ops/s  p50 ${p50} ms  p99 ${p99} ms`);
}

const cluster = await startCluster({ nodes: 3 });
await cluster.waitForLeader();
// A secure cluster (throwaway certificates): every client connects with TLS as root.
const options = cluster.connectOptions();
try {
  for (const count of [1, 16]) {
    const clients = await Promise.all(Array.from({ length: count }, () => connect(options)));
    await run(`lock+release, ${count} client(s)`, clients, async (c, i) => {
      const lock = await c.lock(`bench/${i}`);
      await lock.release();
    });
    await run(`kv put, ${count} client(s)`, clients, async (c, i) => {
      await c.kv.put(`bench/k${i}`, 'value');
    });
    await Promise.all(clients.map((c) => c.close()));
  }
  const shared = await connect(options);
  const workers = Array.from({ length: 16 }, () => shared);
  await run('lock+release, 16 workers on 1 client', workers, async (c, i) => {
    const lock = await c.lock(`bench/shared/${i}`);
    await lock.release();
  });
  await run('kv put, 16 workers on 1 client', workers, async (c, i) => {
    await c.kv.put(`bench/shared/k${i}`, 'value');
  });
  await shared.close();
} finally {
  await cluster.close();
}
