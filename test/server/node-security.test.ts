// A node of a cluster.yml runs with TLS material from the cluster's PKI directory, or insecure when
// the operator says so, and then only on loopback unless said twice. Each refusal names what is
// missing or wrong, where, and the ways out.
import t from 'tap';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterConfig } from '../../src/config/cluster-config.js';
import { parseClusterConfig } from '../../src/config/cluster-config.js';
import { insecureListenProblem, isLoopbackHost, loadNodeTls, nodeSecurityFor } from '../../src/server/node-security.js';
import { createCa, createNodeCert, ensureLocalPki, pkiLayout } from '../../src/security/pki.js';

function config(dir: string, security: string, host = '127.0.0.1'): ClusterConfig {
  const text = [
    'nodes:',
    '  - id: n1',
    `    peer: ${host}:7101`,
    `    client: ${host}:7201`,
    '  - id: n2',
    '    peer: 127.0.0.1:7102',
    '    client: 127.0.0.1:7202',
    '  - id: n3',
    '    peer: 127.0.0.1:7103',
    '    client: 127.0.0.1:7203',
    security,
  ].join('\n');
  const parsed = parseClusterConfig(text, join(dir, 'cluster.yml'));
  if (!parsed.ok) throw new Error(parsed.error.message);
  return parsed.value;
}

const listenOf = (c: ClusterConfig) => ({ peer: c.nodes[0]!.peer, client: c.nodes[0]!.client });

t.test('loopback addresses', async (t) => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '::ffff:127.0.0.1', 'LOCALHOST']) {
    t.ok(isLoopbackHost(host), host);
  }
  for (const host of ['0.0.0.0', '10.0.0.1', '::', 'example.com', '128.0.0.1', '127.example.com']) {
    t.notOk(isLoopbackHost(host), host);
  }
});

t.test('an insecure node refuses a non-loopback address unless told twice', async (t) => {
  const dir = t.testdir();
  const once = config(dir, 'security:\n  insecure: true', '10.0.0.1');
  const problem = insecureListenProblem(once, 'n1', listenOf(once));
  t.match(problem, /node n1 is insecure .* would listen on 10\.0\.0\.1:7101 \(peer\) and 10\.0\.0\.1:7201 \(client\)/);
  t.match(problem, /insecureNonLoopback: true under security:/);
  const refused = nodeSecurityFor(once, 'n1', { insecure: false, listen: listenOf(once), nowMs: Date.now() });
  t.equal(refused.ok, false);
  const twice = config(dir, 'security:\n  insecure: true\n  insecureNonLoopback: true', '10.0.0.1');
  t.equal(insecureListenProblem(twice, 'n1', listenOf(twice)), null);
  const allowed = nodeSecurityFor(twice, 'n1', { insecure: false, listen: listenOf(twice), nowMs: Date.now() });
  t.same(allowed.ok ? allowed.value : null, { mode: 'insecure' });
  // --insecure on the command line is the same as insecure: true, loopback rule included.
  const secureFile = config(dir, '', '10.0.0.1');
  const flag = nodeSecurityFor(secureFile, 'n1', { insecure: true, listen: listenOf(secureFile), nowMs: Date.now() });
  t.match(flag.ok ? '' : flag.error, /would listen on 10\.0\.0\.1:7101/);
  const local = config(dir, '');
  const loopback = nodeSecurityFor(local, 'n1', { insecure: true, listen: listenOf(local), nowMs: Date.now() });
  t.same(loopback.ok ? loopback.value : null, { mode: 'insecure' });
});

t.test('without TLS material a secure node refuses, naming the files and the two ways out', async (t) => {
  const dir = t.testdir();
  const c = config(dir, '');
  const result = nodeSecurityFor(c, 'n1', { insecure: false, listen: listenOf(c), nowMs: Date.now() });
  const message = result.ok ? '' : result.error;
  t.match(message, `missing ${join(dir, 'data/pki/ca.crt')}, ${join(dir, 'data/pki/nodes/n1.crt')}`);
  t.match(message, /raftlock certs create-ca --dir .*data\/pki/);
  t.match(message, /raftlock certs create-node n1 --host 127\.0\.0\.1 --dir/);
  t.match(message, /insecure: true under security: in .*cluster\.yml, or raftlock start --insecure/);
  // Files present but the key empty: the message names that file.
  await ensureLocalPki(c.security.pkiDir, [{ id: 'n1', hosts: ['127.0.0.1'] }]);
  const files = pkiLayout.node(c.security.pkiDir, 'n1');
  writeFileSync(files.key, '');
  const empty = loadNodeTls(c, 'n1', Date.now());
  t.match(empty.ok ? '' : empty.error, files.key, 'an unusable key is named');
});

t.test('TLS material from the PKI directory: the right node, valid now', async (t) => {
  const dir = t.testdir();
  const c = config(dir, 'security:\n  pki: ./certs');
  const pki = join(dir, 'certs');
  await ensureLocalPki(
    pki,
    ['n1', 'n2'].map((id) => ({ id, hosts: ['127.0.0.1'] })),
  );
  const loaded = nodeSecurityFor(c, 'n1', { insecure: false, listen: listenOf(c), nowMs: Date.now() });
  t.equal(loaded.ok && loaded.value.mode === 'tls' ? loaded.value.material.identity.kind : null, 'node');

  // Another node's certificate in n1's place: refused, saying whose it is.
  const n1 = pkiLayout.node(pki, 'n1');
  const n2 = pkiLayout.node(pki, 'n2');
  copyFileSync(n2.cert, n1.cert);
  copyFileSync(n2.key, n1.key);
  const swapped = loadNodeTls(c, 'n1', Date.now());
  t.match(swapped.ok ? '' : swapped.error, /is the certificate of node n2, not of node n1/);

  // An expired certificate: refused with the date, naming the file.
  const ca = await createCa({ commonName: 'test' });
  mkdirSync(join(dir, 'old', 'nodes'), { recursive: true });
  writeFileSync(join(dir, 'old', 'ca.crt'), ca.cert);
  const day = 24 * 3_600_000;
  const expired = await createNodeCert(ca, {
    nodeId: 'n1',
    hosts: ['127.0.0.1'],
    validDays: 1,
    notBefore: new Date(Date.now() - 3 * day),
  });
  writeFileSync(join(dir, 'old', 'nodes', 'n1.crt'), expired.cert);
  writeFileSync(join(dir, 'old', 'nodes', 'n1.key'), expired.key);
  const old = loadNodeTls(config(dir, 'security:\n  pki: ./old'), 'n1', Date.now());
  t.match(old.ok ? '' : old.error, /expired/);
  t.match(old.ok ? '' : old.error, join(dir, 'old', 'nodes', 'n1.crt'));
});
