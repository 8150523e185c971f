// The cost of metrics on the lock path. A 3-node cluster in this process (fsync on, 127.0.0.1),
// each node's /metrics served over HTTP as the HTTP server serves it (metricsAnswer); one client
// doing uncontended acquire+release pairs on its own lock, in rounds that alternate three modes:
// the metrics hooks replaced by functions that do nothing, the hooks on, and the hooks on with a
// scraper fetching every node's /metrics once a second. Each mode reports pairs/s and the process's
// CPU time per pair (CPU time, unlike a clock, is not inflated when a busy machine preempts us).
// Then the CPU cost of one scrape, and (steadier on a busy machine than the end-to-end figures)
// each hook's CPU cost per call in a tight loop times how often each is called per pair.
// Run: npx tsx bench/metrics.ts [--short]
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { connect } from '../src/client/client.js';
import type { Message } from '../src/raft/messages.js';
import type { RaftStatus } from '../src/raft/status.js';
import type { Entry, LogIndex, NodeId, Term } from '../src/raft/types.js';
import { encodeCommand } from '../src/statemachine/commands.js';
import { sessionId } from '../src/statemachine/ids.js';
import { LockStateMachine } from '../src/statemachine/machine.js';
import type { PersistRequest } from '../src/node/durable-log.js';
import { ClientMetrics } from '../src/metrics/client-metrics.js';
import { LockMetrics } from '../src/metrics/lock-metrics.js';
import { metricsAnswer } from '../src/metrics/metrics-server.js';
import { RaftMetrics } from '../src/metrics/raft-metrics.js';
import { StorageMetrics } from '../src/metrics/storage-metrics.js';
import type { ClusterHandle } from '../src/embed/embed.js';
import { startCluster } from '../src/embed/embed.js';
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

async function pairsPerSecond(
  cluster: ClusterHandle,
  lockName: string,
): Promise<{ rate: number; cpuMicrosPerPair: number }> {
  const client = await connect(cluster.connectOptions());
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
  names.map((name) => ({
    proto: target.prototype as Record<string, unknown>,
    name,
    original: (target.prototype as Record<string, unknown>)[name],
  })),
);

