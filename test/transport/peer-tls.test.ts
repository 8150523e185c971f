// Secure mode of the peer transport (docs/security.md, "Peer links"): links are mutual TLS with
// node certificates of the cluster's CA; the dialler accepts only the node it dialled; the acceptor
// reads nothing before the certificate proved a node, and then requires the Hello to name that
// same node, a known peer, and every message to come from it. Each refusal is a `refused` event
// with the remote address and the reason, and an Error frame the other side can read.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeId } from '../../src/raft/types.js';
import { createThrowawayPki } from '../../src/security/pki.js';
import type { TlsPem } from '../../src/security/tls-material.js';
import { TlsMaterial } from '../../src/security/tls-material.js';
import { encodeMessage } from '../../src/transport/codec.js';
import { encodeFrame } from '../../src/transport/frame.js';
import { peerHelloFrame } from '../../src/protocol/handshake.js';
import type { TcpTransportLimits } from '../../src/transport/tcp.js';
import { until } from '../fixtures/until.js';
import { RawClient } from './fixtures/net-helpers.js';
import { clusterId, heartbeat, n1, n2, n3, startPeerNode } from './fixtures/peer-nodes.js';
import type { PeerNode } from './fixtures/peer-nodes.js';

const pki = await createThrowawayPki([n1, n2, n3], ['root']);
const foreign = await createThrowawayPki([n2]);

function pemOf(map: ReadonlyMap<string, TlsPem>, id: string): TlsPem {
  const pem = map.get(id);
  if (pem === undefined) throw new Error(`no PEM for ${id}`);
  return pem;
}

/** A node of the peer transport over TLS, its handshakes bounded at 2 s. */
function start(
  t: Test,
  id: NodeId,
  tls: TlsMaterial,
  options: { readonly port?: number; readonly limits?: Partial<TcpTransportLimits> } = {},
): Promise<PeerNode> {
  return startPeerNode(t, id, { ...options, tls, limits: { handshakeTimeoutMs: 2000, ...options.limits } });
}

const material = (id: string): TlsMaterial => TlsMaterial.fromPem(pemOf(pki.nodes, id));

function refusals(node: PeerNode): { code: string; message: string; remote: string }[] {
  return node.events.flatMap((e) =>
    e.kind === 'refused' ? [{ code: e.code, message: e.message, remote: e.remote }] : [],
  );
}

function errorOf(client: RawClient): { code?: unknown; message?: unknown } | undefined {
  return client.values.find(
    (v) => typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'Error',
  ) as { code?: unknown; message?: unknown } | undefined;
}

/** A hand-made TLS client to n1's peer port: presents `pem`, trusts the cluster's CA. */
async function rawTo(t: Test, node: PeerNode, pem: { cert?: string; key?: string }): Promise<RawClient> {
  const { cert, key } = pem;
  const client = await RawClient.openTls(node.transport.address.port, {
    ca: pki.ca.cert,
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
  });
  t.teardown(() => client.destroy());
  return client;
}

/** n1 over TLS, knowing `peers` by name (at an address never dialled here): the accepting end under test. */
async function acceptor(t: Test, peers: readonly NodeId[]): Promise<PeerNode> {
  const a = await start(t, n1, material(n1));
  for (const peer of peers) a.transport.addPeer(peer, { host: '127.0.0.1', port: 1 });
  return a;
}

/** A raw client to `node` that presents `pem` and says Hello as node `claimed`. */
async function helloFrom(
  t: Test,
  node: PeerNode,
  pem: { cert?: string; key?: string },
  claimed: NodeId,
): Promise<RawClient> {
  const client = await rawTo(t, node, pem);
  client.sendValue(peerHelloFrame(clusterId, claimed));
  return client;
}

t.test('mutual TLS: two secure transports exchange messages both ways', async (t) => {
  const a = await start(t, n1, material(n1));
  const b = await start(t, n2, material(n2));
  t.ok(a.transport.secure && b.transport.secure);
  a.transport.addPeer(n2, b.transport.address);
  b.transport.addPeer(n1, a.transport.address);
  a.transport.send(heartbeat(n1, n2, 1));
  b.transport.send(heartbeat(n2, n1, 2));
  await until(() => a.received.length === 1 && b.received.length === 1, 'one message each way');
  t.same(b.received[0], heartbeat(n1, n2, 1));
  t.same(a.received[0], heartbeat(n2, n1, 2));
  t.same(refusals(a), []);
  t.same(refusals(b), []);
  t.equal(a.transport.unauthenticatedConnections, 0, 'the authenticated link left the unauthenticated budget');
});

t.test('a node of another CA gets nowhere, and both sides say why', async (t) => {
  const a = await start(t, n1, material(n1));
  const impostor = await start(t, n2, TlsMaterial.fromPem(pemOf(foreign.nodes, n2)));
  a.transport.addPeer(n2, impostor.transport.address);
  impostor.transport.addPeer(n1, a.transport.address);
  impostor.transport.send(heartbeat(n2, n1, 1));
  a.transport.send(heartbeat(n1, n2, 1));
  await until(() => refusals(a).length > 0 && refusals(impostor).length > 0, 'refusals on both sides');
  t.match(
    refusals(a)[0],
    { code: 'UNAUTHENTICATED', message: /TLS handshake failed/ },
    'n1 cannot verify the impostor as a server',
  );
  t.match(refusals(impostor)[0], {
    code: 'UNAUTHENTICATED',
    message: /dialled n1 at 127\.0\.0\.1:\d+: TLS handshake failed/,
  });
  t.equal(a.received.length + impostor.received.length, 0, 'nothing delivered');

  // A client that trusts n1 but presents the other CA's certificate: n1 reads nothing from it.
  const raw = await helloFrom(t, a, pemOf(foreign.nodes, n2), n2);
  await until(() => raw.closed, 'closed');
  t.match(errorOf(raw), { code: 'UNAUTHENTICATED', message: /was not accepted/ });
  t.ok(
    refusals(a).some((r) => /was not accepted/.test(r.message) && /^127\.0\.0\.1:\d+$/.test(r.remote)),
    'reported with the address',
  );
});

