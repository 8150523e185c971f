// End to end on real `raftlock start` processes on 127.0.0.1: a 3-node cluster elects a leader and
// answers status; after the leader is killed with SIGKILL a client's next operations succeed on the
// new leader, and a retried (clientId, seq) takes effect once only (Raft dissertation §6.3); a node
// restarted after SIGKILL rejoins, and after SIGKILL of every node nothing acknowledged is lost
// (Raft §5.4: committed entries survive); a cluster.yml error is refused with its line and reason.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { probeStatus } from '../../src/server/server-probe.js';
import type { NodeStatusView, WireResult } from '../../src/protocol/client-protocol.js';
import type { SessionId } from '../../src/statemachine/ids.js';
import type { NodeProcess, LocalNode, LocalRootTls } from './fixtures/procs.js';
import {
  eventually,
  allocateLocalNodes,
  runCli,
  startNodeProcess,
  userTls,
  writeClusterFile,
} from './fixtures/procs.js';
import { spawn } from 'node:child_process';
import { cliCommand } from '../../src/server/cli-command.js';
import { RawClient } from './fixtures/raw-client.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function okValue(result: WireResult): Extract<WireResult, { code: 'OK' }>['value'] {
  if (result.code !== 'OK') throw new Error(`expected OK, got ${JSON.stringify(result)}`);
  return result.value;
}

async function agreedLeader(
  nodes: readonly LocalNode[],
  running: ReadonlySet<string>,
  tls: LocalRootTls,
): Promise<string | undefined> {
  const views: (NodeStatusView | null)[] = await Promise.all(
    nodes
      .filter((n) => running.has(n.id))
      .map((n) => probeStatus({ host: '127.0.0.1', port: n.clientPort }, 'e2e', 1000, tls)),
  );
  const first = views[0]?.leader ?? null;
  if (first === null || !running.has(first)) return undefined;
  return views.every((v) => v !== null && v.leader === first) ? first : undefined;
}

/** Retries a command while the cluster is between leaders: UNAVAILABLE means "outcome unknown, retry". */
async function retrying(send: () => Promise<WireResult>): Promise<WireResult> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const result = await send();
    if (result.code !== 'UNAVAILABLE') return result;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error('still unavailable');
}

t.test('invalid cluster.yml is refused with its line and reason', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'bad.yml');
  writeFileSync(file, 'cluster:\n  id: x\nnodes:\n  - id: n1\n    peer: 127.0.0.1:1\n    client: nowhere\n');
  const result = await runCli(['start', '--node', 'n1', '--config', file]);
  t.equal(result.code, 2, 'exit code 2');
  t.match(result.output, /bad\.yml:6:13: nodes\[0\]\.client must be host:port/, 'names file, line, column and reason');
});

t.test('a node whose launcher goes away (its stdin lifeline closes) stops gracefully, exit 0', async (t) => {
  const dir = t.testdir();
  const nodes = await allocateLocalNodes(1);
  const file = await writeClusterFile(dir, nodes);
  const node = startNodeProcess(file, 'n1', 'info');
  t.teardown(() => node.kill('SIGKILL'));
  await node.ready;
  node.closeLifeline();
  t.equal(await node.exited, 0, 'a clean exit, not the exit of a second signal');
  t.match(node.output(), /node stopped cleanly/);
});

t.test('raftlock up runs every node of the file, names the leader, and stops them all on SIGINT', async (t) => {
  const dir = t.testdir();
  const nodes = await allocateLocalNodes(3, 4);
  const file = await writeClusterFile(dir, nodes);
  const tls = userTls(dir);
  const cli = cliCommand();
  const up = spawn(cli.command, [...cli.args, 'up', '--config', file, '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  up.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  up.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (up.exitCode === null) up.kill('SIGKILL');
  });
  const leader = await eventually(async () => /leader: (n\d)/.exec(output)?.[1], 30_000, 'up to name a leader');
  for (const node of nodes)
    t.match(output, `${node.id}: clients 127.0.0.1:${node.clientPort}`, `up prints where ${node.id} listens`);
  // A follower learns who leads from the leader's first append, which on a loaded machine can come
  // after `up` has already found the leader itself.
  const named = await eventually(
    async () =>
      (await probeStatus({ host: '127.0.0.1', port: nodes[1]!.clientPort }, 'e2e', 2000, tls))?.leader ?? undefined,
    10_000,
    'the node to name a leader',
  );
  t.equal(named, leader, 'the cluster answers status with that leader');

  // A second `up` on the same file while the first runs: every node refuses its data directory,
  // and `up` says that none started instead of naming the first cluster's leader as its own.
  const again = await runCli(['up', '--config', file, '--log-level', 'warn'], 60_000);
  t.equal(again.code, 1, 'exit 1');
  t.match(again.output, /DATA_DIR_LOCKED/, 'each node says why');
  t.match(again.output, /no node started: why each one stopped is printed above/);
  t.notMatch(again.output, /leader: |press Ctrl-C/, 'no leader is claimed');
  up.kill('SIGINT');
  t.equal(await exited, 0, 'up exits 0 after stopping the nodes');
  t.match(output, /cluster stopped/);
  const after = await probeStatus({ host: '127.0.0.1', port: nodes[1]!.clientPort }, 'e2e', 500, tls);
  t.equal(after, null, 'no node is left running');
});

