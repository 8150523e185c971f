// The node server in-process, insecure (plaintext, no authentication; 127.0.0.1 port 0): writes at a follower are forwarded
// to the leader and answered; a waiter connected to another node is granted by a Push when the
// holder releases; watches push events and resume from an index without gaps; membership changes
// (add learner, promote, remove: Raft dissertation §4.1) go through the leader and a joining node
// catches up; connection and per-connection request limits refuse the excess; a graceful close of
// the leader hands leadership over.
import t from 'tap';
import type { Test } from 'tap';
import { nodeId } from '../../src/raft/types.js';
import { startSecureCluster } from './fixtures/secure-cluster.js';
import type { SessionId } from '../../src/statemachine/ids.js';
import type { WireResult } from '../../src/protocol/client-protocol.js';
import { RawClient } from '../e2e/fixtures/raw-client.js';
import { eventually } from '../e2e/fixtures/procs.js';
import { NodeServer } from '../../src/server/node-server.js';
import { nodeServerOptions } from '../../src/embed/embed.js';
import { loadClusterConfig } from '../../src/config/cluster-config.js';
import type { ClusterConfig } from '../../src/config/cluster-config.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { encodeFrame } from '../../src/transport/frame.js';
import { encodePayload } from '../../src/transport/codec.js';
import { clientHello, commandOp, requestFrame } from '../../src/protocol/client-protocol.js';
import { FramedSocket } from '../../src/transport/framed-socket.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function sessionOf(result: WireResult): SessionId {
  if (result.code !== 'OK' || result.value.kind !== 'session') throw new Error(`no session: ${JSON.stringify(result)}`);
  return result.value.session;
}

/** Opens a session as `clientId`'s first command and returns its id. */
async function openSession(client: RawClient, clientId: string, ttlMs: number): Promise<SessionId> {
  return sessionOf(await client.command(clientId, 1, { type: 'openSession', ttlMs }));
}

/**
 * The configuration of a one-node cluster `clusterId` in the test's directory (20 ms ticks; the
 * addresses are placeholders, the tests pass their own listeners), plus `extraYaml`.
 */
async function singleNodeConfig(t: Test, clusterId: string, extraYaml = ''): Promise<ClusterConfig> {
  const file = join(t.testdir(), 'cluster.yml');
  writeFileSync(
    file,
    `cluster:\n  id: ${clusterId}\nnodes:\n  - id: n1\n    peer: 127.0.0.1:1\n    client: 127.0.0.1:2\n    data: ./n1\ntiming:\n  tick: 20ms\n${extraYaml}`,
  );
  const config = await loadClusterConfig(file);
  if (!config.ok) throw new Error(config.error.message);
  return config.value;
}

/** A client connection acting as `clientId` with its `session`. */
interface Party {
  readonly client: RawClient;
  readonly clientId: string;
  readonly session: SessionId;
}

/** `holder` is granted `name` at once and `waiter` queues behind it for up to `waitMs` (their second commands). */
async function holdAndQueue(t: Test, name: string, holder: Party, waiter: Party, waitMs: number): Promise<void> {
  t.match(await acquire(holder.client, holder.clientId, 2, holder.session, name, 0), {
    code: 'OK',
    value: { kind: 'granted' },
  });
  t.match(await acquire(waiter.client, waiter.clientId, 2, waiter.session, name, waitMs), {
    code: 'OK',
    value: { kind: 'queued' },
  });
}

/** `clientId`'s command `seq`: acquire `name` for `session`, waiting up to `waitMs`, no lock-delay. */
function acquire(
  client: RawClient,
  clientId: string,
  seq: number,
  session: SessionId,
  name: string,
  waitMs: number,
): Promise<WireResult> {
  return client.command(clientId, seq, { type: 'acquire', session, name, waitMs, lockDelayMs: 0 });
}

