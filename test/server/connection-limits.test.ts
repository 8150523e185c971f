// Connection limits that strangers cannot exhaust (docs/client-protocol.md, "Limits"): a flood of
// idle connections from one source fills at most its per-source share and the budget of
// connections awaiting authentication, and a real client still connects and works.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import t from 'tap';
import { eventually } from '../e2e/fixtures/procs.js';
import { SecureClient, userTls } from './fixtures/secure-client.js';
import { startSecureCluster } from './fixtures/secure-cluster.js';

function openIdle(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

t.test('idle connections from one source do not lock a real client out', async (t) => {
  const cluster = await startSecureCluster({
    dir: t.testdir(),
    nodes: 1,
    overrides: { connectionsMax: 4, connectionLimits: { perSourceMax: 8, unauthenticatedMax: 8 } },
  });
  t.teardown(() => cluster.close());
  const node = await cluster.waitForLeader();
  const port = node.clientAddress.port;

  // 20 connections from 127.0.0.2 that never start TLS, let alone say Hello.
  const idle: Socket[] = [];
  const closed = new Set<Socket>();
  t.teardown(() => idle.forEach((s) => s.destroy()));
  for (let i = 0; i < 20; i++) {
    const socket = await openIdle(port, '127.0.0.2');
    socket.on('close', () => closed.add(socket));
    socket.on('error', () => undefined);
    idle.push(socket);
  }
  await eventually(async () => (closed.size >= 12 ? true : undefined), 5000, 'the excess to be closed');
  t.equal(closed.size, 12, 'beyond 8 from one address, connections are closed at once');
  t.match(
    cluster.lines.join('\n'),
    /client connection refused remote=127\.0\.0\.2:\d+ reason="127\.0\.0\.2 already has 8 connections open/,
    'and each refusal is logged',
  );

  // The pending budget is full of the flood; a real client still gets in and works.
  const root = await SecureClient.connect({ port, tls: userTls(cluster.userPems.get('root')!) });
  t.teardown(() => root.close());
  t.match(await root.request({ kind: 'whoami' }), { code: 'OK', value: { kind: 'whoami', principal: 'root' } });
  t.match(
    cluster.lines.join('\n'),
    /client connection refused remote=127\.0\.0\.2:\d+ reason="evicted: too many connections are awaiting authentication"/,
    'it evicted one of the flood',
  );
  // A second source flooding evicts the first flood's connections, never the authenticated client.
  for (let i = 0; i < 8; i++) {
    const socket = await openIdle(port, '127.0.0.3');
    socket.on('error', () => undefined);
    idle.push(socket);
  }
  t.match(await root.request({ kind: 'whoami' }), { code: 'OK' }, 'the authenticated client is untouched');
  const another = await SecureClient.connect({ port, tls: userTls(cluster.userPems.get('root')!) });
  another.close();
  t.pass('and another real client still connects');
});

t.test('idle connections and slow frames are closed', async (t) => {
  const cluster = await startSecureCluster({
    dir: t.testdir(),
    nodes: 1,
    overrides: { connectionLimits: { idleTimeoutMs: 600, frameDeadlineMs: 150 } },
  });
  t.teardown(() => cluster.close());
  const port = (await cluster.waitForLeader()).clientAddress.port;
  const tls = userTls(cluster.userPems.get('root')!);

  // Requests keep a connection alive; silence after the Welcome closes it.
  const busy = await SecureClient.connect({ port, tls });
  t.teardown(() => busy.close());
  for (let i = 0; i < 4; i++) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.match(await busy.request({ kind: 'whoami' }), { code: 'OK' }, `request ${i + 1}, 300 ms after the last`);
  }
  const quiet = await SecureClient.connect({ port, tls });
  const started = Date.now();
  await quiet.waitClosed(5000);
  t.ok(Date.now() - started >= 550, 'the idle one is closed after the idle timeout');
  t.match(
    cluster.lines.join('\n'),
    /client connection closed remote=127\.0\.0\.1:\d+ user=root reason=".*idle/,
    'and the log says why',
  );

  // A frame trickled byte by byte misses its deadline.
  const slow = await SecureClient.connect({ port, tls });
  const frame = Buffer.from([0, 0, 0, 40, 0x80]);
  const socket = slow.framed.socket;
  let sent = 0;
  // The frame starts at once and never completes; the idle timeout is further away.
  const trickle = setInterval(() => {
    if (sent < frame.length && !socket.destroyed) socket.write(frame.subarray(sent, ++sent));
  }, 60);
  t.teardown(() => clearInterval(trickle));
  const reason = await slow.waitClosed(5000);
  t.match(reason, /closed|reset/i, 'the slow frame closed the connection');
  t.match(
    cluster.lines.join('\n'),
    /client connection closed .*reason=".*frameDeadlineMs 150/,
    'a frame deadline, logged',
  );
});
