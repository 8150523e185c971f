// What a connection may hold on the peer port without making progress (docs/protocol.md,
// "Connection limits"): a frame must complete within frameDeadlineMs of its first byte, an idle
// timeout closes a silent connection, and connections that have not authenticated share a budget,
// bounded per source address, from which newer attempts push out older ones: a stranger opening
// many connections never stops a real peer from connecting.
import t from 'tap';
import type { Test } from 'tap';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import type { NodeId } from '../../src/raft/types.js';
import { createThrowawayPki } from '../../src/security/pki.js';
import type { TlsPem } from '../../src/security/tls-material.js';
import { TlsMaterial } from '../../src/security/tls-material.js';
import { encodeMessage } from '../../src/transport/codec.js';
import { encodeFrame } from '../../src/transport/frame.js';
import type { FramedSocketTimeout, FramedSocketTimeouts } from '../../src/transport/framed-socket.js';
import { FramedSocket } from '../../src/transport/framed-socket.js';
import { peerHelloFrame } from '../../src/protocol/handshake.js';
import { InboundBudget } from '../../src/transport/inbound-budget.js';
import type { TcpTransportLimits } from '../../src/transport/tcp.js';
import { until } from '../fixtures/until.js';
import { RawClient } from './fixtures/net-helpers.js';
import { clusterId, heartbeat, n1, n2, n3, startPeerNode } from './fixtures/peer-nodes.js';
import type { PeerNode } from './fixtures/peer-nodes.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A node of the peer transport, its handshakes bounded at 5 s. */
function start(
  t: Test,
  id: NodeId,
  options: { readonly limits?: Partial<TcpTransportLimits>; readonly tls?: TlsMaterial } = {},
): Promise<PeerNode> {
  return startPeerNode(t, id, { ...options, limits: { handshakeTimeoutMs: 5000, ...options.limits } });
}

/** A FramedSocket on the accepting end of a loopback connection, and the raw dialling end. */
async function framedPair(
  t: Test,
  timeouts: FramedSocketTimeouts,
  onTimeout?: (framed: FramedSocket, timeout: FramedSocketTimeout) => void,
): Promise<{ framed: FramedSocket; client: RawClient; values: unknown[]; closed: () => string | null }> {
  const values: unknown[] = [];
  let reason: string | null = null;
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = address !== null && typeof address === 'object' ? address.port : 0;
  const client = await RawClient.open(port);
  t.teardown(() => client.destroy());
  const socket = await accepted;
  server.close();
  const framed: FramedSocket = new FramedSocket(
    socket,
    1 << 20,
    {
      onValue: (value) => values.push(value),
      onClose: (why) => {
        reason = why;
      },
      ...(onTimeout === undefined ? {} : { onTimeout: (timeout: FramedSocketTimeout) => onTimeout(framed, timeout) }),
    },
    timeouts,
  );
  t.teardown(() => framed.destroy('test over'));
  return { framed, client, values, closed: () => reason };
}

t.test('frame deadline: a frame trickling one byte per 200 ms is cut off; steady frames are not', async (t) => {
  const { framed, client, values, closed } = await framedPair(t, { frameDeadlineMs: 500 });
  // Complete frames for longer than the deadline: each one is on time.
  for (let i = 0; i < 8; i++) {
    client.sendValue({ i });
    await sleep(100);
  }
  t.equal(values.length, 8);
  t.equal(closed(), null, 'frames that each complete in time are never cut off');
  // A frame of 100 bytes, one byte every 200 ms.
  const frame = encodeFrame(new Uint8Array(100));
  let sent = 0;
  while (closed() === null && sent < frame.length) {
    client.sendBytes(frame.subarray(sent, sent + 1));
    sent += 1;
    await sleep(200);
  }
  t.equal(closed(), 'a frame did not complete within frameDeadlineMs 500 ms of its first byte');
  t.ok(sent < 10, `cut off after ${sent} bytes`);
  t.match(framed.timedOut, { kind: 'frameDeadline', limitMs: 500 });
});