t.test('forwarding, pushes, watches, membership and handover on a 3-node cluster', async (t) => {
  // An insecure cluster: plaintext and no principals, as before security existed.
  const cluster = await startSecureCluster({ dir: t.testdir(), nodes: 3, secure: false });
  t.teardown(() => cluster.close());
  const leader = await cluster.waitForLeader();
  const [f1, f2] = cluster.nodes.filter((n) => n !== leader);
  const a = await RawClient.connect({ port: f1!.clientAddress.port });
  const b = await RawClient.connect({ port: f2!.clientAddress.port });
  const c = await RawClient.connect({ port: leader.clientAddress.port });
  t.teardown(() => {
    a.close();
    b.close();
    c.close();
  });

  // Forwarded writes and a grant pushed across nodes.
  const sa = await openSession(a, 'a', 30_000);
  const sb = await openSession(b, 'b', 30_000);
  await holdAndQueue(
    t,
    'L',
    { client: a, clientId: 'a', session: sa },
    { client: b, clientId: 'b', session: sb },
    20_000,
  );
  t.match(await a.command('a', 3, { type: 'release', session: sa, name: 'L' }), {
    code: 'OK',
    value: { kind: 'released' },
  });
  const push = await b.waitForPush((p) => p.kind === 'granted');
  t.match(
    push,
    { kind: 'granted', session: sb, name: 'L', clientId: 'b', seq: 2 },
    'the waiter on another node is granted by a push',
  );
  t.notOk(
    a.pushes.some((p) => p.kind === 'granted'),
    'nobody else is told',
  );

  // Watches: live events, then a resume from before the first one gets it again, in order.
  const watch = await c.request({ kind: 'watch', prefix: 'cfg/', fromIndex: 0 });
  t.match(watch, { code: 'OK', value: { kind: 'watching' } });
  const startsAfter = watch.code === 'OK' && watch.value.kind === 'watching' ? watch.value.fromIndex : 0;
  t.ok(startsAfter > 0, `"from now" names the applied index it starts after (${startsAfter})`);
  const put = (seq: number, key: string, value: string) =>
    a.command('a', seq, {
      type: 'put',
      session: sa,
      key,
      value: bytes(value),
      ifVersion: null,
      ephemeral: false,
      fence: null,
    });
  await put(4, 'cfg/x', '1');
  await put(5, 'other', '1');
  await put(6, 'cfg/y', '2');
  await eventually(
    async () => (c.pushes.filter((p) => p.kind === 'event').length >= 2 ? true : undefined),
    5000,
    'two events',
  );
  const events = c.pushes.flatMap((p) => (p.kind === 'event' ? [p.event] : []));
  t.same(
    events.map((e) => ('key' in e ? e.key : e.lock)),
    ['cfg/x', 'cfg/y'],
    'only matching events, in order',
  );
  const firstIndex = events[0]!.index;
  const resumed = await RawClient.connect({ port: f2!.clientAddress.port });
  t.teardown(() => resumed.close());
  t.match(await resumed.request({ kind: 'watch', prefix: 'cfg/', fromIndex: firstIndex - 1 }), { code: 'OK' });
  await eventually(async () => (resumed.pushes.length >= 2 ? true : undefined), 5000, 'resumed events');
  t.same(
    resumed.pushes.map((p) => (p.kind === 'event' ? p.event.index : -1)),
    events.map((e) => e.index),
    'resume replays every event after fromIndex',
  );

  // Reads are linearizable on any node; status reports counts and lag.
  t.match(await b.request({ kind: 'read', query: { kind: 'get', key: 'cfg/y' } }), {
    code: 'OK',
    value: { kind: 'key', key: { version: 1 } },
  });
  const status = await c.request({ kind: 'status' });
  t.match(status, {
    code: 'OK',
    value: { kind: 'status', status: { role: 'leader', sessions: 2, locks: 1, waiters: 0 } },
  });

  // Membership: a joining node is added as a learner, catches up, is promoted, then removed.
  const joiner = await cluster.startJoiner();
  // Addresses sent with the change must be the ones cluster.yml gives: they are a check, not news.
  const wrongPeer = await a.request({
    kind: 'members',
    action: 'addLearner',
    node: joiner.nodeId,
    peer: '127.0.0.1:1',
  });
  t.match(
    wrongPeer,
    { code: 'INVALID_ARGUMENT', message: /peer address is .* not 127\.0\.0\.1:1/ },
    'an address that differs from cluster.yml is refused',
  );
  const { peer, client } = joiner.endpoint;
  t.match(
    await a.request({ kind: 'members', action: 'addLearner', node: joiner.nodeId, peer, client }),
    { code: 'OK' },
    'the right addresses are accepted',
  );
  await eventually(
    async () => (joiner.statusView().applied >= leader.statusView().commit ? true : undefined),
    10_000,
    'the learner to catch up',
  );
  t.match(await a.request({ kind: 'members', action: 'promote', node: joiner.nodeId }), { code: 'OK' });
  const list = await b.request({ kind: 'members', action: 'list' });
  t.match(list, {
    code: 'OK',
    value: { kind: 'members', members: [{}, {}, {}, { id: joiner.nodeId, role: 'voter' }] },
  });
  t.match(await b.request({ kind: 'members', action: 'remove', node: joiner.nodeId }), { code: 'OK' });
  await eventually(async () => (leader.statusView().voters.length === 3 ? true : undefined), 5000, 'removal');
  t.match(
    await a.request({ kind: 'members', action: 'addLearner', node: nodeId('n9') }),
    { code: 'INVALID_ARGUMENT' },
    'unknown nodes are refused',
  );
  // A retried change that is already in effect gets a definite OK (its first answer may have been
  // lost with a leader that stepped down); one that cannot apply gets a definite refusal.
  t.match(
    await b.request({ kind: 'members', action: 'remove', node: joiner.nodeId }),
    { code: 'OK' },
    'removing a removed node: OK',
  );
  t.match(
    await a.request({ kind: 'members', action: 'promote', node: leader.nodeId }),
    { code: 'OK' },
    'promoting a voter: OK',
  );
  t.match(
    await a.request({ kind: 'members', action: 'promote', node: joiner.nodeId }),
    { code: 'INVALID_ARGUMENT' },
    'promoting a non-member: refused',
  );

  // A graceful close of the leader hands leadership to another voter.
  await leader.close();
  const next = await cluster.waitForLeader(5000);
  t.not(next, leader, 'another node leads after the graceful stop');
  t.match(await a.command('a', 7, { type: 'keepAlive', session: sa }), { code: 'OK' }, 'writes continue');
});

