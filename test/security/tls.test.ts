// The TLS layer every raftlock server and client shares: real mutual-TLS handshakes on 127.0.0.1
// with certificates made by createThrowawayPki, what a peer's certificate proves, how bad material
// is refused (expired, not yet valid, wrong CA) and how a reload reaches new connections.
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { identityOfPeerCertificate, identityOfSubjectAltName } from '../../src/security/identity.js';
import type { CertIdentity } from '../../src/security/identity.js';
import { createCa, createNodeCert, createThrowawayPki, createUserCert } from '../../src/security/pki.js';
import type { TlsPem } from '../../src/security/tls-material.js';
import {
  checkNodeServerIdentity,
  checkTlsPem,
  clientTlsOptions,
  readTlsFiles,
  serverTlsOptions,
  TlsMaterial,
} from '../../src/security/tls-material.js';
import { createTlsServer } from '../../src/security/tls-server.js';
import { until } from '../fixtures/until.js';

const dayMs = 86_400_000;
const pki = await createThrowawayPki(['n1', 'n2', 'n3'], ['root', 'alice']);
const other = await createThrowawayPki(['n1'], ['root']);
const pemOf = (map: ReadonlyMap<string, TlsPem>, name: string): TlsPem => {
  const pem = map.get(name);
  if (pem === undefined) throw new Error(`no ${name} in the throwaway PKI`);
  return pem;
};

interface Served {
  readonly port: number;
  /** The identity of each connection the server handed on, in order (null: no certificate). */
  readonly accepted: (CertIdentity | null)[];
  /** Why each other connection was dropped. */
  readonly refused: string[];
  close(): Promise<void>;
}

async function serve(material: TlsMaterial, requireClientCert: boolean): Promise<Served> {
  const accepted: (CertIdentity | null)[] = [];
  const refused: string[] = [];
  const server = createTlsServer(
    material,
    { requireClientCert },
    {
      onConnection: (socket, identity) => {
        accepted.push(identity);
        socket.end('ok');
      },
      onRefused: (refusal) => {
        if (!/^127\.0\.0\.1:\d+$/.test(refusal.remoteAddress))
          throw new Error(`remote address ${refusal.remoteAddress}`);
        refused.push(refusal.reason);
      },
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    accepted,
    refused,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type Dialled =
  | {
      readonly ok: true;
      readonly server: CertIdentity | null;
      readonly serial: string;
      readonly protocol: string | null;
    }
  | { readonly ok: false; readonly error: string };

/** Connects, and counts the connection as accepted only once the server's "ok" arrives. */
function dial(port: number, options: tls.ConnectionOptions): Promise<Dialled> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...options });
    let error = 'closed before the server answered';
    socket.on('data', () => {
      const cert = socket.getPeerCertificate();
      resolve({
        ok: true,
        server: identityOfPeerCertificate(cert),
        serial: cert.serialNumber,
        protocol: socket.getProtocol(),
      });
      socket.destroy();
    });
    socket.on('error', (e) => (error = e.message));
    socket.on('close', () => resolve({ ok: false, error }));
  });
}

t.test('node to node mutual TLS: both sides learn who the other is', async (t) => {
  const n1 = TlsMaterial.fromPem(pemOf(pki.nodes, 'n1'));
  const n2 = TlsMaterial.fromPem(pemOf(pki.nodes, 'n2'));
  t.same(n1.identity, { kind: 'node', nodeId: 'n1' });
  const server = await serve(n1, true);
  t.teardown(server.close);
  const dialled = await dial(server.port, clientTlsOptions(n2, { nodeId: 'n1' }));
  t.same(dialled, {
    ok: true,
    server: { kind: 'node', nodeId: 'n1' },
    serial: n1.certificate.serialNumber,
    protocol: 'TLSv1.3',
  });
  t.same(server.accepted, [{ kind: 'node', nodeId: 'n2' }]);
});

t.test('peer port: a certificate of another CA, an expired one, or none is refused, with the reason', async (t) => {
  const server = await serve(TlsMaterial.fromPem(pemOf(pki.nodes, 'n1')), true);
  t.teardown(server.close);
  const intruder = pemOf(other.nodes, 'n1');
  const expired = await createNodeCert(pki.ca, {
    nodeId: 'n2',
    hosts: ['127.0.0.1'],
    notBefore: new Date(Date.now() - 10 * dayMs),
    validDays: 1,
  });
  t.equal((await dial(server.port, clientTlsOptions({ ...intruder, ca: pki.ca.cert }, {}))).ok, false);
  t.equal((await dial(server.port, clientTlsOptions({ ca: pki.ca.cert, ...expired }, {}))).ok, false);
  t.equal((await dial(server.port, clientTlsOptions({ ca: pki.ca.cert }, {}))).ok, false);
  t.same(server.accepted, [], 'the server handed on none of them');
  t.match(server.refused, [
    /^the certificate of CN=n1 was not accepted: UNABLE_TO_VERIFY_LEAF_SIGNATURE$/,
    /^the certificate of CN=n2 was not accepted: CERT_HAS_EXPIRED$/,
    'no client certificate (this port requires one)',
  ]);

  // A client that trusts another CA refuses our server.
  const asServer = await dial(server.port, clientTlsOptions(TlsMaterial.fromPem(intruder), { nodeId: 'n1' }));
  t.match(asServer, { ok: false, error: /self-signed certificate in certificate chain/ });
});

