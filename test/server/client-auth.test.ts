// Authentication at the client port of a secure node (docs/security.md, "Client connections"):
// a client proves itself by a user certificate, a password (answered with a token) or that token;
// anything else is refused with UNAUTHENTICATED before any Welcome (so before any topology), every
// refusal is logged with the address, the claimed identity and why, and failed logins back off.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createNodeCert, createThrowawayPki, createUserCert } from '../../src/security/pki.js';
import { TlsMaterial } from '../../src/security/tls-material.js';
import { Refused, SecureClient, userTls } from './fixtures/secure-client.js';
import { startSecureCluster } from './fixtures/secure-cluster.js';

async function refusal(attempt: Promise<SecureClient>): Promise<Refused> {
  try {
    const client = await attempt;
    client.close();
  } catch (error) {
    if (error instanceof Refused) return error;
    throw error;
  }
  throw new Error('the connection was accepted');
}

t.test('who may connect to a secure node', async (t) => {
  const cluster = await startSecureCluster({
    dir: t.testdir(),
    nodes: 1,
    users: ['alice'],
    overrides: { loginThrottle: { freeFailures: 3, baseDelayMs: 60_000 } },
  });
  t.teardown(() => cluster.close());
  const node = await cluster.waitForLeader();
  const port = node.clientAddress.port;
  const ca = cluster.ca;
  const root = cluster.userPems.get('root')!;

  // A user certificate: that user.
  const admin = await SecureClient.connect({ port, tls: userTls(root) });
  t.teardown(() => admin.close());
  t.equal(admin.welcome.principal, 'root', 'the certificate names the principal');
  t.equal(admin.welcome.token, undefined, 'no token for a certificate login');
  t.ok(admin.welcome.members.length > 0, 'the Welcome lists the members');

  // Nothing proven: no Welcome, so no topology.
  const anonymous = await refusal(SecureClient.connect({ port, tls: { ca } }));
  t.equal(anonymous.error?.code, 'UNAUTHENTICATED', 'no certificate and no credentials');
  t.match(anonymous.error?.message, /no credentials/);
  t.match(
    cluster.lines.join('\n'),
    /client connection refused .*claimed="client \\"secure-test\\"".*no credentials/,
    'logged with what was claimed and why',
  );

  // Plaintext to a TLS port: never a Welcome.
  const plaintext = await refusal(SecureClient.connect({ port }));
  t.equal(plaintext.error, null, 'plaintext to the TLS port: closed, never a Welcome');

  // A certificate from another CA.
  const stranger = await createThrowawayPki([], ['root']);
  const forged = await refusal(
    SecureClient.connect({
      port,
      tls: { ca, cert: stranger.users.get('root')!.cert, key: stranger.users.get('root')!.key },
    }),
  );
  t.match(
    forged.error,
    { code: 'UNAUTHENTICATED', message: /the certificate of CN=root was not accepted: [A-Z_]+/ },
    "another CA's certificate is refused, saying why",
  );
  t.match(
    cluster.lines.join('\n'),
    /client connection refused remote=127\.0\.0\.1:\d+ reason="the certificate of CN=root was not accepted: [A-Z_]+/,
    'the node logs who and why',
  );

  // An expired certificate of the right CA.
  const expired = await createUserCert(cluster.caPair, {
    user: 'root',
    notBefore: new Date(Date.now() - 3 * 86_400_000),
    validDays: 1,
  });
  const old = await refusal(SecureClient.connect({ port, tls: { ca, ...expired } }));
  t.match(
    old.error,
    { code: 'UNAUTHENTICATED', message: /CERT_HAS_EXPIRED/ },
    'an expired certificate is refused, saying so',
  );
  t.match(cluster.lines.join('\n'), /client connection refused .*reason=".*CERT_HAS_EXPIRED/, 'and the log says so');

  // A certificate of a user the auth store does not know.
  const alice = await refusal(SecureClient.connect({ port, tls: userTls(cluster.userPems.get('alice')!) }));
  t.match(
    alice.error?.message ?? '',
    /user alice .* does not exist/,
    'a certificate user must exist in the auth store',
  );

  // Passwords: added by an admin, hashed by the node, answered with a token.
  t.match(
    await admin.request({ kind: 'admin', action: { type: 'userAdd', user: 'carol', password: 'correct horse' } }),
    { code: 'OK', value: { kind: 'admin', done: 'userAdd' } },
  );
  const users = await admin.request({ kind: 'read', query: { kind: 'users' } });
  t.match(users, {
    code: 'OK',
    value: {
      kind: 'users',
      users: [
        { name: 'carol', roles: [], password: true },
        { name: 'root', roles: ['admin'] },
      ],
    },
  });
  t.notMatch(JSON.stringify(users), /scrypt|correct horse/, 'neither the password nor its hash is ever shown');
  const carol = await SecureClient.connect({ port, tls: { ca }, auth: { user: 'carol', password: 'correct horse' } });
  t.teardown(() => carol.close());
  t.equal(carol.welcome.principal, 'carol');
  const token = carol.welcome.token;
  t.type(token, 'string', 'a password login is answered with a token');
  const again = await SecureClient.connect({ port, tls: { ca }, auth: { token: token! } });
  t.teardown(() => again.close());
  t.equal(again.welcome.principal, 'carol', 'the token logs in as its user');
  t.match(await again.request({ kind: 'whoami' }), {
    code: 'OK',
    value: { kind: 'whoami', principal: 'carol', roles: [], admin: false },
  });
  const bogus = await refusal(SecureClient.connect({ port, tls: { ca }, auth: { token: 'x'.repeat(43) } }));
  t.match(bogus.error?.message, /unknown token/);

  // Failures count per source address and per user: the bogus token was one for this address.
  // Three are free; the fourth is checked and refused, and from then on a login waits.
  for (let i = 0; i < 2; i++) {
    const wrong = await refusal(
      SecureClient.connect({ port, tls: { ca }, auth: { user: 'carol', password: `guess ${i}` } }),
    );
    t.match(
      wrong.error,
      { code: 'UNAUTHENTICATED', message: /wrong user name or password/ },
      `wrong password ${i + 1}`,
    );
  }
  const fourth = await refusal(
    SecureClient.connect({ port, tls: { ca }, auth: { user: 'carol', password: 'guess 3' } }),
  );
  t.match(fourth.error?.message, /wrong user name or password/, 'the fourth failure is still checked');
  const limited = await refusal(
    SecureClient.connect({ port, tls: { ca }, auth: { user: 'carol', password: 'correct horse' } }),
  );
  t.match(
    limited.error,
    { code: 'UNAUTHENTICATED', message: /too many failed logins; retry in \d+ s/ },
    'even the right password waits out the back-off',
  );
  t.notMatch(cluster.lines.join('\n'), /correct horse|guess/, 'passwords never reach the log');
  // A certificate login is not affected by a user's password back-off.
  const stillAdmin = await SecureClient.connect({ port, tls: userTls(root) });
  stillAdmin.close();
});

t.test('an insecure node takes no credentials and names no principal', async (t) => {
  const cluster = await startSecureCluster({ dir: t.testdir(), nodes: 1, secure: false });
  t.teardown(() => cluster.close());
  const port = (await cluster.waitForLeader()).clientAddress.port;
  const plain = await SecureClient.connect({ port });
  t.teardown(() => plain.close());
  t.equal(plain.welcome.principal, null, 'anonymous and unrestricted');
  t.match(await plain.request({ kind: 'whoami' }), {
    code: 'OK',
    value: { kind: 'whoami', principal: null, admin: true },
  });
  const withPassword = await refusal(SecureClient.connect({ port, auth: { user: 'root', password: 'pw' } }));
  t.match(
    withPassword.error,
    { code: 'UNAUTHENTICATED', message: /insecure/ },
    'credentials sent in plaintext are refused, not ignored',
  );
});

t.test('a reloaded certificate serves the next client connection; open ones carry on', async (t) => {
  const dir = t.testdir();
  const pki = await createThrowawayPki(['n1'], ['root']);
  const files = { ca: join(dir, 'ca.crt'), cert: join(dir, 'n1.crt'), key: join(dir, 'n1.key') };
  const write = (pem: { cert: string; key: string }): void => {
    writeFileSync(files.ca, pki.ca.cert);
    writeFileSync(files.cert, pem.cert);
    writeFileSync(files.key, pem.key);
  };
  write(pki.nodes.get('n1')!);
  const material = TlsMaterial.fromFiles(files, Date.now());
  if (!material.ok) throw new Error(material.error);
  const cluster = await startSecureCluster({ dir: join(dir, 'data'), nodes: 1, overrides: { tls: material.value } });
  t.teardown(() => cluster.close());
  const port = (await cluster.waitForLeader()).clientAddress.port;
  const tls = userTls(pki.users.get('root')!);
  const serial = (client: SecureClient): string =>
    (client.framed.socket as TLSSocket).getPeerCertificate().serialNumber;

  const before = await SecureClient.connect({ port, tls });
  t.teardown(() => before.close());
  write(await createNodeCert(pki.ca, { nodeId: 'n1', hosts: ['127.0.0.1'] }));
  t.same(material.value.reload(Date.now()), { ok: true, value: undefined }, 'reloaded');
  const after = await SecureClient.connect({ port, tls });
  t.teardown(() => after.close());
  t.not(serial(after), serial(before), 'the new connection sees the new certificate');
  t.match(await before.request({ kind: 'whoami' }), { code: 'OK' }, 'the open connection carries on');
});
