// The transports keep the PeerTransport contract (src/node/transport.ts): validated messages
// arrive from the authenticated peer, links heal after restarts, strangers and malformed frames
// get an Error frame and a close without disturbing other connections, and a dead or slow peer
// only fills (and drops from) its own bounded queue. Raft needs no more than this: it tolerates
// lost, delayed and reordered messages and retries on its own (Raft §5.1, §5.3).
import t from 'tap';
import type { Test } from 'tap';
import type { Socket } from 'node:net';
import type { Message } from '../../src/raft/messages.js';
import type { LogIndex, NodeId, Term } from '../../src/raft/types.js';
import { InProcessHub } from '../../src/transport/in-process.js';
import { TcpTransport } from '../../src/transport/tcp.js';
import type { TcpTransportLimits, TransportEvent } from '../../src/transport/tcp.js';
import { encodeFrame, FrameDecoder } from '../../src/transport/frame.js';
import { decodePayload, encodeMessage, encodePayload } from '../../src/transport/codec.js';
import { clientHelloFrame, peerHelloFrame, protocolVersion } from '../../src/protocol/handshake.js';
import { backoffDelayMs } from '../../src/transport/backoff.js';
import { SendQueue } from '../../src/transport/send-queue.js';
import { until } from '../fixtures/until.js';
import { RawClient, rawServer, unusedPort } from './fixtures/net-helpers.js';

const n1 = 'n1' as NodeId;
const n2 = 'n2' as NodeId;
const n3 = 'n3' as NodeId;
const clusterId = 'test-cluster';

function heartbeat(from: NodeId, to: NodeId, commit: number): Message {
  const term = 1 as Term;
  return { type: 'Heartbeat', from, to, term, commit: commit as LogIndex, context: null };
}

function append(from: NodeId, to: NodeId, index: number, dataBytes: number): Message {
  return {
    type: 'AppendEntries',
    from,
    to,
    term: 1 as Term,
    prevIndex: (index - 1) as LogIndex,
    prevTerm: 1 as Term,
    entries: [
      {
        term: 1 as Term,
        index: index as LogIndex,
        kind: 'command',
        data: new Uint8Array(dataBytes).fill(index % 256),
      },
    ],
    commit: 0 as LogIndex,
  };
}

const fastLimits: Partial<TcpTransportLimits> = {
  reconnectDelayMs: 10,
  reconnectDelayMaxMs: 100,
  handshakeTimeoutMs: 2000,
};

interface Node {
  readonly transport: TcpTransport;
  readonly received: Message[];
  readonly unreachable: NodeId[];
  /** `peer cause` per report, e.g. `n3 refused`. */
  readonly causes: string[];
  readonly events: TransportEvent[];
}

async function start(
  t: Test,
  id: NodeId,
  options: {
    readonly cluster?: string;
    readonly port?: number;
    readonly limits?: Partial<TcpTransportLimits>;
  } = {},
): Promise<Node> {
  const events: TransportEvent[] = [];
  const transport = await TcpTransport.listen({
    nodeId: id,
    clusterId: options.cluster ?? clusterId,
    listen: { host: '127.0.0.1', port: options.port ?? 0 },
    limits: { ...fastLimits, ...options.limits },
    onEvent: (event) => events.push(event),
  });
  const node: Node = { transport, received: [], unreachable: [], causes: [], events };
  transport.onMessage((message) => node.received.push(message));
  transport.onUnreachable((peer, cause) => {
    node.unreachable.push(peer);
    node.causes.push(`${peer} ${cause}`);
  });
  t.teardown(() => transport.close());
  return node;
}

function link(a: Node, aId: NodeId, b: Node, bId: NodeId): void {
  a.transport.addPeer(bId, b.transport.address);
  b.transport.addPeer(aId, a.transport.address);
}

/** Reads Error frames (and anything else) a raw peer is sent, until the server closes it. */
function firstError(client: RawClient): { code: unknown; message: unknown } | undefined {
  const found = client.values.find(
    (v) => typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'Error',
  );
  return found as { code: unknown; message: unknown } | undefined;
}

