// The cost of metrics on the lock path. A 3-node cluster in this process (fsync on, 127.0.0.1),
// each node's /metrics served over HTTP as the HTTP server serves it (metricsAnswer); one client
// doing uncontended acquire+release pairs on its own lock, in rounds that alternate three modes:
// the metrics hooks replaced by functions that do nothing, the hooks on, and the hooks on with a
// scraper fetching every node's /metrics once a second. Each mode reports pairs/s and the process's
// CPU time per pair (CPU time, unlike a clock, is not inflated when a busy machine preempts us).
// Then the CPU cost of one scrape.
// Run: npx tsx bench/metrics.ts [--short]
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect } from '../src/client/client.js';
import { ClientMetrics } from '../src/metrics/client-metrics.js';
import { LockMetrics } from '../src/metrics/lock-metrics.js';
import { metricsAnswer } from '../src/metrics/metrics-server.js';
import { RaftMetrics } from '../src/metrics/raft-metrics.js';
import { StorageMetrics } from '../src/metrics/storage-metrics.js';
import type { ClusterHandle } from '../src/server/embed.js';
import { startCluster } from '../src/server/embed.js';
import type { NodeServer } from '../src/server/node-server.js';

const short = process.argv.includes('--short');
const rounds = short ? 2 : 5;
const measureMs = short ? 2000 : 8000;
const warmupMs = short ? 500 : 2000;

function serveMetrics(node: NodeServer): Promise<Server> {
  const server = createServer((request, response) => {
    void metricsAnswer(node.metrics).then((answer) => {
      response.writeHead(answer.status, { 'content-type': answer.contentType });
      response.end(answer.body);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Fetches every URL once a second until stopped; returns the stop function. */
function scraper(urls: readonly string[]): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    while (running) {
      await Promise.all(urls.map(async (url) => (await fetch(url)).text()));
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

async function pairsPerSecond(cluster: ClusterHandle, lockName: string): Promise<{ rate: number; cpuMicrosPerPair: number }> {
  const client = await connect({ endpoints: cluster.endpoints.map((e) => e.client) });
  try {
    const warmEnd = performance.now() + warmupMs;
    while (performance.now() < warmEnd) await (await client.lock(lockName, { waitMs: 0 })).release();
    const cpuFrom = process.cpuUsage();
    const end = performance.now() + measureMs;
    let pairs = 0;
    while (performance.now() < end) {
      await (await client.lock(lockName, { waitMs: 0 })).release();
      pairs++;
    }
    const cpu = process.cpuUsage(cpuFrom);
    return { rate: pairs / (measureMs / 1000), cpuMicrosPerPair: (cpu.user + cpu.system) / pairs };
  } finally {
    await client.close();
  }
}

type Hooked = { prototype: object };

const hookMethods: readonly [Hooked, readonly string[]][] = [
  [RaftMetrics, ['drained', 'messageReceived', 'statusSeen']],
  [LockMetrics, ['applied', 'restored']],
  [StorageMetrics, ['batchWritten']],
  [ClientMetrics, ['requestAnswered', 'pushed', 'connectionOpened', 'connectionClosed', 'slowConsumerClosed']],
];

const originals = hookMethods.flatMap(([target, names]) =>
  names.map((name) => ({ proto: target.prototype as Record<string, unknown>, name, original: (target.prototype as Record<string, unknown>)[name] })),
);

/** Switches every metrics hook between its real body and a function that does nothing. */
function setHooks(enabled: boolean): void {
  for (const { proto, name, original } of originals) proto[name] = enabled ? original : () => undefined;
}

async function withCluster<T>(run: (cluster: ClusterHandle, urls: string[]) => Promise<T>): Promise<T> {
  const cluster = await startCluster({ nodes: 3 });
  const servers: Server[] = [];
  try {
    await cluster.waitForLeader();
    for (const node of cluster.nodes) servers.push(await serveMetrics(node));
    const urls = servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}/metrics`);
    return await run(cluster, urls);
  } finally {
    for (const server of servers) server.close();
    await cluster.close();
  }
}

console.log(
  `3 in-process nodes (fsync on), one client, uncontended acquire+release on one lock; ${rounds} rounds of ${measureMs / 1000}s per mode ` +
    `after ${warmupMs / 1000}s of warm-up, the modes alternating; CPU is the whole process's (all threads) per pair`,
);
await withCluster(async (cluster, urls) => {
  const modes = ['hooks off', 'hooks on', 'hooks on, every node scraped each second'] as const;
  const results = new Map<string, { rate: number; cpuMicrosPerPair: number }[]>(modes.map((m) => [m, []]));
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      setHooks(mode !== 'hooks off');
      const stop = mode === modes[2] ? scraper(urls) : null;
      results.get(mode)?.push(await pairsPerSecond(cluster, `pairs-${round}`));
      await stop?.();
      setHooks(true);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  for (const mode of modes) {
    const runs = results.get(mode) ?? [];
    const rates = runs.map((r) => Math.round(r.rate)).join(', ');
    const cpu = runs.map((r) => Math.round(r.cpuMicrosPerPair)).join(', ');
    console.log(
      `${mode}: pairs/s ${rates} (median ${Math.round(median(runs.map((r) => r.rate)))}); ` +
        `CPU µs per pair ${cpu} (median ${Math.round(median(runs.map((r) => r.cpuMicrosPerPair)))})`,
    );
  }
  const node = cluster.leader() ?? cluster.nodes[0];
  if (node === undefined) return;
  const cpuFrom = process.cpuUsage();
  const scrapes = 50;
  let bytes = 0;
  for (let i = 0; i < scrapes; i++) bytes = (await metricsAnswer(node.metrics)).body.length;
  const cpu = process.cpuUsage(cpuFrom);
  console.log(`one scrape of a node: ${((cpu.user + cpu.system) / scrapes / 1000).toFixed(2)} ms of CPU, ${bytes} bytes of text`);
});