/** Wraps every hook with a call counter (no clock); returns the counts by `Class.method`. */
function countHooks(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { proto, name, original } of originals) {
    const key = `${(proto.constructor as { name: string }).name}.${name}`;
    counts.set(key, 0);
    proto[name] = function (this: unknown, ...args: unknown[]): unknown {
      counts.set(key, (counts.get(key) ?? 0) + 1);
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
  return counts;
}

/** CPU µs per call of `body`, run `n` times (after a warm-up of as many). */
function cpuPerCall(n: number, body: (i: number) => void): number {
  for (let i = 0; i < n; i++) body(i);
  const from = process.cpuUsage();
  for (let i = 0; i < n; i++) body(i);
  const cpu = process.cpuUsage(from);
  return (cpu.user + cpu.system) / n;
}

/** Each hook's CPU cost per call, on inputs shaped like an uncontended acquire+release's. */
function hookCosts(): Map<string, number> {
  const costs = new Map<string, number>();
  const n = 200_000;
  const node = 'n1' as NodeId;
  const status = {
    id: node,
    role: 'leader',
    term: 3,
    vote: node,
    leader: node,
    commit: 10,
    applied: 10,
  } as unknown as RaftStatus;
  const raft = new RaftMetrics(
    new Registry(),
    () => null,
    () => performance.now() / 1000,
  );
  const entry = (index: number): Entry => ({
    index: index as LogIndex,
    term: 3 as Term,
    kind: 'command',
    data: new Uint8Array(40),
  });
  const append = {
    type: 'AppendEntries',
    from: node,
    to: 'n2' as NodeId,
    term: 3 as Term,
    prevIndex: 9 as LogIndex,
    prevTerm: 3 as Term,
    entries: [entry(10)],
    commit: 9 as LogIndex,
  } as const;
  const write: PersistRequest = { seq: 1, hardState: null, entries: [entry(10)], snapshot: null, sync: true };
  const output = {
    writes: [write],
    earlyMessages: [append, { ...append, to: 'n3' as NodeId }] as Message[],
    messages: [] as Message[],
    snapshots: [],
    snapshotRequests: [],
  };
  costs.set(
    'RaftMetrics.drained',
    cpuPerCall(n, () => raft.drained(output, true)),
  );
  const response: Message = {
    type: 'AppendEntriesResponse',
    from: 'n2' as NodeId,
    to: node,
    term: 3 as Term,
    accepted: true,
    index: 10 as LogIndex,
    hintIndex: 0 as LogIndex,
    hintTerm: 0 as Term,
  };
  costs.set(
    'RaftMetrics.messageReceived',
    cpuPerCall(n, () => raft.messageReceived(response)),
  );
  costs.set(
    'RaftMetrics.statusSeen',
    cpuPerCall(n, () => raft.statusSeen(status)),
  );
  const storage = new StorageMetrics(new Registry(), () => null, null);
  costs.set(
    'StorageMetrics.batchWritten',
    cpuPerCall(n, () => storage.batchWritten(write, 2, 0.002)),
  );
  const clients = new ClientMetrics(new Registry(), () => null);
  costs.set(
    'ClientMetrics.requestAnswered',
    cpuPerCall(n, (i) => clients.requestAnswered(i % 2 === 0 ? 'acquire' : 'release', 'OK', 0.0015)),
  );
  costs.set(
    'ClientMetrics.pushed',
    cpuPerCall(n, () => clients.pushed('granted')),
  );
  // LockMetrics.applied on real outputs: an acquire and a release applied to a state machine, with
  // and without the hook; the difference per entry.
  const applyPairs = (withHook: boolean): number => {
    const machine = new LockStateMachine();
    const locks = new LockMetrics(new Registry(), () => machine.state);
    let index = 0;
    let seq = 0;
    const apply = (op: Parameters<typeof encodeCommand>[0]): void => {
      index += 1;
      const out = machine.apply({
        index: index as LogIndex,
        term: 1 as Term,
        logTimeMs: 1000 + index,
        payload: encodeCommand(op),
      });
      if (withHook) locks.applied(machine.state, out);
    };
    apply({ type: 'client', clientId: 'c', seq: ++seq, op: { type: 'openSession', ttlMs: 600_000 } });
    const session = sessionId(1);
    return cpuPerCall(n / 4, () => {
      apply({
        type: 'client',
        clientId: 'c',
        seq: ++seq,
        op: { type: 'acquire', session, name: 'pair', waitMs: 0, lockDelayMs: 0 },
      });
      apply({ type: 'client', clientId: 'c', seq: ++seq, op: { type: 'release', session, name: 'pair' } });
    });
  };
  const without = Math.min(applyPairs(false), applyPairs(false));
  const withHook = Math.min(applyPairs(true), applyPairs(true));
  costs.set('LockMetrics.applied', Math.max(0, withHook - without) / 2);
  return costs;
}

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
  console.log(
    `one scrape of a node: ${((cpu.user + cpu.system) / scrapes / 1000).toFixed(2)} ms of CPU, ${bytes} bytes of text`,
  );
});
const counts = countHooks();
const pairs = await withCluster(async (cluster) => {
  await pairsPerSecond(cluster, 'warm'); // connections and sessions opened, caches warm
  for (const key of counts.keys()) counts.set(key, 0);
  return (await pairsPerSecond(cluster, 'counted')).rate * (measureMs / 1000);
});
setHooks(true);
const costs = hookCosts();
let total = 0;
const rows: string[] = [];
for (const [key, calls] of counts) {
  const cost = costs.get(key);
  if (calls === 0 || cost === undefined) continue;
  const perPair = calls / pairs;
  total += perPair * cost;
  rows.push(`${key} ${perPair.toFixed(1)}×${(cost * 1000).toFixed(0)} ns`);
}
console.log(
  `hooks per pair (3 nodes), calls × CPU per call: ${rows.join(', ')}; about ${total.toFixed(1)} µs of CPU per pair`,
);
