// The client library's side of TLS and authentication, against scripted nodes on 127.0.0.1: which
// TLS material and credentials connect() uses (given, or from $RAFTLOCK_PKI / ./data/pki), that a
// node must prove a node certificate of the cluster's CA, that the password is proved in the Hello
// and the token the Welcome hands out is reused on that node, and that UNAUTHENTICATED is a
// definite error, never retried until the deadline.
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RaftlockClient } from '../../src/client/client.js';
import { clientSecurity, defaultPkiDir, readClientPki } from '../../src/client/client-pki.js';
import type { ConnectOptions } from '../../src/client/options.js';
import { createThrowawayPki } from '../../src/security/pki.js';
import type { TlsPem } from '../../src/security/tls-material.js';
import { TlsMaterial } from '../../src/security/tls-material.js';
import type { HelloAnswer, SeenHello } from './fixtures/scripted-node.js';
import { ScriptedNode } from './fixtures/scripted-node.js';
import { MiniCluster } from './fixtures/mini-cluster.js';
import { refusal } from './fixtures/refusal.js';

const pki = await createThrowawayPki(['n1', 'n2'], ['root', 'alice']);
const other = await createThrowawayPki(['n1'], ['root']);
const pem = (map: ReadonlyMap<string, TlsPem>, name: string): TlsPem => {
  const found = map.get(name);
  if (found === undefined) throw new Error(`no ${name}`);
  return found;
};
const n1 = TlsMaterial.fromPem(pem(pki.nodes, 'n1'));
const root = pem(pki.users, 'root');
const welcomeAs = (principal: string | null, token?: string): HelloAnswer => ({
  welcome: { nodeId: 'n1', principal, ...(token === undefined ? {} : { token }) },
});

/** A client of one node that gives up after `requestTimeoutMs`. */
function clientOf(node: ScriptedNode, extra: Partial<ConnectOptions>): RaftlockClient {
  const backoff = { baseMs: 5, maxMs: 20 };
  return new RaftlockClient({ endpoints: [node.address], requestTimeoutMs: 3_000, backoff, ...extra });
}

t.test('connect() options: TLS and credentials given, from the PKI directory, or plaintext', async (t) => {
  const dir = t.testdir();
  const env = { RAFTLOCK_PKI: dir };
  t.equal(defaultPkiDir({}), join(process.cwd(), 'data/pki'), './data/pki by default');
  t.equal(defaultPkiDir(env), dir, '$RAFTLOCK_PKI when set');
  t.same(clientSecurity(undefined, undefined, env), { tls: null, credentials: null }, 'no ca.crt: plaintext');
  t.throws(
    () => clientSecurity(undefined, { user: 'alice', password: 'pw' }, env),
    /credentials are only sent over TLS/,
  );
  t.throws(() => clientSecurity(false, { user: 'alice', password: 'pw' }, env), /tls is false/);
  t.throws(
    () => clientSecurity({ ca: root.ca, cert: root.cert }, undefined, env),
    /tls\.cert and tls\.key go together/,
  );

  writeFileSync(join(dir, 'ca.crt'), root.ca);
  t.same(readClientPki(dir, true), { ca: Buffer.from(root.ca) }, 'a CA without root files: the CA alone');
  mkdirSync(join(dir, 'users'));
  writeFileSync(join(dir, 'users', 'root.crt'), root.cert);
  writeFileSync(join(dir, 'users', 'root.key'), root.key);
  const found = clientSecurity(undefined, undefined, env);
  t.equal(found.tls?.cert?.toString(), root.cert, "root's certificate from the directory");
  const withPassword = clientSecurity(undefined, { user: 'alice', password: 'pw' }, env);
  t.same(
    withPassword,
    { tls: { ca: Buffer.from(root.ca) }, credentials: { user: 'alice', password: 'pw' } },
    'a password: the CA only, not root’s certificate',
  );
  t.same(clientSecurity(false, undefined, env), { tls: null, credentials: null }, 'tls: false is plaintext');
});

t.test('the default lookup presents root’s certificate from $RAFTLOCK_PKI', async (t) => {
  const dir = t.testdir({ 'ca.crt': root.ca, users: { 'root.crt': root.cert, 'root.key': root.key } });
  const node = await ScriptedNode.start(n1, () => welcomeAs('root'));
  t.teardown(() => node.close());
  const saved = process.env['RAFTLOCK_PKI'];
  process.env['RAFTLOCK_PKI'] = dir;
  t.teardown(() => {
    process.env['RAFTLOCK_PKI'] = saved;
  });
  const client = clientOf(node, {});
  t.teardown(() => client.abandon());
  t.equal((await client.status()).role, 'leader');
  t.same(
    node.hellos,
    [{ auth: undefined, certificate: 'user root' }],
    'no auth in the Hello: the certificate proves root',
  );
  t.equal(client.welcome?.principal, 'root');
});

