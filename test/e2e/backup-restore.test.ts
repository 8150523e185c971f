// Backup and restore on real `raftlock start` processes with TLS: a cluster holding locks,
// sessions, keys, users and roles is backed up with `raftlock backup`, destroyed, restored with
// `raftlock restore` into fresh directories under a new cluster id, started, and compared: every
// key, lock holder and fencing token, user and role. A truncated and a byte-flipped backup are
// refused with the offset and the check that failed, and leave the data directories empty.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { readClientPki } from '../../src/client/client-pki.js';
import type { ClientTls } from '../../src/client/client-pki.js';
import { connect } from '../../src/client/index.js';
import type { RaftlockClient } from '../../src/client/index.js';
import { ensureLocalPki } from '../../src/security/pki.js';
import { writeLocalClusterFile } from '../../src/config/local-cluster-file.js';
import { probeStatus } from '../../src/server/server-probe.js';
import type { LocalNode } from './fixtures/procs.js';
import { allocateLocalNodes, eventually, nodeProcesses, runCli } from './fixtures/procs.js';

const ids = ['n1', 'n2', 'n3'];

async function agreedLeader(
  nodes: readonly LocalNode[],
  clusterId: string,
  tls: ClientTls,
): Promise<string | undefined> {
  const views = await Promise.all(
    nodes.map((n) => probeStatus({ host: '127.0.0.1', port: n.clientPort }, clusterId, 1000, tls)),
  );
  const leader = views[0]?.leader ?? null;
  return leader !== null && views.every((v) => v !== null && v.leader === leader) ? leader : undefined;
}

/** Everything the comparison covers, read through a client, in a stable order. */
async function everything(client: RaftlockClient, keys: readonly string[]): Promise<unknown> {
  const values = await Promise.all(
    keys.map(async (key) => {
      const view = await client.kv.get(key);
      return view === null ? null : { key, value: Buffer.from(view.value).toString('hex'), version: view.version };
    }),
  );
  const locks = (await client.locks('')).map((l) => ({ name: l.name, kind: l.kind, holders: l.holders }));
  const users = await client.users.list();
  const roles = await client.roles.list();
  return { values, locks, users, roles };
}