t.test('a node certificate whose id differs from the Hello is refused, with the reason in the event', async (t) => {
  const a = await acceptor(t, [n2, n3]);
  const raw = await helloFrom(t, a, pemOf(pki.nodes, n3), n2);
  await until(() => raw.closed, 'closed');
  const message = 'the certificate proves node n3 but the Hello says n2';
  t.match(errorOf(raw), { code: 'UNAUTHENTICATED', message });
  t.match(refusals(a), [{ code: 'UNAUTHENTICATED', message, remote: /^127\.0\.0\.1:\d+$/ }]);
});

t.test('a user certificate, or none, may not open a peer connection', async (t) => {
  const a = await acceptor(t, [n2]);
  const user = await helloFrom(t, a, pemOf(pki.users, 'root'), n2);
  await until(() => user.closed, 'user closed');
  t.match(errorOf(user), {
    code: 'UNAUTHENTICATED',
    message: 'user root may not open a peer connection: only node certificates can',
  });
  const anonymous = await helloFrom(t, a, {}, n2);
  await until(() => anonymous.closed, 'anonymous closed');
  t.match(errorOf(anonymous), { code: 'UNAUTHENTICATED', message: /^no certificate/ });
  t.equal(refusals(a).length, 2);
  t.equal(a.received.length, 0);
});

t.test('a valid node that is not a known peer is refused UNKNOWN_PEER', async (t) => {
  const a = await acceptor(t, []);
  const raw = await helloFrom(t, a, pemOf(pki.nodes, n3), n3);
  await until(() => raw.closed, 'closed');
  t.match(errorOf(raw), { code: 'UNKNOWN_PEER', message: 'n3 is not a peer of n1' });
});

t.test('a message whose from is not the link’s node is dropped and reported', async (t) => {
  const a = await acceptor(t, [n2, n3]);
  const raw = await helloFrom(t, a, pemOf(pki.nodes, n2), n2);
  await until(() => raw.values.length === 1, 'hello answered');
  raw.sendBytes(encodeFrame(encodeMessage(heartbeat(n2, n1, 1))));
  raw.sendBytes(encodeFrame(encodeMessage(heartbeat(n3, n1, 2))));
  await until(() => raw.closed, 'closed after the spoof');
  t.same(a.received, [heartbeat(n2, n1, 1)], 'only the genuine message arrived');
  t.match(refusals(a), [{ code: 'UNEXPECTED_FRAME', message: 'message n3 → n1 on the connection from n2' }]);
});

t.test('the dialler accepts only the node it dialled', async (t) => {
  const a = await start(t, n1, material(n1));
  const other = await start(t, n3, material(n3));
  other.transport.addPeer(n1, a.transport.address);
  // n1 believes n2 listens where n3 does.
  a.transport.addPeer(n2, other.transport.address);
  a.transport.send(heartbeat(n1, n2, 1));
  await until(() => refusals(a).length > 0, 'refused');
  t.match(refusals(a)[0], {
    code: 'UNAUTHENTICATED',
    message: /dialled n2 at 127\.0\.0\.1:\d+: server certificate proves node n3; expected node n2/,
  });
  t.equal(other.received.length, 0, 'no Hello or message reached the wrong node');
  t.equal(a.transport.stats().get(n2)?.connected, false);
});

t.test('a reload applies to new connections: after a CA change, only nodes of the new CA connect', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'raftlock-peer-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files = { ca: join(dir, 'ca.crt'), cert: join(dir, 'n1.crt'), key: join(dir, 'n1.key') };
  const write = (pem: TlsPem): void => {
    writeFileSync(files.ca, pem.ca);
    writeFileSync(files.cert, pem.cert);
    writeFileSync(files.key, pem.key, { mode: 0o600 });
  };
  write(pemOf(pki.nodes, n1));
  const loaded = TlsMaterial.fromFiles(files, Date.now());
  if (!loaded.ok) throw new Error(loaded.error);
  const a = await start(t, n1, loaded.value);
  a.transport.addPeer(n2, { host: '127.0.0.1', port: 1 });
  const rotated = await createThrowawayPki([n1, n2]);
  write(pemOf(rotated.nodes, n1));
  const reloaded = loaded.value.reload(Date.now());
  t.ok(reloaded.ok, 'reloaded');

  const old = await RawClient.openTls(a.transport.address.port, { ...pemOf(pki.nodes, n2), ca: rotated.ca.cert });
  t.teardown(() => old.destroy());
  old.sendValue(peerHelloFrame(clusterId, n2));
  await until(() => old.closed, 'old CA refused');
  t.match(errorOf(old), { code: 'UNAUTHENTICATED', message: /was not accepted/ });

  const fresh = await RawClient.openTls(a.transport.address.port, { ...pemOf(rotated.nodes, n2) });
  t.teardown(() => fresh.destroy());
  fresh.sendValue(peerHelloFrame(clusterId, n2));
  await until(() => fresh.values.length > 0, 'new CA answered');
  t.match(fresh.values[0], { type: 'Hello', nodeId: n1 });
});