t.test('backoff grows exponentially with equal jitter, capped', async (t) => {
  const policy = { baseMs: 50, maxMs: 2000 };
  t.same(
    [0, 1, 2, 3].map((a) => backoffDelayMs(a, policy, () => 0)),
    [25, 50, 100, 200],
  );
  t.same(
    [0, 1, 2, 3].map((a) => backoffDelayMs(a, policy, () => 0.999999)),
    [50, 100, 200, 400],
  );
  t.equal(
    backoffDelayMs(40, policy, () => 0.999999),
    2000,
  );
  t.equal(
    backoffDelayMs(40, policy, () => 0),
    1000,
  );
});

t.test('the send queue drops the oldest frames beyond its frame and byte bounds', async (t) => {
  const queue = new SendQueue({ framesMax: 3, bytesMax: 10 });
  for (let i = 1; i <= 5; i++) queue.push(Uint8Array.of(i));
  t.equal(queue.length, 3);
  t.equal(queue.dropped, 2);
  t.same(Array.from(queue.shift() ?? []), [3], 'oldest survivors first');
  t.equal(queue.push(new Uint8Array(9)), 1, 'the byte bound evicts the oldest frame');
  t.equal(queue.bytes, 10);
  t.same(Array.from(queue.shift() ?? []), [5]);
  t.equal(queue.push(new Uint8Array(11)), 1, 'a frame over bytesMax alone is dropped');
  t.equal(queue.bytes, 9);
  t.equal(queue.dropped, 4);
});

t.test('in-process hub: asynchronous, validated delivery; cut links drop and report', async (t) => {
  const hub = new InProcessHub();
  const a = hub.join(n1);
  const b = hub.join(n2);
  const got: Message[] = [];
  const unreachable: NodeId[] = [];
  const causes: string[] = [];
  b.onMessage((m) => got.push(m));
  a.onUnreachable((p, cause) => {
    unreachable.push(p);
    causes.push(`${p} ${cause}`);
  });
  a.send(heartbeat(n1, n2, 1));
  t.equal(got.length, 0, 'never delivered inside the sender’s call');
  await until(() => got.length === 1, 'delivery');
  t.same(got[0], heartbeat(n1, n2, 1));
  hub.setLink(n1, n2, 'down');
  a.send(heartbeat(n1, n2, 2));
  a.send(heartbeat(n1, n3, 2));
  await until(() => unreachable.length === 2, 'unreachable reports');
  t.same(unreachable, [n2, n3]);
  t.same(causes, [`${n2} lost`, `${n3} refused`], 'a cut link is lost; a node that is not there refuses');
  hub.setLink(n1, n2, 'up');
  a.send(append(n1, n2, 1, 8));
  await until(() => got.length === 2, 'delivery after healing');
  t.same(hub.stats(), { delivered: 2, dropped: 2 });
  await b.close();
  a.send(heartbeat(n1, n2, 3));
  await until(() => unreachable.length === 3, 'closed node unreachable');
  await a.close();
});

t.test('three TCP transports exchange messages both ways, intact and validated', async (t) => {
  const nodes = [await start(t, n1), await start(t, n2), await start(t, n3)] as const;
  const ids = [n1, n2, n3] as const;
  link(nodes[0], n1, nodes[1], n2);
  link(nodes[0], n1, nodes[2], n3);
  link(nodes[1], n2, nodes[2], n3);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      if (i !== j) {
        nodes[i]?.transport.send(append(ids[i] as NodeId, ids[j] as NodeId, 1, 100));
        nodes[i]?.transport.send(heartbeat(ids[i] as NodeId, ids[j] as NodeId, 7));
      }
    }
  }
  await until(() => nodes.every((n) => n.received.length === 4), 'all messages');
  for (let j = 0; j < 3; j++) {
    const node = nodes[j] as Node;
    const senders = node.received.map((m) => m.from).sort();
    t.same(
      senders,
      ids.filter((id) => id !== ids[j]).flatMap((id) => [id, id]),
    );
    t.ok(node.received.every((m) => m.to === ids[j]));
    const ae = node.received.find((m) => m.type === 'AppendEntries');
    t.same(ae, append(ae?.from ?? n1, ids[j] as NodeId, 1, 100), 'entry data arrives intact');
    t.ok(node.events.some((e) => e.kind === 'connected'));
  }
  const stats = nodes[0].transport.stats().get(n2);
  t.equal(stats?.sentFrames, 2);
  t.equal(stats?.connected, true);
});