t.test('backup a secure cluster, destroy it, restore it under a new id: same keys, locks, tokens, users', async (t) => {
  const dir = t.testdir();
  const pki = join(dir, 'pki');
  await ensureLocalPki(
    pki,
    ids.map((id) => ({ id, hosts: ['127.0.0.1'] })),
  );
  const tls = readClientPki(pki, true);
  if (tls === null) throw new Error('no client PKI');
  const first = await allocateLocalNodes(3);
  const oldFile = writeLocalClusterFile(dir, first, { clusterId: 'e2e', security: { pki } });
  const old = nodeProcesses(t, oldFile);
  await Promise.all(first.map((n) => old.start(n.id).ready));
  await eventually(() => agreedLeader(first, 'e2e', tls), 20_000, 'a leader in the old cluster');

  const endpoints = first.map((n) => `127.0.0.1:${n.clientPort}`);
  const client = await connect({ endpoints, clusterId: 'e2e', tls, ttlMs: 120_000 });
  t.teardown(() => client.abandon());
  const keys = ['config/a', 'config/b', 'bin'];
  await client.kv.put('config/a', 'alpha');
  await client.kv.put('config/b', 'beta');
  await client.kv.put('config/b', 'beta, again');
  await client.kv.put('bin', new Uint8Array([0, 255, 1, 254]));
  const jobs = await client.lock('jobs/nightly');
  const other = await client.lock('jobs/hourly');
  await client.users.add('alice', { password: 'correct horse battery staple' });
  await client.roles.add('ops');
  await client.roles.grant('ops', 'jobs/', ['lock', 'read']);
  await client.users.grant('alice', 'ops');
  const before = await everything(client, keys);

  const backupFile = join(dir, 'cluster.backup');
  const backedUp = await runCli(['backup', backupFile, '--config', oldFile, '--json']);
  t.equal(backedUp.code, 0, backedUp.output);
  t.notOk(existsSync(`${backupFile}.part`), 'no partial file is left');
  const summary = JSON.parse(backedUp.output.trim().split('\n').pop() ?? '{}') as { index: number; clusterId: string };
  t.equal(summary.clusterId, 'e2e');
  t.ok(summary.index > 0, 'the backup names its index');

  // Destroy the old cluster: every node killed, its data left where it is (never reused).
  client.abandon();
  for (const p of old.procs.values()) p.kill('SIGKILL');
  await Promise.all([...old.procs.values()].map((p) => p.exited));

  const newDir = join(dir, 'restored');
  const second = await allocateLocalNodes(3);
  mkdirSync(newDir, { recursive: true });
  const newFile = writeLocalClusterFile(newDir, second, { clusterId: 'e2e-restored', security: { pki } });
  const dataDirs = ids.map((id) => join(newDir, 'data', id));
  const emptyEverywhere = (): boolean => dataDirs.every((d) => !existsSync(d) || readdirSync(d).length === 0);

  const bytes = readFileSync(backupFile);
  const truncatedFile = join(dir, 'truncated.backup');
  writeFileSync(truncatedFile, bytes.subarray(0, bytes.length - 100));
  const truncated = await runCli(['restore', truncatedFile, '--config', newFile]);
  t.equal(truncated.code, 1, 'a truncated backup is refused');
  t.match(truncated.output, /damaged, refused: truncated: \d+ bytes, the header promises \d+ \(snapshot at offset \d+/);
  const flippedFile = join(dir, 'flipped.backup');
  const flipped = Buffer.from(bytes);
  const at = flipped.length - 50;
  flipped[at] = (flipped[at] ?? 0) ^ 0x10;
  writeFileSync(flippedFile, flipped);
  const damaged = await runCli(['restore', flippedFile, '--config', newFile]);
  t.equal(damaged.code, 1, 'a backup with a flipped byte is refused');
  t.match(damaged.output, new RegExp(`offset ${flipped.length - 4}: file checksum mismatch`));
  t.ok(emptyEverywhere(), 'a refused restore writes nothing');

  const sameId = await runCli(['restore', backupFile, '--config', oldFile]);
  t.equal(sameId.code, 2, "restoring under the backup's own cluster id needs --keep-cluster-id");
  t.match(sameId.output, /--keep-cluster-id/);

  const restored = await runCli(['restore', backupFile, '--config', newFile]);
  t.equal(restored.code, 0, restored.output);
  for (const d of dataDirs) t.equal(statSync(d).mode & 0o777, 0o700, `${d} is private to its owner`);
  const again = await runCli(['restore', backupFile, '--config', newFile]);
  t.equal(again.code, 1, 'a data directory that is not empty is refused');
  t.match(again.output, /is not empty/);

  const fresh = nodeProcesses(t, newFile);
  await Promise.all(second.map((n) => fresh.start(n.id).ready));
  await eventually(() => agreedLeader(second, 'e2e-restored', tls), 20_000, 'a leader in the restored cluster');
  const newEndpoints = second.map((n) => `127.0.0.1:${n.clientPort}`);
  const after = await connect({ endpoints: newEndpoints, clusterId: 'e2e-restored', tls });
  t.teardown(() => after.abandon());
  t.same(await everything(after, keys), before, 'every key, lock holder, token, user and role came back');
  t.ok(await after.checkFence('jobs/nightly', jobs.fencingToken), 'the fencing token of a held lock is still current');
  t.ok(await after.checkFence('jobs/hourly', other.fencingToken));
  const status = await probeStatus({ host: '127.0.0.1', port: second[0]?.clientPort ?? 0 }, 'e2e-restored', 1000, tls);
  t.ok(status !== null && status.commit >= summary.index, 'the restored cluster continues from the backup index');
  after.abandon();
});
