// The PKI directory: `raftlock up`'s first-start setup (ensureLocalPki) and the `raftlock certs`
// commands, run the way the README runs the CLI. Whatever they write must pass the same check a
// node makes at start (readTlsFiles), with private keys readable by their owner only.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUserCert, ensureLocalPki, PkiError, pkiLayout } from '../../src/security/pki.js';
import { writeCertAndKey, writeNewFile } from '../../src/security/pki-files.js';
import { readTlsFiles } from '../../src/security/tls-material.js';
import { runCli } from '../client/fixtures/cli.js';

function freshDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'raftlock-pki-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const modeOf = (path: string): number => statSync(path).mode & 0o777;
const nodes = [
  { id: 'n1', hosts: ['127.0.0.1'] },
  { id: 'n2', hosts: ['127.0.0.1'] },
  { id: 'n3', hosts: ['127.0.0.1', 'localhost'] },
];

t.test('ensureLocalPki creates the layout once and then only what is missing', async (t) => {
  const dir = join(freshDir(t), 'pki');
  const first = await ensureLocalPki(dir, nodes);
  const ca = pkiLayout.ca(dir);
  const root = pkiLayout.user(dir, 'root');
  const leaves = [...nodes.map((node) => pkiLayout.node(dir, node.id)), root];
  t.same(first.created, [ca.cert, ca.key, ...leaves.flatMap((files) => [files.cert, files.key])]);
  for (const files of leaves) {
    t.ok(readTlsFiles(files, Date.now()).ok, `${files.cert} passes the start-up check`);
    t.equal(modeOf(files.key), 0o600, `${files.key} is 0600`);
    t.equal(modeOf(files.cert), 0o644);
  }
  t.equal(modeOf(ca.key), 0o600);
  t.match(readFileSync(pkiLayout.node(dir, 'n3').cert, 'utf8'), /^-----BEGIN CERTIFICATE-----/);

  const before = readFileSync(pkiLayout.node(dir, 'n1').cert, 'utf8');
  t.same(await ensureLocalPki(dir, nodes), { created: [] }, 'idempotent');
  t.equal(readFileSync(pkiLayout.node(dir, 'n1').cert, 'utf8'), before, 'nothing rewritten');

  const n2 = pkiLayout.node(dir, 'n2');
  unlinkSync(n2.cert);
  unlinkSync(n2.key);
  t.same(await ensureLocalPki(dir, nodes), { created: [n2.cert, n2.key] });
  t.ok(readTlsFiles(n2, Date.now()).ok, 'signed by the CA that was already there');
});

t.test('ensureLocalPki refuses a directory it cannot complete safely, before writing anything', async (t) => {
  const dir = freshDir(t);
  await ensureLocalPki(dir, nodes);
  const ca = pkiLayout.ca(dir);
  const n4 = pkiLayout.node(dir, 'n4');
  const more = [...nodes, { id: 'n4', hosts: ['10.0.0.4'] }];

  const caKey = readFileSync(ca.key, 'utf8');
  unlinkSync(ca.key);
  t.same(await ensureLocalPki(dir, nodes), { created: [] }, 'nodes need only ca.crt');
  await t.rejects(
    ensureLocalPki(dir, more),
    new PkiError(
      `${n4.cert} must be made, but the CA key ${ca.key} is not here: make them where the CA key is ` +
        '(raftlock certs create-node / create-client) and copy them here',
    ),
  );
  writeFileSync(ca.key, caKey, { mode: 0o600 });

  const n1 = pkiLayout.node(dir, 'n1');
  unlinkSync(n1.key);
  await t.rejects(ensureLocalPki(dir, more), {
    message: `${n1.cert} exists without ${n1.key}: restore ${n1.key}, or remove ${n1.cert} so both are made anew`,
  });
  t.throws(() => statSync(n4.cert), 'n4 was not made while refusing');
  unlinkSync(n1.cert);

  unlinkSync(ca.cert);
  unlinkSync(ca.key);
  await t.rejects(ensureLocalPki(dir, nodes), {
    message: /exist but their CA .* does not: restore the CA, or remove .* to start over/,
  });
});

t.test('raftlock certs: create-ca, create-node, create-client, show', async (t) => {
  const dir = join(freshDir(t), 'pki');
  const createCa = await runCli(['certs', 'create-ca', '--dir', dir]);
  t.equal(createCa.code, 0, createCa.stderr);
  t.match(createCa.stdout, `wrote ${join(dir, 'ca.key')} (mode 0600`);
  const node = await runCli(['certs', 'create-node', 'n1', '--host', '10.0.0.1', '--host', 'n1.example', '--dir', dir]);
  t.equal(node.code, 0, node.stderr);
  const client = await runCli(['certs', 'create-client', 'ops@example.com', '--dir', dir, '--days', '30']);
  t.equal(client.code, 0, client.stderr);

  const n1 = pkiLayout.node(dir, 'n1');
  const ops = pkiLayout.user(dir, 'ops@example.com');
  t.same(readTlsFiles(n1, Date.now()), { ok: true, value: readPem(n1) });
  t.ok(readTlsFiles(ops, Date.now()).ok);
  for (const key of [pkiLayout.ca(dir).key, n1.key, ops.key]) t.equal(modeOf(key), 0o600, key);

  const show = await runCli(['certs', 'show', n1.cert, '--ca', n1.ca]);
  t.equal(show.code, 0, show.stderr);
  t.match(show.stdout, /identity {3}node n1\n/);
  t.match(show.stdout, /names {6}URI:raftlock:node:n1, IP Address:10\.0\.0\.1, DNS:n1\.example\n/);
  t.match(show.stdout, /issued by {2}.*: yes\n/);

  // Nothing is overwritten without --force (the check and the write are one atomic step).
  const replacement = await createUserCert(
    { cert: readFileSync(n1.ca, 'utf8'), key: readFileSync(pkiLayout.ca(dir).key, 'utf8') },
    { user: 'ops@example.com' },
  );
  await t.rejects(writeCertAndKey(ops, replacement, false), {
    message: `${ops.cert} already exists; not overwriting it (use --force to replace it)`,
  });
  await t.rejects(writeNewFile(ops.key, replacement.key, { mode: 0o600, force: false }), { message: /already exists/ });
  t.ok(readTlsFiles(ops, Date.now()).ok, 'the old pair is intact');
  await writeCertAndKey(ops, replacement, true);
  t.equal(readFileSync(ops.cert, 'utf8'), replacement.cert, '--force replaces');
  t.equal(modeOf(ops.key), 0o600);
  t.same(
    readdirSync(join(dir, 'users')).sort(),
    ['ops@example.com.crt', 'ops@example.com.key'],
    'no temporary file left behind',
  );
});

function readPem(files: { ca: string; cert: string; key: string }): { ca: string; cert: string; key: string } {
  return {
    ca: readFileSync(files.ca, 'utf8'),
    cert: readFileSync(files.cert, 'utf8'),
    key: readFileSync(files.key, 'utf8'),
  };
}