t.test('an outbound link reconnects after the other side restarts on the same port', async (t) => {
  const a = await start(t, n1);
  let b = await start(t, n2);
  const port = b.transport.address.port;
  link(a, n1, b, n2);
  a.transport.send(heartbeat(n1, n2, 1));
  await until(() => b.received.length === 1, 'first delivery');
  await b.transport.close();
  await until(() => a.unreachable.includes(n2), 'the loss is reported as unreachable');
  t.equal(a.causes[0], `${n2} lost`, 'a dropped connection alone proves nothing about the peer');
  await until(() => a.causes.includes(`${n2} refused`), 'redials to the closed port are refused');
  t.ok(a.events.some((e) => e.kind === 'disconnected' && e.peer === n2));
  b = await start(t, n2, { port });
  b.transport.addPeer(n1, a.transport.address);
  // Keep sending like a leader's heartbeats: messages sent while down may be lost, later ones
  // arrive.
  let commit = 2;
  await until(() => {
    a.transport.send(heartbeat(n1, n2, commit++));
    return b.received.length > 0;
  }, 'delivery after the restart');
  t.equal(b.received[0]?.from, n1);
  t.equal(a.transport.stats().get(n2)?.connected, true);
});

t.test('a peer of another cluster is refused with a message naming both cluster ids', async (t) => {
  const a = await start(t, n1);
  const stranger = await start(t, n2, { cluster: 'other-cluster' });
  stranger.transport.addPeer(n1, a.transport.address);
  a.transport.addPeer(n2, stranger.transport.address);
  const refused = (): boolean => stranger.events.some((e) => e.kind === 'peerError');
  await until(refused, 'the refusal reaches the dialler');
  const refusal = stranger.events.find((e) => e.kind === 'peerError');
  t.equal(refusal?.kind === 'peerError' ? refusal.code : null, 'CLUSTER_MISMATCH');
  t.match(refusal?.kind === 'peerError' ? refusal.message : '', /"other-cluster".*"test-cluster"/);
  t.ok(a.events.some((e) => e.kind === 'refused' && e.code === 'CLUSTER_MISMATCH'));
  stranger.transport.send(heartbeat(n2, n1, 1));
  t.equal(a.received.length, 0, 'nothing from a stranger is delivered');

  const raw = await RawClient.open(a.transport.address.port);
  t.teardown(() => raw.destroy());
  raw.sendValue({ ...peerHelloFrame(clusterId, n2), version: protocolVersion + 1 });
  await until(() => raw.closed, 'close after a version mismatch');
  t.equal(firstError(raw)?.code, 'VERSION_MISMATCH');
});

t.test('hello checks: strangers, unknown peers, clients and impostors are refused', async (t) => {
  const a = await start(t, n1);
  a.transport.addPeer(n2, { host: '127.0.0.1', port: await unusedPort() });
  type HelloCase = { readonly name: string; readonly hello: unknown; readonly code: string };
  const cases: readonly HelloCase[] = [
    { name: 'not a hello', hello: { GET: '/' }, code: 'BAD_HELLO' },
    {
      name: 'unknown node',
      hello: peerHelloFrame(clusterId, 'n9' as NodeId),
      code: 'UNKNOWN_PEER',
    },
    { name: 'itself', hello: peerHelloFrame(clusterId, n1), code: 'UNKNOWN_PEER' },
    { name: 'client on peer port', hello: clientHelloFrame(clusterId, 'cli'), code: 'BAD_HELLO' },
    {
      name: 'extra field',
      hello: { ...peerHelloFrame(clusterId, n2), extra: 1 },
      code: 'BAD_HELLO',
    },
  ];
  for (const c of cases) {
    const raw = await RawClient.open(a.transport.address.port);
    t.teardown(() => raw.destroy());
    raw.sendValue(c.hello);
    await until(() => raw.closed, `close after ${c.name}`);
    t.equal(firstError(raw)?.code, c.code, c.name);
  }
  // A valid hello from n2, then a message claiming to come from n3, is refused too.
  const impostor = await RawClient.open(a.transport.address.port);
  t.teardown(() => impostor.destroy());
  impostor.sendValue(peerHelloFrame(clusterId, n2));
  impostor.sendBytes(encodeFrame(encodeMessage(heartbeat(n3, n1, 1))));
  await until(() => impostor.closed, 'close after a forged sender');
  t.equal(firstError(impostor)?.code, 'UNEXPECTED_FRAME');
  t.equal(a.received.length, 0);
});

