// The benchmark's TLS etcd is started with etcd's own mutual-TLS flags on both ports, from
// certificates that etcd and its clients accept: each member's certificate is signed by the run's
// CA, names 127.0.0.1 (what clients dial) and localhost (what the gRPC client verifies), serves
// and authenticates as a client (etcd presents it to its peers and to its own JSON gateway); the
// key files are private; the clients' certificate is signed by the same CA. etcd itself is not
// needed here.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { etcdTlsFlags } from '../../bench/etcd/cluster.js';
import { newAgent } from '../../bench/etcd/etcd-backend.js';
import { EtcdGrpcClient } from '../../bench/etcd/etcd-grpc.js';
import { writeEtcdPki } from '../../bench/etcd/etcd-pki.js';

t.test('every member runs with its certificate on both ports and requires client certificates on both', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'raftlock-etcd-pki-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tls = await writeEtcdPki(dir, ['e1', 'e2']);
  const e2 = tls.members.get('e2');
  if (e2 === undefined) throw new Error('no files for e2');
  t.same(etcdTlsFlags(tls, 'e2'), [
    '--cert-file',
    e2.cert,
    '--key-file',
    e2.key,
    '--trusted-ca-file',
    tls.caFile,
    '--client-cert-auth',
    '--peer-cert-file',
    e2.cert,
    '--peer-key-file',
    e2.key,
    '--peer-trusted-ca-file',
    tls.caFile,
    '--peer-client-cert-auth',
  ]);
  t.throws(() => etcdTlsFlags(tls, 'e9'), /no TLS files for etcd member e9/);

  const ca = new X509Certificate(readFileSync(tls.caFile));
  for (const [name, files] of tls.members) {
    const cert = new X509Certificate(readFileSync(files.cert));
    t.ok(cert.verify(ca.publicKey), `${name}: signed by the run's CA`);
    t.equal(cert.checkIP('127.0.0.1'), '127.0.0.1', `${name}: valid for 127.0.0.1`);
    t.equal(cert.checkHost('localhost'), 'localhost', `${name}: valid for localhost`);
    t.match(
      cert.toLegacyObject().ext_key_usage ?? [],
      ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'],
      `${name}: serverAuth and clientAuth`,
    );
    t.equal(statSync(files.key).mode & 0o777, 0o600, `${name}: key readable by its owner only`);
  }
  const client = new X509Certificate(tls.client.cert);
  t.ok(client.verify(ca.publicKey), "the clients' certificate is signed by the same CA");
  t.equal(tls.client.ca, readFileSync(tls.caFile, 'utf8'), 'clients trust that CA');
});

t.test('clients refuse to talk across schemes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'raftlock-etcd-pki-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tls = await writeEtcdPki(dir, ['e1']);
  const https = newAgent(tls.client);
  t.equal(https.kind, 'https');
  t.equal(newAgent().kind, 'http');
  https.agent.destroy();
  await t.rejects(EtcdGrpcClient.open('http://127.0.0.1:1', tls.client), /TLS settings do not match the scheme/);
  await t.rejects(EtcdGrpcClient.open('https://127.0.0.1:1', null), /TLS settings do not match the scheme/);
});