t.test(
  'a password is proved in the Hello; the token is reused on that node, the password again when it is refused',
  async (t) => {
    let refuseTokens = false;
    const answer = (hello: SeenHello): HelloAnswer => {
      const auth = hello.auth as Record<string, unknown> | undefined;
      if (auth?.['token'] !== undefined) {
        return refuseTokens ? { error: 'UNAUTHENTICATED', message: 'token expired' } : welcomeAs('alice');
      }
      return auth?.['password'] === 'secret'
        ? welcomeAs('alice', `token-${node.hellos.length}`)
        : { error: 'UNAUTHENTICATED', message: 'wrong password' };
    };
    const node = await ScriptedNode.start(n1, answer);
    t.teardown(() => node.close());
    const client = clientOf(node, { tls: { ca: pki.ca.cert }, credentials: { user: 'alice', password: 'secret' } });
    t.teardown(() => client.abandon());
    await client.status();
    t.same(node.hellos[0], { auth: { user: 'alice', password: 'secret' }, certificate: 'none' });
    node.dropAll();
    await client.status();
    t.same(node.hellos[1]?.auth, { token: 'token-1' }, 'reconnecting to the same node: the token');
    refuseTokens = true;
    node.dropAll();
    await client.status();
    t.same(
      node.hellos.slice(2).map((h) => h.auth),
      [{ token: 'token-1' }, { user: 'alice', password: 'secret' }],
      'a refused token: the password again, at once',
    );
  },
);

t.test('UNAUTHENTICATED from the node is definite: one Hello, no retries until the deadline', async (t) => {
  const node = await ScriptedNode.start(n1, () => ({ error: 'UNAUTHENTICATED', message: 'wrong password for alice' }));
  t.teardown(() => node.close());
  const client = clientOf(node, {
    tls: { ca: pki.ca.cert },
    credentials: { user: 'alice', password: 'nope' },
    requestTimeoutMs: 20_000,
  });
  t.teardown(() => client.abandon());
  const started = Date.now();
  const error = await refusal(client.status());
  t.equal(error.code, 'UNAUTHENTICATED');
  t.match(error.message, /wrong password for alice/);
  t.equal(node.hellos.length, 1, 'asked once');
  t.ok(Date.now() - started < 5_000, 'long before requestTimeoutMs');
});

t.test('the node must prove a node certificate of the cluster CA that matches its Welcome', async (t) => {
  const cases: {
    readonly name: string;
    readonly material: TlsMaterial;
    readonly welcomeNode: string;
    readonly message: RegExp;
  }[] = [
    {
      name: 'a certificate of another CA',
      material: TlsMaterial.fromPem(pem(other.nodes, 'n1')),
      welcomeNode: 'n1',
      message: /TLS with .* failed/,
    },
    {
      name: "a user's certificate",
      material: TlsMaterial.fromPem(pem(pki.users, 'alice')),
      welcomeNode: 'n1',
      message: /TLS with .* failed: .*unsuitable certificate purpose/,
    },
    {
      name: 'a Welcome naming another node',
      material: n1,
      welcomeNode: 'n2',
      message: /says it is node n2 but its certificate is node n1's/,
    },
  ];
  for (const c of cases) {
    const node = await ScriptedNode.start(c.material, () => ({
      welcome: { nodeId: c.welcomeNode, principal: 'root' },
    }));
    const client = clientOf(node, { tls: { ca: root.ca, cert: root.cert, key: root.key }, requestTimeoutMs: 20_000 });
    const started = Date.now();
    const error = await refusal(client.status());
    client.abandon();
    await node.close();
    t.equal(error.code, 'UNAUTHENTICATED', c.name);
    t.match(error.message, c.message, c.name);
    t.ok(Date.now() - started < 5_000, `${c.name}: not retried`);
  }
});

t.test('a TLS client meeting a plaintext node says so instead of retrying', async (t) => {
  const cluster = await MiniCluster.start(1);
  t.teardown(() => cluster.close());
  const client = new RaftlockClient({
    endpoints: cluster.endpoints,
    tls: { ca: pki.ca.cert },
    requestTimeoutMs: 20_000,
  });
  t.teardown(() => client.abandon());
  const error = await refusal(client.status());
  t.match(error.message, /does not speak TLS[\s\S]*connect with tls: false/);
});