t.test('idle timeout: no complete frame for idleTimeoutMs closes; frames keep it open; 0 turns it off', async (t) => {
  const busy = await framedPair(t, { idleTimeoutMs: 300 });
  for (let i = 0; i < 10; i++) {
    busy.client.sendValue({ i });
    await sleep(100);
  }
  t.equal(busy.closed(), null, 'a frame every 100 ms keeps it open past 300 ms');
  await until(() => busy.closed() !== null, 'idle close');
  t.equal(busy.closed(), 'no frame for idleTimeoutMs 300 ms');
  t.match(busy.framed.timedOut, { kind: 'idle', limitMs: 300 });

  const off = await framedPair(t, { idleTimeoutMs: 300 });
  off.framed.setIdleTimeout(0);
  await sleep(600);
  t.equal(off.closed(), null, 'setIdleTimeout(0) stops it');
  off.framed.setIdleTimeout(200);
  await until(() => off.closed() !== null, 'enabled later, it closes');

  // The owner may answer a timeout with an Error frame before the close.
  const told = await framedPair(t, { idleTimeoutMs: 200 }, (framed, timeout) =>
    framed.fail('HANDSHAKE_TIMEOUT', timeout.message),
  );
  await until(() => told.client.closed, 'closed with an Error frame');
  t.match(told.client.values, [
    { type: 'Error', code: 'HANDSHAKE_TIMEOUT', message: 'no frame for idleTimeoutMs 200 ms' },
  ]);
});

t.test('the peer transport applies the frame deadline, and the idle timeout when asked', async (t) => {
  const a = await start(t, n1, { limits: { frameDeadlineMs: 500, idleTimeoutMs: 1500 } });
  const b = await start(t, n2);
  a.transport.addPeer(n2, b.transport.address);
  b.transport.addPeer(n1, a.transport.address);
  a.transport.addPeer(n3, { host: '127.0.0.1', port: 1 });
  const loris = await RawClient.open(a.transport.address.port);
  t.teardown(() => loris.destroy());
  loris.sendValue(peerHelloFrame(clusterId, n3));
  await until(() => loris.values.length === 1, 'hello answered');
  const frame = encodeFrame(encodeMessage(heartbeat(n3, n1, 1)));
  for (let i = 0; i < frame.length && !loris.closed; i++) {
    loris.sendBytes(frame.subarray(i, i + 1));
    // The real peer keeps talking meanwhile, for longer than either limit.
    b.transport.send(heartbeat(n2, n1, i + 1));
    await sleep(200);
  }
  t.ok(loris.closed, 'the slow-loris was closed');
  t.ok(
    a.events.some((e) => e.kind === 'timedOut' && e.peer === n3 && /frameDeadlineMs 500 ms/.test(e.message)),
    'and reported with its node',
  );
  t.ok(a.received.length >= 2 && a.received.every((m) => m.from === n2), 'the real peer was heard all along');
  t.notOk(
    a.events.some((e) => e.kind === 'timedOut' && e.peer === n2),
    'its link never timed out',
  );

  const silent = await RawClient.open(a.transport.address.port);
  t.teardown(() => silent.destroy());
  silent.sendValue(peerHelloFrame(clusterId, n3));
  await until(() => silent.closed, 'an authenticated silent link is closed after idleTimeoutMs');
  t.ok(a.events.some((e) => e.kind === 'timedOut' && e.peer === n3 && /idleTimeoutMs 1500 ms/.test(e.message)));
});

