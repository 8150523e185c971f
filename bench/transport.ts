// Transport figures: codec encode+validate rates and loopback TCP throughput between two
// TcpTransports. Prints numbers only; nothing here asserts on time.
// Run: npx tsx bench/transport.ts [messages=100000] [entryBytes=100]
import type { Message } from '../src/raft/messages.js';
import type { LogIndex, NodeId, Term } from '../src/raft/types.js';
import { decodeMessage, encodeMessage } from '../src/transport/codec.js';
import { TcpTransport } from '../src/transport/tcp.js';

const count = Number(process.argv[2] ?? 100_000);
const entryBytes = Number(process.argv[3] ?? 100);
const n1 = 'n1' as NodeId;
const n2 = 'n2' as NodeId;

function append(index: number, entries: number): Message {
  return {
    type: 'AppendEntries',
    from: n1,
    to: n2,
    term: 3 as Term,
    prevIndex: (index - 1) as LogIndex,
    prevTerm: 3 as Term,
    entries: Array.from({ length: entries }, (_, i) => ({
      term: 3 as Term,
      index: (index + i) as LogIndex,
      kind: 'command' as const,
      data: new Uint8Array(entryBytes).fill(i),
    })),
    commit: (index - 1) as LogIndex,
  };
}

function rate(label: string, n: number, run: () => void): void {
  const started = process.hrtime.bigint();
  run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`${label}: ${Math.round(n / seconds).toLocaleString('en-US')}/s`);
}

for (const entries of [1, 16]) {
  const message = append(1, entries);
  const payload = encodeMessage(message);
  const n = Math.max(1000, Math.floor(count / entries));
  const shape = `${entries} × ${entryBytes} B entries`;
  console.log(`AppendEntries with ${shape}: ${payload.byteLength} B encoded`);
  rate('  encode', n, () => {
    for (let i = 0; i < n; i++) encodeMessage(message);
  });
  rate('  decode+validate', n, () => {
    for (let i = 0; i < n; i++) if (!decodeMessage(payload).ok) throw new Error('decode failed');
  });
}

const receiver = await TcpTransport.listen({
  nodeId: n2,
  clusterId: 'bench',
  listen: { host: '127.0.0.1', port: 0 },
});
const sender = await TcpTransport.listen({
  nodeId: n1,
  clusterId: 'bench',
  listen: { host: '127.0.0.1', port: 0 },
  limits: { sendQueueFramesMax: 1_000_000, sendQueueBytesMax: 1024 ** 3 },
});
receiver.addPeer(n1, sender.address);
sender.addPeer(n2, receiver.address);
let received = 0;
const done = new Promise<void>((resolve) => {
  receiver.onMessage(() => {
    received += 1;
    if (received === count) resolve();
  });
});
while (sender.stats().get(n2)?.connected !== true) await new Promise((r) => setTimeout(r, 5));
const started = process.hrtime.bigint();
// Send in bursts of 1000 per event-loop turn, as a leader's driver would batch a turn's output.
for (let i = 0; i < count; i += 1000) {
  for (let j = i; j < Math.min(count, i + 1000); j++) sender.send(append(j + 1, 1));
  await new Promise((r) => setImmediate(r));
}
await done;
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const dropped = sender.stats().get(n2)?.droppedQueueFull ?? 0;
const perSecond = Math.round(count / seconds).toLocaleString('en-US');
console.log(`loopback TCP, ${count} one-entry AppendEntries: ${perSecond} msgs/s (dropped ${dropped})`);
await sender.close();
await receiver.close();