t.test('bad frames are refused per connection; other connections keep flowing', async (t) => {
  const a = await start(t, n1, { limits: { frameBytesMax: 64 * 1024 } });
  const b = await start(t, n2);
  link(a, n1, b, n2);
  a.transport.addPeer(n3, { host: '127.0.0.1', port: await unusedPort() });

  const oversized = await RawClient.open(a.transport.address.port);
  t.teardown(() => oversized.destroy());
  oversized.sendValue(peerHelloFrame(clusterId, n3));
  oversized.sendBytes(Uint8Array.of(0xff, 0xff, 0xff, 0xff));
  await until(() => oversized.closed, 'close after an oversized prefix');
  const error = firstError(oversized);
  t.equal(error?.code, 'FRAME_TOO_LARGE');
  t.match(String(error?.message), /4294967295 bytes exceeds frameBytesMax 65536/);

  const garbage = await RawClient.open(a.transport.address.port);
  t.teardown(() => garbage.destroy());
  garbage.sendValue(peerHelloFrame(clusterId, n3));
  garbage.sendBytes(encodeFrame(Uint8Array.of(0xc1)));
  await until(() => garbage.closed, 'close after a malformed frame');
  t.equal(firstError(garbage)?.code, 'MALFORMED_FRAME');

  const truncated = await RawClient.open(a.transport.address.port);
  t.teardown(() => truncated.destroy());
  truncated.sendValue(peerHelloFrame(clusterId, n3));
  truncated.sendBytes(encodeFrame(encodePayload({ ...heartbeat(n3, n1, 1), commit: -5 })));
  await until(() => truncated.closed, 'close after an invalid message');
  t.match(firstError(truncated), { code: 'MALFORMED_FRAME', message: /\$\.commit/ });

  b.transport.send(heartbeat(n2, n1, 1));
  a.transport.send(heartbeat(n1, n2, 1));
  await until(() => a.received.length === 1 && b.received.length === 1, 'other links unaffected');
  // A message too large for frameBytesMax is dropped at the sender, not sent to break the link.
  a.transport.send(append(n1, n2, 2, 70 * 1024));
  t.equal(a.transport.stats().get(n2)?.droppedTooLarge, 1);
});

t.test('a slow-loris blocks no one; a silent connection hits the handshake timeout', async (t) => {
  const a = await start(t, n1, { limits: { handshakeTimeoutMs: 200 } });
  const b = await start(t, n2);
  link(a, n1, b, n2);
  // One connection sends a hello and then half a frame, forever; another never finishes its hello.
  const loris = await RawClient.open(a.transport.address.port);
  t.teardown(() => loris.destroy());
  a.transport.addPeer(n3, { host: '127.0.0.1', port: await unusedPort() });
  loris.sendValue(peerHelloFrame(clusterId, n3));
  loris.sendBytes(Uint8Array.of(0, 0, 0, 100, 1, 2, 3));
  const silent = await RawClient.open(a.transport.address.port);
  t.teardown(() => silent.destroy());
  silent.sendBytes(Uint8Array.of(0, 0));
  for (let i = 1; i <= 20; i++) b.transport.send(heartbeat(n2, n1, i));
  await until(() => a.received.length === 20, 'traffic from the healthy peer');
  await until(() => silent.closed, 'handshake timeout');
  t.equal(firstError(silent)?.code, 'HANDSHAKE_TIMEOUT');
  t.equal(loris.closed, false, 'an authenticated partial frame waits without blocking anyone');
});