t.test('connection and request limits', async (t) => {
  const config = await singleNodeConfig(t, 'lim');
  const options = nodeServerOptions({
    config: config,
    nodeId: config.nodes[0]!.id,
    peerListen: { host: '127.0.0.1', port: 0 },
    clientListen: { host: '127.0.0.1', port: 0 },
    overrides: { connectionsMax: 2, clientLimits: { requestsOutstandingMax: 4, handshakeTimeoutMs: 300 } },
  });
  const server = await NodeServer.start(options);
  t.teardown(() => server.close());
  const port = server.clientAddress.port;
  const one = await RawClient.connect({ port });
  t.teardown(() => one.close());
  await eventually(async () => (server.leader === 'n1' ? true : undefined), 5000, 'leadership');

  // A burst of requests in one write: the first four are taken, the rest refused UNAVAILABLE.
  const answers: WireResult[] = [];
  const burst = Array.from({ length: 12 }, (_, i) =>
    encodeFrame(encodePayload(requestFrame(1000 + i, commandOp('burst', i + 1, { type: 'openSession', ttlMs: 5000 })))),
  );
  const results = Promise.all(
    Array.from(
      { length: 12 },
      (_, i) =>
        new Promise<WireResult>((resolve) => {
          const poll = setInterval(() => {
            const got = answers[i];
            if (got !== undefined) {
              clearInterval(poll);
              resolve(got);
            }
          }, 10);
        }),
    ),
  );
  const socket = connect({ host: '127.0.0.1', port });
  t.teardown(() => socket.destroy());
  const framed = new FramedSocket(socket, 1 << 20, {
    onValue: (value) => {
      const v = value as { type?: string; id?: number; result?: WireResult };
      if (v.type === 'Response' && v.id !== undefined && v.result !== undefined) answers[v.id - 1000] = v.result;
      if (v.type === 'Welcome') socket.write(Buffer.concat(burst));
    },
    onClose: () => undefined,
  });
  socket.once('connect', () => framed.writeValue(clientHello('', 'burst')));
  const codes = (await results).map((r) => r.code);
  t.same(codes.filter((c) => c === 'OK').length, 4, 'four requests taken');
  t.same(codes.filter((c) => c === 'UNAVAILABLE').length, 8, 'the excess refused');
  framed.destroy('done');

  // Two connections are the limit here: a third is refused (it may be the next one after `one`
  // and the burst connection).
  await eventually(
    async () => (server.statusView().connections <= 1 ? true : undefined),
    2000,
    'burst connection gone',
  );
  const two = await RawClient.connect({ port });
  t.teardown(() => two.close());
  await t.rejects(
    RawClient.connect({ port }),
    /TOO_MANY_CONNECTIONS|closed before Welcome/,
    'third connection refused',
  );

  // A connection that never says Hello is closed at the handshake deadline.
  two.close();
  await eventually(async () => (server.statusView().connections <= 1 ? true : undefined), 2000, 'slot free');
  const silent = connect({ host: '127.0.0.1', port });
  const closedAt = await new Promise<string>((resolve) => {
    let text = '';
    silent.on('data', (d: Buffer) => (text += d.toString('latin1')));
    silent.on('close', () => resolve(text));
  });
  t.match(closedAt, /HANDSHAKE_TIMEOUT/, 'silent connection cut with HANDSHAKE_TIMEOUT');
});