t.test('InboundBudget: per source the newest wins; over the total the largest source gives way', async (t) => {
  const budget = new InboundBudget<string>({ total: 4, perSource: 2 });
  t.match(budget.admit('s1', 'A'), { admitted: true, evict: null });
  t.match(budget.admit('s2', 'A'), { admitted: true, evict: null });
  t.match(
    budget.admit('s3', 'A'),
    { admitted: true, evict: 's1', why: /more than 2 unauthenticated connections from A/ },
    'A at its bound: its oldest goes',
  );
  t.equal(budget.countOf('A'), 2);
  t.match(budget.admit('p1', 'B'), { admitted: true, evict: null });
  t.match(budget.admit('p2', 'C'), { admitted: true, evict: null });
  t.equal(budget.size, 4);
  t.match(
    budget.admit('q1', 'D'),
    { admitted: true, evict: 's2', why: /A holds the most \(2\)/ },
    'full: A, holding the most, gives way',
  );
  t.match(
    budget.admit('q2', 'D'),
    { admitted: false, why: 'more than 4 unauthenticated connections' },
    'D is among the largest already: refused',
  );
  budget.remove('p1');
  budget.remove('unknown');
  t.equal(budget.size, 3);
  t.match(budget.admit('q2', 'D'), { admitted: true, evict: null });
  t.throws(() => new InboundBudget({ total: 0, perSource: 1 }), /must be ≥ 1, got 0/);
});

const pki = await createThrowawayPki([n1, n2]);
const material = (id: NodeId): TlsMaterial => TlsMaterial.fromPem(pki.nodes.get(id) as TlsPem);

/** Opens `count` silent TCP connections from `source`, keeping those the server does not close. */
async function flood(t: Test, port: number, source: string, count: number): Promise<RawClient[]> {
  const clients: RawClient[] = [];
  for (let i = 0; i < count; i++) {
    const client = await RawClient.open(port, source);
    t.teardown(() => client.destroy());
    clients.push(client);
  }
  return clients;
}

async function peerGetsThrough(t: Test, a: PeerNode): Promise<void> {
  const b = await start(t, n2, { tls: material(n2) });
  a.transport.addPeer(n2, b.transport.address);
  b.transport.addPeer(n1, a.transport.address);
  b.transport.send(heartbeat(n2, n1, 1));
  // Well before the strangers' handshake timeout would have cleared them out.
  await until(() => a.received.length > 0, 'the real peer is heard', 3000);
  t.same(a.received[0], heartbeat(n2, n1, 1), 'the real peer connected and was heard');
}

t.test('a stranger with many connections from one address does not stop a real peer (TLS)', async (t) => {
  const limits = { inboundConnectionsMax: 16, inboundConnectionsPerSourceMax: 4, handshakeTimeoutMs: 60_000 };
  const a = await start(t, n1, { tls: material(n1), limits });
  const stranger = await flood(t, a.transport.address.port, '127.0.0.2', 40);
  await until(() => stranger.filter((c) => !c.closed).length === 4, 'the stranger keeps only its 4 newest');
  t.equal(a.transport.unauthenticatedConnections, 4);
  t.ok(
    a.events.some(
      (e) => e.kind === 'refused' && e.code === 'TOO_MANY_CONNECTIONS' && e.remote.startsWith('127.0.0.2:'),
    ),
    'the pushed-out connections are reported',
  );
  await peerGetsThrough(t, a);
});

t.test('a stranger on the peer’s own address does not stop it either', async (t) => {
  const limits = { inboundConnectionsMax: 16, inboundConnectionsPerSourceMax: 4, handshakeTimeoutMs: 60_000 };
  const a = await start(t, n1, { tls: material(n1), limits });
  const stranger = await flood(t, a.transport.address.port, '127.0.0.1', 4);
  await peerGetsThrough(t, a);
  await until(() => stranger.some((c) => c.closed), 'a stranger connection gave way');
});

t.test('strangers on many addresses fill the budget; a real peer still finds room', async (t) => {
  const limits = { inboundConnectionsMax: 16, inboundConnectionsPerSourceMax: 4, handshakeTimeoutMs: 60_000 };
  const a = await start(t, n1, { tls: material(n1), limits });
  for (let host = 2; host <= 9; host++) await flood(t, a.transport.address.port, `127.0.0.${host}`, 3);
  await until(() => a.transport.unauthenticatedConnections === 16, 'the budget is full');
  await peerGetsThrough(t, a);
  t.ok(a.transport.unauthenticatedConnections <= 16, 'and it stays bounded');
});