t.test('inbound connections beyond inboundConnectionsMax are refused', async (t) => {
  const a = await start(t, n1, { limits: { inboundConnectionsMax: 2 } });
  const clients = [];
  for (let i = 0; i < 3; i++) {
    const client = await RawClient.open(a.transport.address.port);
    t.teardown(() => client.destroy());
    clients.push(client);
  }
  const third = clients[2] as RawClient;
  await until(() => third.closed, 'the third connection is closed');
  t.equal(firstError(third)?.code, 'TOO_MANY_CONNECTIONS');
  t.equal(a.transport.inboundConnections, 2);
  t.equal(clients[0]?.closed, false);
});

t.test('a dead peer fills only its own bounded queue, counting drops', async (t) => {
  const a = await start(t, n1, { limits: { sendQueueFramesMax: 10 } });
  const b = await start(t, n2);
  link(a, n1, b, n2);
  a.transport.addPeer(n3, { host: '127.0.0.1', port: await unusedPort() });
  await until(() => a.transport.stats().get(n2)?.connected === true, 'n2 connected');
  for (let i = 1; i <= 100; i++) a.transport.send(heartbeat(n1, n3, i));
  for (let i = 1; i <= 5; i++) a.transport.send(heartbeat(n1, n2, i));
  const dead = a.transport.stats().get(n3);
  t.equal(dead?.queuedFrames, 10);
  t.equal(dead?.droppedQueueFull, 90);
  await until(() => b.received.length === 5, 'the live peer gets everything sent to it');
  t.equal(a.transport.stats().get(n2)?.droppedQueueFull, 0);
  await until(() => a.unreachable.includes(n3), 'the dead peer is reported unreachable');
  t.ok(a.causes.includes(`${n3} refused`), 'as refused: nothing listens at its address');
  t.notOk(a.causes.includes(`${n2} refused`), 'the live peer never is');
});

t.test('a follower that stops reading does not slow the others', async (t) => {
  const stalled: Socket[] = [];
  // A fake n3 that completes the handshake and then never reads again.
  const fake = await rawServer((socket) => {
    const decoder = new FrameDecoder({ frameBytesMax: 1 << 20 });
    socket.once('data', (chunk: Buffer) => {
      const frames = decoder.push(chunk);
      if (frames.ok && frames.value[0] !== undefined && decodePayload(frames.value[0]).ok) {
        socket.write(encodeFrame(encodePayload(peerHelloFrame(clusterId, n3))));
        socket.pause();
        stalled.push(socket);
      }
    });
  });
  t.teardown(() => fake.close());
  const limits = { sendQueueBytesMax: 512 * 1024, socketBufferedBytesMax: 256 * 1024 };
  const a = await start(t, n1, { limits });
  const b = await start(t, n2);
  link(a, n1, b, n2);
  a.transport.addPeer(n3, { host: '127.0.0.1', port: fake.port });
  const connected = (): boolean => a.transport.stats().get(n3)?.connected === true;
  await until(() => stalled.length === 1 && connected(), 'fake n3 connected');
  for (let i = 1; i <= 400; i++) {
    a.transport.send(append(n1, n3, i, 32 * 1024));
    a.transport.send(heartbeat(n1, n2, i));
    if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await until(() => b.received.length === 400, 'the healthy follower gets every message');
  const drops = (): number => a.transport.stats().get(n3)?.droppedQueueFull ?? 0;
  await until(() => drops() > 0, 'the stalled follower’s queue drops');
  const slow = a.transport.stats().get(n3);
  const queued = slow?.queuedBytes ?? Infinity;
  t.ok(queued <= limits.sendQueueBytesMax, 'queue stays within its byte bound');
});