t.test('3 real nodes: status, leader SIGKILL, exactly-once retries, restart, total SIGKILL', async (t) => {
  const dir = t.testdir();
  const nodes = await allocateLocalNodes(3);
  const file = await writeClusterFile(dir, nodes);
  const tls = userTls(dir);
  const procs = new Map<string, NodeProcess>();
  const start = (id: string): NodeProcess => {
    const p = startNodeProcess(file, id);
    procs.set(id, p);
    return p;
  };
  t.teardown(() => {
    for (const p of procs.values()) p.kill('SIGKILL');
  });
  await Promise.all(nodes.map((n) => start(n.id).ready));
  const running = new Set(nodes.map((n) => n.id));
  const leader = await eventually(() => agreedLeader(nodes, running, tls), 15_000, 'a leader');
  const status = await probeStatus({ host: '127.0.0.1', port: nodes[0]!.clientPort }, 'e2e', 2000, tls);
  t.same(status?.voters, ['n1', 'n2', 'n3'], 'status lists the voters');
  t.equal(status?.leader, leader, 'status names the leader');

  // A client on a follower: writes are forwarded to the leader.
  const follower = nodes.find((n) => n.id !== leader)!;
  const client = await RawClient.connect({ port: follower.clientPort, clusterId: 'e2e', tls });
  t.teardown(() => client.close());
  const opened = okValue(await client.command('app', 1, { type: 'openSession', ttlMs: 60_000 }));
  if (opened.kind !== 'session') throw new Error('no session');
  const session = opened.session as SessionId;
  const granted = okValue(
    await client.command('app', 2, { type: 'acquire', session, name: 'L', waitMs: 0, lockDelayMs: 0 }),
  );
  t.equal(granted.kind, 'granted', 'lock granted through a follower');
  const put = {
    type: 'put',
    session,
    key: 'k',
    value: bytes('v1'),
    ifVersion: null,
    ephemeral: false,
    fence: null,
  } as const;
  const first = okValue(await client.command('app', 3, put));
  t.match(first, { kind: 'put', version: 1 });

  // Kill the leader outright.
  procs.get(leader)!.kill('SIGKILL');
  await procs.get(leader)!.exited;
  running.delete(leader);
  const second = await retrying(() => client.command('app', 4, { ...put, value: bytes('v2') }));
  t.match(okValue(second), { kind: 'put', version: 2 }, 'the next write succeeds on the new leader');
  const again = await retrying(() => client.command('app', 4, { ...put, value: bytes('v2') }));
  t.match(okValue(again), { kind: 'put', version: 2 }, 'a retried seq returns its first result, not a new write');
  const current = okValue(await client.request({ kind: 'read', query: { kind: 'get', key: 'k' } }));
  t.match(current, { kind: 'key', key: { version: 2 } }, 'the key was written twice in all, not three times');
  const kept = await retrying(() => client.request({ kind: 'keepAlive', session, clientId: 'app' }));
  t.equal(okValue(kept).kind, 'kept', 'keepalive answered by the new leader');
  const newLeader = await eventually(() => agreedLeader(nodes, running, tls), 15_000, 'a new leader');
  t.not(newLeader, leader, 'a different node leads');

  // A redirect-mode client on the follower that is not the leader gets NOT_LEADER with the address.
  const other = nodes.find((n) => running.has(n.id) && n.id !== newLeader)!;
  const redirected = await RawClient.connect({ port: other.clientPort, redirect: true, tls });
  const refused = await redirected.command('app2', 1, { type: 'openSession', ttlMs: 60_000 });
  const newLeaderPort = nodes.find((n) => n.id === newLeader)!.clientPort;
  t.match(refused, { code: 'NOT_LEADER', leader: newLeader, leaderClient: `127.0.0.1:${newLeaderPort}` });
  redirected.close();

  // The killed node comes back with its data and catches up.
  await start(leader).ready;
  running.add(leader);
  const back = await RawClient.connect({ port: nodes.find((n) => n.id === leader)!.clientPort, tls });
  const read = await eventually(
    async () => {
      const result = await back.request({ kind: 'read', query: { kind: 'get', key: 'k' } });
      return result.code === 'OK' && result.value.kind === 'key' && result.value.key?.version === 2
        ? result
        : undefined;
    },
    15_000,
    'the restarted node to serve version 2',
  );
  t.ok(read, 'restarted node serves the latest write');
  back.close();
  client.close();

  // SIGKILL every node at once, restart them all: every acknowledged write is still there.
  for (const p of procs.values()) p.kill('SIGKILL');
  await Promise.all([...procs.values()].map((p) => p.exited));
  await Promise.all(nodes.map((n) => start(n.id).ready));
  const after = await RawClient.connect({ port: nodes[0]!.clientPort, tls });
  t.teardown(() => after.close());
  const value = await eventually(
    async () => {
      const result = await after.request({ kind: 'read', query: { kind: 'get', key: 'k' } });
      return result.code === 'OK' && result.value.kind === 'key' ? result.value.key : undefined;
    },
    20_000,
    'a read after restarting everything',
  );
  t.equal(value?.version, 2, 'the key kept its acknowledged version');
  t.same(Buffer.from(value?.value ?? []).toString(), 'v2');
  const locks = okValue(await after.request({ kind: 'read', query: { kind: 'locks', prefix: 'L', limit: 10 } }));
  t.match(locks, { kind: 'locks', locks: [{ name: 'L', holders: [{ session }] }] }, 'the lock is still held');

  // A graceful stop exits 0.
  for (const p of procs.values()) p.kill('SIGTERM');
  const codes = await Promise.all([...procs.values()].slice(-3).map((p) => p.exited));
  t.same(codes, [0, 0, 0], 'SIGTERM stops every node cleanly');
});
