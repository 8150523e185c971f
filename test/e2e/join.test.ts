// Membership without editing files, on real `raftlock start` processes with TLS: a 3-node cluster
// from cluster.yml; `raftlock members add n4 --peer --client` (n4 is in no file) while n3 is down;
// n4 started with `--join` and its own addresses; `members promote n4`; n4 serves a read of a key
// written before it existed, and reports itself a voter. The addresses then survive compaction:
// n3, brought up to date by the leader's snapshot, and a founder restarted on a log compacted past
// the addMember entry both know where n4 listens, and `raftlock status` reports n4 although no
// file lists it. cluster.yml is byte-identical afterwards.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { readClientPki } from '../../src/client/client-pki.js';
import type { ClientTls } from '../../src/client/client-pki.js';
import { connect } from '../../src/client/index.js';
import { ensureLocalPki } from '../../src/security/pki.js';
import { cliCommand } from '../../src/server/cli-command.js';
import { writeLocalClusterFile } from '../../src/config/local-cluster-file.js';
import { probeStatus } from '../../src/server/server-probe.js';
import type { LocalNode } from './fixtures/procs.js';
import { allocateLocalNodes, eventually, nodeProcesses, runCli } from './fixtures/procs.js';

async function agreedLeader(nodes: readonly LocalNode[], tls: ClientTls): Promise<string | undefined> {
  const views = await Promise.all(
    nodes.map((n) => probeStatus({ host: '127.0.0.1', port: n.clientPort }, 'e2e', 1000, tls)),
  );
  const leader = views[0]?.leader ?? null;
  return leader !== null && views.every((v) => v !== null && v.leader === leader) ? leader : undefined;
}

interface StatusReport {
  readonly endpoint: string;
  readonly status: { readonly nodeId: string } | null;
}