t.test('serverTlsOptions alone (tls.createServer) refuses certificates of another CA too', async (t) => {
  let handedOn = 0;
  const server = tls.createServer(
    serverTlsOptions(TlsMaterial.fromPem(pemOf(pki.nodes, 'n1')), { requireClientCert: true }),
    (socket) => {
      handedOn++;
      socket.end('ok');
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  const intruder = pemOf(other.nodes, 'n1');
  t.equal((await dial(port, clientTlsOptions({ ...intruder, ca: pki.ca.cert }, {}))).ok, false);
  t.match(await dial(port, clientTlsOptions(pemOf(pki.nodes, 'n2'), { nodeId: 'n1' })), {
    ok: true,
    protocol: 'TLSv1.3',
  });
  t.equal(handedOn, 1);
});

t.test('the server must prove the node id the client expects', async (t) => {
  const server = await serve(TlsMaterial.fromPem(pemOf(pki.nodes, 'n1')), true);
  t.teardown(server.close);
  const n2 = TlsMaterial.fromPem(pemOf(pki.nodes, 'n2'));
  const wrongId = await dial(server.port, clientTlsOptions(n2, { nodeId: 'n3' }));
  t.same(wrongId, { ok: false, error: 'server certificate proves node n1; expected node n3' });
  t.ok((await dial(server.port, clientTlsOptions(n2, {}))).ok, 'any node will do when none is expected');

  const userSan = new X509Certificate(pemOf(pki.users, 'root').cert).subjectAltName;
  t.equal(userSan, 'URI:raftlock:user:root');
  const posing = checkNodeServerIdentity({ subjectaltname: userSan! }, { nodeId: 'n1' });
  t.equal(posing?.message, 'server certificate proves user root; expected node n1');
  t.equal(posing?.code, 'ERR_RAFTLOCK_SERVER_IDENTITY');
  t.match(checkNodeServerIdentity({}, {})?.message, /proves no raftlock identity .*expected a node certificate/);
  t.equal(
    checkNodeServerIdentity({ subjectaltname: 'URI:raftlock:node:n1, IP Address:127.0.0.1' }, { nodeId: 'n1' }),
    undefined,
  );

  // A process holding a user certificate cannot serve as a node either: it lacks the serverAuth
  // usage, so verification stops before the identity check is even asked.
  const fake = await serve(TlsMaterial.fromPem(pemOf(pki.users, 'root')), false);
  t.teardown(fake.close);
  t.match(await dial(fake.port, clientTlsOptions(n2, {})), { ok: false, error: 'unsuitable certificate purpose' });
  // The client hung up mid-handshake; the server still reports from where (serve checks the address).
  await until(() => fake.refused.length > 0, 'the fake server refused the connection');
  t.match(fake.refused, [/^TLS handshake failed: /]);
});

t.test('client port: a certificate is optional, but one that fails is refused, not ignored', async (t) => {
  const server = await serve(TlsMaterial.fromPem(pemOf(pki.nodes, 'n1')), false);
  t.teardown(server.close);
  const alice = pemOf(pki.users, 'alice');
  const intruder = pemOf(other.users, 'root');
  const expired = await createUserCert(pki.ca, {
    user: 'bob',
    notBefore: new Date(Date.now() - 10 * dayMs),
    validDays: 1,
  });
  t.ok((await dial(server.port, clientTlsOptions({ ca: pki.ca.cert }, {}))).ok);
  t.ok((await dial(server.port, clientTlsOptions(alice, {}))).ok);
  t.equal((await dial(server.port, clientTlsOptions({ ...intruder, ca: pki.ca.cert }, {}))).ok, false);
  t.equal((await dial(server.port, clientTlsOptions({ ca: pki.ca.cert, ...expired }, {}))).ok, false);
  t.same(server.accepted, [null, { kind: 'user', user: 'alice' }]);
  t.match(server.refused, [
    /^the certificate of CN=root was not accepted: UNABLE_TO_VERIFY_LEAF_SIGNATURE$/,
    /^the certificate of CN=bob was not accepted: CERT_HAS_EXPIRED$/,
  ]);
});

t.test('CA rotation: a ca.crt holding two CAs (even of one name) accepts certificates of both', async (t) => {
  const oldCa = await createCa({ commonName: 'raftlock CA' });
  const newCa = await createCa({ commonName: 'raftlock CA' });
  t.match(oldCa.cert, /-----END CERTIFICATE-----\n$/, 'PEM ends in a newline, so files concatenate');
  // Concatenated without the newline, as `cat` makes from files that lack one.
  const bundle = `${newCa.cert.trimEnd()}${oldCa.cert}`;
  const n1 = await createNodeCert(oldCa, { nodeId: 'n1', hosts: ['127.0.0.1'] });
  const n2 = await createNodeCert(newCa, { nodeId: 'n2', hosts: ['127.0.0.1'] });
  const n3 = await createNodeCert({ cert: bundle, key: newCa.key }, { nodeId: 'n3', hosts: ['127.0.0.1'] });
  t.ok(checkTlsPem({ ca: newCa.cert, ...n3 }, Date.now(), 'n3').ok, 'signed with the CA cert that matches the key');
  const server = await serve(TlsMaterial.fromPem({ ca: bundle, ...n1 }), true);
  t.teardown(server.close);
  t.match(await dial(server.port, clientTlsOptions(TlsMaterial.fromPem({ ca: bundle, ...n2 }), { nodeId: 'n1' })), {
    ok: true,
  });
  t.match(await dial(server.port, clientTlsOptions({ ca: bundle, ...n3 }, { nodeId: 'n1' })), { ok: true });
  t.same(server.accepted, [
    { kind: 'node', nodeId: 'n2' },
    { kind: 'node', nodeId: 'n3' },
  ]);
});

t.test('checkTlsPem refuses expired, not yet valid, foreign and mismatched material', async (t) => {
  // Certificates keep whole seconds, so a whole second makes the expected dates exact.
  const now = Math.floor(Date.now() / 1000) * 1000;
  const good = pemOf(pki.nodes, 'n2');
  t.same(checkTlsPem(good, now, 'n2'), { ok: true, value: good });

  const expired = await createNodeCert(pki.ca, {
    nodeId: 'n2',
    hosts: ['127.0.0.1'],
    notBefore: new Date(now - 10 * dayMs),
    validDays: 1,
  });
  const expiredOn = new Date(now - 9 * dayMs).toISOString();
  t.same(checkTlsPem({ ca: pki.ca.cert, ...expired }, now, 'n2'), {
    ok: false,
    error: `n2 certificate expired on ${expiredOn} (now ${new Date(now).toISOString()})`,
  });

  const future = new Date(now + 2 * dayMs);
  const early = await createUserCert(pki.ca, { user: 'carol', notBefore: future });
  t.same(checkTlsPem({ ca: pki.ca.cert, ...early }, now, 'carol'), {
    ok: false,
    error: `carol certificate is not valid before ${future.toISOString()} (now ${new Date(now).toISOString()}); is this machine's clock behind?`,
  });

  const oldCa = await createCa({ commonName: 'old CA', notBefore: new Date(now - 20 * dayMs), validDays: 5 });
  const underOldCa = await createNodeCert(oldCa, {
    nodeId: 'n2',
    hosts: ['127.0.0.1'],
    notBefore: new Date(now - 20 * dayMs),
    validDays: 400,
  });
  t.match(checkTlsPem({ ca: oldCa.cert, ...underOldCa }, now, 'n2'), {
    ok: false,
    error: /^n2 CA certificate expired on /,
  });

  t.match(checkTlsPem({ ...good, ca: other.ca.cert }, now, 'n2'), {
    ok: false,
    error:
      /^n2 certificate \(CN=n2, issued by CN=raftlock throwaway CA \w+\) was not issued by the CA of n2 CA certificate \(CN=raftlock throwaway CA \w+\)$/,
  });
  t.same(checkTlsPem({ ...good, key: pemOf(pki.nodes, 'n3').key }, now, 'n2'), {
    ok: false,
    error: 'n2 key is not the private key of n2 certificate',
  });
  t.match(checkTlsPem({ ...good, cert: 'garbage' }, now, 'n2'), {
    ok: false,
    error: /^n2 certificate is not a PEM certificate/,
  });
  t.match(checkTlsPem({ ...good, ca: '' }, now, 'n2'), {
    ok: false,
    error: 'n2 CA certificate holds no PEM certificate',
  });
  t.match(checkTlsPem({ ca: pki.ca.cert, cert: pki.ca.cert, key: pki.ca.key }, now, 'ca'), {
    ok: false,
    error: /^ca certificate proves no raftlock identity/,
  });
  // During a CA rotation ca.crt holds both CAs; certificates of either are accepted.
  t.ok(checkTlsPem({ ...good, ca: `${other.ca.cert}${pki.ca.cert}` }, now, 'n2').ok);
});

t.test('what a subjectaltname proves', async (t) => {
  t.same(identityOfSubjectAltName('URI:raftlock:node:n1, IP Address:10.0.0.1, DNS:n1.example'), {
    kind: 'node',
    nodeId: 'n1',
  });
  t.same(identityOfSubjectAltName('URI:raftlock:user:ops@example.com'), { kind: 'user', user: 'ops@example.com' });
  // node:tls prints a value holding a comma as a JSON string; it cannot smuggle in a second URI.
  t.same(identityOfSubjectAltName('DNS:"x, URI:raftlock:node:n1", URI:raftlock:user:bob'), {
    kind: 'user',
    user: 'bob',
  });
  t.equal(identityOfSubjectAltName('URI:raftlock:node:n1, URI:raftlock:user:bob'), null, 'two identities prove none');
  t.equal(identityOfSubjectAltName('URI:raftlock:node:n1, URI:RAFTLOCK:node:n2'), null);
  t.equal(identityOfSubjectAltName('URI:raftlock:node:-bad'), null);
  t.equal(identityOfSubjectAltName('URI:raftlock:user:al ice'), null);
  t.equal(identityOfSubjectAltName('URI:raftlock:admin:x'), null);
  t.equal(identityOfSubjectAltName(`URI:raftlock:user:${'a'.repeat(129)}`), null);
  t.equal(identityOfSubjectAltName('DNS:n1.example'), null);
  t.equal(identityOfSubjectAltName('URI:"raftlock:node:n1'), null, 'unterminated quoting');
  t.equal(identityOfPeerCertificate(undefined), null);
});

t.test('reload: a bad file keeps the old certificate; a good one reaches new connections', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'raftlock-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files = { ca: join(dir, 'ca.crt'), cert: join(dir, 'n1.crt'), key: join(dir, 'n1.key') };
  const first = pemOf(pki.nodes, 'n1');
  writeFileSync(files.ca, first.ca);
  writeFileSync(files.cert, first.cert);
  writeFileSync(files.key, first.key);
  const loaded = TlsMaterial.fromFiles(files, Date.now());
  if (!loaded.ok) throw new Error(loaded.error);
  const material = loaded.value;
  const server = await serve(material, true);
  t.teardown(server.close);
  const n2 = TlsMaterial.fromPem(pemOf(pki.nodes, 'n2'));
  const serial1 = new X509Certificate(first.cert).serialNumber;
  t.match(await dial(server.port, clientTlsOptions(n2, { nodeId: 'n1' })), { ok: true, serial: serial1 });

  writeFileSync(files.key, 'not a key');
  t.match(material.reload(Date.now()), {
    ok: false,
    error: new RegExp(`^${files.key} is not a PEM private key .*; keeping the current certificate$`),
  });
  t.match(await dial(server.port, clientTlsOptions(n2, { nodeId: 'n1' })), { ok: true, serial: serial1 });

  const impostor = pemOf(pki.nodes, 'n3');
  writeFileSync(files.cert, impostor.cert);
  writeFileSync(files.key, impostor.key);
  t.same(material.reload(Date.now()), {
    ok: false,
    error: `${files.cert} now proves node n3, but this process is node n1; keeping the current certificate`,
  });

  const second = await createNodeCert(pki.ca, { nodeId: 'n1', hosts: ['127.0.0.1'] });
  writeFileSync(files.cert, second.cert);
  writeFileSync(files.key, second.key);
  t.same(material.reload(Date.now()), { ok: true, value: undefined });
  const serial2 = new X509Certificate(second.cert).serialNumber;
  t.not(serial2, serial1);
  t.match(material.summary, new RegExp(`^node n1, serial ${serial2}, valid until \\d{4}-`));
  t.match(await dial(server.port, clientTlsOptions(n2, { nodeId: 'n1' })), { ok: true, serial: serial2 });
  // A client that sends no server name gets the server's default context: reloaded as well,
  // and still TLS 1.3 only.
  const bare = { ca: pki.ca.cert, cert: n2.pem.cert, key: n2.pem.key, checkServerIdentity: () => undefined };
  t.match(await dial(server.port, bare), { ok: true, serial: serial2, protocol: 'TLSv1.3' });
  t.match(await dial(server.port, { ...bare, maxVersion: 'TLSv1.2' }), { ok: false });

  t.match(TlsMaterial.fromPem(first).reload(Date.now()), { ok: false, error: /in memory/ });
  t.match(readTlsFiles({ ...files, key: join(dir, 'missing.key') }, Date.now()), {
    ok: false,
    error: `cannot read the private key ${join(dir, 'missing.key')}: no such file`,
  });
});