t.test('keepalives are batched into one entry per interval; expiry and wait timeouts are pushed', async (t) => {
  // docs/statemachine.md, "Sessions": the leader gathers the keepalives of one interval into a single log entry and
  // answers each when it commits; sessions expire by log time and the waiting clients are told.
  const cluster = await startSecureCluster({ dir: t.testdir(), nodes: 3, secure: false });
  t.teardown(() => cluster.close());
  const leader = await cluster.waitForLeader();
  const client = await RawClient.connect({ port: leader.clientAddress.port });
  t.teardown(() => client.close());
  const sessions: SessionId[] = [];
  for (let i = 0; i < 40; i++) sessions.push(await openSession(client, `k${i}`, 30_000));
  // Time-advance ticks may interleave; measure how many entries 40 keepalives cost.
  const before = leader.statusView().lastIndex;
  const answers = await Promise.all(
    sessions.map((session, i) => client.request({ kind: 'keepAlive', session, clientId: `k${i}` })),
  );
  const grown = leader.statusView().lastIndex - before;
  t.ok(
    answers.every((a) => a.code === 'OK' && a.value.kind === 'kept'),
    'every keepalive answered with its new deadline',
  );
  t.ok(grown <= 3, `40 keepalives cost ${grown} log entries, not 40`);
  const expired = await client.request({ kind: 'keepAlive', session: 999_999 as SessionId, clientId: 'k0' });
  t.equal(expired.code, 'SESSION_EXPIRED', 'an unknown session is reported expired');

  // A waiter whose wait runs out gets a timeout push; a session left without keepalives expires.
  const holder = await openSession(client, 'h', 60_000);
  const waiter = await openSession(client, 'w', 1000);
  await holdAndQueue(
    t,
    'T',
    { client, clientId: 'h', session: holder },
    { client, clientId: 'w', session: waiter },
    200,
  );
  t.match(
    await client.waitForPush((p) => p.kind === 'timeout'),
    { kind: 'timeout', clientId: 'w', seq: 2, name: 'T' },
    'wait timeout pushed',
  );
  // A second connection that kept the waiter's session alive under another client id hears of its
  // end too; the first connection, bound by client id and session both, hears of it once.
  const other = await RawClient.connect({ port: leader.clientAddress.port });
  t.teardown(() => other.close());
  t.match(await other.request({ kind: 'keepAlive', session: waiter, clientId: 'x' }), { code: 'OK' });
  t.match(
    await client.waitForPush((p) => p.kind === 'sessionExpired'),
    { kind: 'sessionExpired', session: waiter },
    'expiry pushed',
  );
  t.match(
    await other.waitForPush((p) => p.kind === 'sessionExpired'),
    { kind: 'sessionExpired', session: waiter },
    'to the session user too',
  );
  const toClient = client.pushes.filter((p) => p.kind === 'sessionExpired' && p.session === waiter);
  t.equal(toClient.length, 1, 'once per connection');
});