t.test('members add with addresses, start --join, promote: the new node serves reads', async (t) => {
  const dir = t.testdir();
  const pki = join(dir, 'pki');
  await ensureLocalPki(
    pki,
    ['n1', 'n2', 'n3', 'n4'].map((id) => ({ id, hosts: ['127.0.0.1'] })),
  );
  const tls = readClientPki(pki, true);
  if (tls === null) throw new Error('no client PKI');
  const founders = await allocateLocalNodes(3);
  const [n4] = await allocateLocalNodes(1, 4);
  if (n4 === undefined) throw new Error('no ports for n4');
  const file = writeLocalClusterFile(dir, founders, { clusterId: 'e2e', security: { pki } });
  const fileBefore = readFileSync(file);
  const { procs, start } = nodeProcesses(t, file);
  await Promise.all(founders.map((n) => start(n.id).ready));
  await eventually(() => agreedLeader(founders, tls), 20_000, 'a leader among n1–n3');

  const endpoints = founders.map((n) => `127.0.0.1:${n.clientPort}`);
  const clientPortOf = (id: string): number => {
    const node = [...founders, n4].find((n) => n.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node.clientPort;
  };
  const snapshotThrough = (id: string, index: number): Promise<true> =>
    eventually(
      async () => {
        const view = await probeStatus({ host: '127.0.0.1', port: clientPortOf(id) }, 'e2e', 1000, tls);
        return view !== null && view.snapshotIndex >= index ? true : undefined;
      },
      20_000,
      `${id} to hold a snapshot through ${index}`,
    );
  /** Where the node at `endpoint` says n4 listens (it answers members list itself). */
  const addressesOfN4 = async (endpoint: string): Promise<{ peer: string | null; client: string | null } | null> => {
    const asked = await connect({ endpoints: [endpoint], clusterId: 'e2e', tls, followLeader: false });
    try {
      const known = (await asked.members('list')).find((m) => m.id === 'n4');
      return known === undefined ? null : { peer: known.peer, client: known.client };
    } finally {
      asked.abandon();
    }
  };
  const writer = await connect({ endpoints, clusterId: 'e2e', tls });
  t.teardown(() => writer.abandon());
  await writer.kv.put('before/n4', 'written before n4 existed');

  // n3 misses the change: it will learn n4's addresses from a snapshot, not from the entry.
  const [first, , absent] = founders;
  if (first === undefined || absent === undefined) throw new Error('three founders');
  const stopped = procs.get(absent.id);
  stopped?.kill('SIGTERM');
  await stopped?.exited;

  const peer = `127.0.0.1:${n4.peerPort}`;
  const client = `127.0.0.1:${n4.clientPort}`;
  const added = await runCli(['members', 'add', 'n4', '--peer', peer, '--client', client, '--config', file]);
  t.equal(added.code, 0, added.output);

  const cli = cliCommand();
  const args = [
    ...cli.args,
    'start',
    '--node',
    'n4',
    '--config',
    file,
    '--join',
    endpoints.join(','),
    '--peer',
    peer,
    '--client',
    client,
    '--data',
    join(dir, 'data', 'n4'),
    '--log-level',
    'info',
    '--stop-on-stdin-close',
  ];
  const child = spawn(cli.command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined)
      process.kill(child.pid, 'SIGKILL');
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await eventually(
    async () =>
      output.includes('raftlock node n4')
        ? true
        : child.exitCode !== null
          ? Promise.reject(new Error(output))
          : undefined,
    30_000,
    'n4 to serve',
  );

  // Caught up: n4 has applied what the leader has.
  await eventually(
    async () => {
      const own = await probeStatus({ host: '127.0.0.1', port: n4.clientPort }, 'e2e', 1000, tls);
      return own !== null && own.leader !== null && own.applied >= 1 && own.voters.length === 3 ? true : undefined;
    },
    30_000,
    'n4 to follow the leader',
  );
  await eventually(
    async () => {
      const promoted = await runCli(['members', 'promote', 'n4', '--config', file]);
      return promoted.code === 0 ? true : undefined;
    },
    30_000,
    'n4 to be promoted',
  );

  const reader = await connect({ endpoints: [client], clusterId: 'e2e', tls, followLeader: false });
  t.teardown(() => reader.abandon());
  const view = await reader.kv.get('before/n4');
  t.equal(view === null ? null : Buffer.from(view.value).toString(), 'written before n4 existed', 'n4 serves a read');
  t.equal(reader.welcome?.nodeId, 'n4', 'the read was served by n4');
  const own = await probeStatus({ host: '127.0.0.1', port: n4.clientPort }, 'e2e', 1000, tls);
  t.ok(own?.voters.includes('n4' as never), 'n4 is a voter');
  const members = await runCli(['members', 'list', '--config', file, '--json']);
  t.match(members.output, new RegExp(`"id":"n4","role":"voter","peer":"${peer}","client":"${client}"`));

  // The leader snapshots and compacts the addMember entry away; n3 starts again and can only be
  // brought up to date by that snapshot (docs/operations.md, "Membership").
  const compacted = await runCli(['snapshot', '--config', file, '--json']);
  t.equal(compacted.code, 0, compacted.output);
  const leaderSnapshot = JSON.parse(compacted.output) as { readonly node: string; readonly index: number };
  await snapshotThrough(leaderSnapshot.node, leaderSnapshot.index);
  await start(absent.id).ready;
  await snapshotThrough(absent.id, leaderSnapshot.index);

  // Every founder knows n4's addresses (members list is answered by the node asked): n1 and n2
  // from the log, n3 from the snapshot's configuration.
  for (const endpoint of endpoints) {
    const known = await addressesOfN4(endpoint);
    t.same(known, { peer, client }, `${endpoint} knows where n4 listens`);
  }

  // `raftlock status` asks n4 too, although the cluster file does not list it.
  const status = await runCli(['status', '--config', file, '--json']);
  t.equal(status.code, 0, status.output);
  const reports = (JSON.parse(status.output) as { readonly nodes: readonly StatusReport[] }).nodes;
  t.same(
    reports.map((r) => r.status?.nodeId ?? null),
    ['n1', 'n2', 'n3', 'n4'],
    'status reports every member, n4 from the cluster',
  );

  // A founder restarted on a log compacted past the addMember entry still knows where n4 listens.
  const firstClient = `127.0.0.1:${first.clientPort}`;
  const ownSnapshot = await runCli(['snapshot', '--endpoints', firstClient, '--config', file, '--json']);
  t.equal(ownSnapshot.code, 0, ownSnapshot.output);
  await snapshotThrough(first.id, (JSON.parse(ownSnapshot.output) as { readonly index: number }).index);
  const before = procs.get(first.id);
  before?.kill('SIGTERM');
  await before?.exited;
  await start(first.id).ready;
  t.same(
    await addressesOfN4(firstClient),
    { peer, client },
    `${first.id}, restarted from its snapshot, still knows where n4 listens`,
  );
  t.same(readFileSync(file), fileBefore, 'cluster.yml was not edited');
});
