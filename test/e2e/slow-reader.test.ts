// On real node processes: a client that subscribes to a busy prefix and never
// reads its socket must not hurt the node. The node bounds each connection's unread output in
// bytes (src/server/client-output.ts) and closes the connection that goes over it, with a
// SLOW_READER Error frame and a log line; the slow reader costs no memory beyond that bound, the
// leader keeps its term, and other clients keep their latency. Latencies are printed, not
// asserted: the machine is shared and noisy.
//
// The slow reader holds 64 watches (the per-connection maximum) on the busy prefix, so its output
// grows 64 times faster than the writers' load: the worst a single connection can do, at a load
// this shared machine sustains. Half the writers put 1 KiB values, half 16-byte ones: many small
// frames are what cost a node far more than their bytes when they pile up in a socket's buffer.
// Every phase makes the same number of puts, so its memory differs from another's by the watcher.
import { connect as netConnect } from 'node:net';
import t from 'tap';
import type { SessionId } from '../../src/statemachine/ids.js';
import { clientHello, requestFrame } from '../../src/protocol/client-protocol.js';
import { encodePayload } from '../../src/transport/codec.js';
import { encodeFrame } from '../../src/transport/frame.js';
import { clusterId, eventually, PlainCluster, RecordingClient } from './fixtures/plain-cluster.js';

const writers = 4;
const putsPerWriter = 600;
const watches = 64;
/** The node's default bound on a connection's unread output (server-connection.ts). */
const unreadBytesMax = 16 * 1024 * 1024;
/** What the slow reader may add to the node's peak RSS: its bound, a copy of it while frames are joined, and slack. */
const rssAllowance = 4 * unreadBytesMax;

interface Phase {
  readonly puts: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly rssMaxBytes: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

/** `writers` clients each make `putsPerWriter` puts under busy/; the latency of each, and the node's RSS peak meanwhile. */
async function load(
  cluster: PlainCluster,
  port: number,
  nodeId: string,
  tag: string,
  valueBytes: (writer: number) => number,
): Promise<Phase> {
  const clients = await Promise.all(
    Array.from({ length: writers }, () => RecordingClient.connect(port, `writer-${tag}`)),
  );
  const latencies: number[] = [];
  let rssMaxBytes = cluster.rssBytes(nodeId);
  const sampler = setInterval(() => (rssMaxBytes = Math.max(rssMaxBytes, cluster.rssBytes(nodeId))), 50);
  await Promise.all(
    clients.map(async (client, w) => {
      const value = new Uint8Array(valueBytes(w)).fill(7);
      const id = `${tag}-${w}`;
      const session = (await client.openSession(id, 120_000)) as SessionId;
      for (let i = 0; i < putsPerWriter; i++) {
        const started = performance.now();
        const result = await client.command(id, {
          type: 'put',
          session,
          key: `busy/${w}`,
          value,
          ifVersion: null,
          ephemeral: false,
          fence: null,
        });
        if (result.code === 'OK') latencies.push(performance.now() - started);
      }
      client.close();
    }),
  );
  clearInterval(sampler);
  rssMaxBytes = Math.max(rssMaxBytes, cluster.rssBytes(nodeId));
  const sorted = [...latencies].sort((a, b) => a - b);
  return { puts: sorted.length, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), rssMaxBytes };
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const describe = (phase: Phase): string =>
  `${phase.puts} puts, p50 ${phase.p50Ms.toFixed(1)} ms, p99 ${phase.p99Ms.toFixed(1)} ms, RSS peak ${mib(phase.rssMaxBytes)}`;

/** Half the writers put 1 KiB values, half 16-byte ones (many small frames). */
const valueBytes = (writer: number): number => (writer % 2 === 0 ? 1024 : 16);

void t.test('a watcher that never reads cannot hurt its node', async (t) => {
  const cluster = await PlainCluster.start(t, { count: 3, snapshotEntries: 2_000 });
  const leader = await cluster.leader();
  const termBefore = (await cluster.status(leader.id))?.term ?? 0;
  const rssIdle = cluster.rssBytes(leader.id);
  // Warm up first (compilation, heap growth), so the measured phases differ by the watcher only.
  await load(cluster, leader.clientPort, leader.id, 'warm', valueBytes);
  const baseline = await load(cluster, leader.clientPort, leader.id, 'base', valueBytes);

  // The slow reader: Hello and its watches on the busy prefix, then it never reads its socket.
  const socket = netConnect({ host: '127.0.0.1', port: leader.clientPort });
  t.teardown(() => socket.destroy());
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(encodeFrame(encodePayload(clientHello(clusterId, 'never-reads'))));
  for (let id = 1; id <= watches; id++)
    socket.write(encodeFrame(encodePayload(requestFrame(id, { kind: 'watch', prefix: 'busy/', fromIndex: 0 }))));
  socket.pause();

  const slowed = await load(cluster, leader.clientPort, leader.id, 'slow', valueBytes);
  const output = (): string => cluster.procs.get(leader.id)?.process.output() ?? '';
  const termAfter = (await cluster.status(leader.id))?.term ?? 0;
  t.comment(`leader RSS idle ${mib(rssIdle)}`);
  t.comment(`without the slow watcher: ${describe(baseline)}`);
  t.comment(`with the slow watcher:    ${describe(slowed)}`);
  t.comment(`p99 with / without: ${(slowed.p99Ms / baseline.p99Ms).toFixed(2)}; term ${termBefore} → ${termAfter}`);
  const closed = /client connection closed.*does not read/;
  await eventually(
    async () => (closed.test(output()) ? true : undefined),
    10_000,
    'the slow connection to be closed, with a log line',
  );
  t.comment(
    output()
      .split('\n')
      .find((line) => closed.test(line)) ?? '',
  );
  t.pass('the slow connection was closed (SLOW_READER) and logged');
  t.equal(termAfter, termBefore, 'the leader kept its term');
  const bound = baseline.rssMaxBytes + rssAllowance;
  t.ok(
    slowed.rssMaxBytes <= bound,
    `the leader's RSS peak with the slow watcher (${mib(slowed.rssMaxBytes)}) stays under the peak without it + 4 × unreadBytesMax (${mib(bound)})`,
  );
});