t.test('a background snapshot: the node keeps answering while it is in progress, then compacts its log', async (t) => {
  // Snapshots are taken without stopping the node from serving. The worker's copy of the
  // state machine encodes the snapshot; the test holds its bytes back, so every request below is
  // made after the snapshot started and answered before it completed (ordering, not timing).
  // Afterwards the log is compacted (Raft §7) and a restart restores from that snapshot.
  const config = await singleNodeConfig(t, 'bg', 'snapshot:\n  entries: 40\n');
  t.equal(config.snapshot.mode, 'background');
  const held: number[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const options = nodeServerOptions({
    config: config,
    nodeId: config.nodes[0]!.id,
    peerListen: { host: '127.0.0.1', port: 0 },
    clientListen: { host: '127.0.0.1', port: 0 },
    overrides: {
      beforeSnapshotTaken: (index) => {
        held.push(index);
        return gate;
      },
    },
  });
  const server = await NodeServer.start(options);
  let closed = false;
  t.teardown(() => (closed ? undefined : server.close()));
  const client = await RawClient.connect({ port: server.clientAddress.port });
  t.teardown(() => client.close());
  await eventually(async () => (server.leader === 'n1' ? true : undefined), 5000, 'leadership');

  const session = await openSession(client, 'c', 60_000);
  let seq = 1;
  const acquireNext = (name: string): Promise<WireResult> => acquire(client, 'c', ++seq, session, name, 0);
  for (let i = 0; held.length === 0 && i < 200; i++) t.equal((await acquireNext(`before-${i}`)).code, 'OK');
  await eventually(async () => (held.length > 0 ? true : undefined), 5000, 'the worker to finish encoding');
  const snapshotAt = held[0]!;
  t.ok(snapshotAt >= 40, `the policy asked for a snapshot at ${snapshotAt}`);

  const answered: string[] = [];
  for (let i = 0; i < 30; i++) answered.push((await acquireNext(`during-${i}`)).code);
  const read = await client.request({ kind: 'read', query: { kind: 'locks', prefix: 'during-', limit: 100 } });
  t.same(new Set(answered), new Set(['OK']), 'writes made after the snapshot started are answered');
  t.match(read, { code: 'OK', value: { kind: 'locks' } }, 'and so is a linearizable read');
  const during = server.statusView();
  t.ok(during.snapshotIndex < snapshotAt, 'all of that before the snapshot completed');
  t.ok(during.applied > snapshotAt + 30, 'while entries kept applying past the snapshot point');

  release();
  await eventually(
    async () => (server.statusView().snapshotIndex >= snapshotAt ? true : undefined),
    5000,
    'compaction',
  );
  const after = server.statusView();
  // Compacted through the held point, or through the next one the policy asked for at once.
  t.ok(after.snapshotIndex >= snapshotAt, 'the log is compacted through the snapshot point');
  t.same(
    held.slice(0, 2).map((i, n) => n === 0 || i > snapshotAt),
    held.slice(0, 2).map(() => true),
    'one snapshot at a time, in order',
  );
  const locks = after.locks;
  closed = true;
  await server.close();

  const { beforeSnapshotTaken: _held, ...plain } = options;
  const restarted = await NodeServer.start(plain);
  t.teardown(() => restarted.close());
  t.ok(restarted.statusView().snapshotIndex >= snapshotAt, 'the background snapshot was written and loads');
  // The commit index is volatile (docs/architecture.md, the Ready rule): the restarted node applies
  // the log tail once it has been elected again and commits it.
  await eventually(
    async () => (restarted.statusView().applied >= after.applied ? true : undefined),
    10_000,
    'the log tail to be applied again',
  );
  t.equal(restarted.statusView().locks, locks, 'snapshot plus log tail give back every lock');
});
