// How a CLI client command decides what it proves (docs/cli.md, "Credentials"): explicit files,
// else the PKI directory of --config, $RAFTLOCK_PKI, ./cluster.yml or ./data/pki; a user's
// password from $RAFTLOCK_PASSWORD or --password-file only; --insecure for plaintext; and clear
// refusals of options that do not fit together.
import t from 'tap';
import { join } from 'node:path';
import { cliSecurity, pkiDirFor, readPasswordFile } from '../../src/cli/client-security.js';
import type { ConfigSecurity } from '../../src/cli/client-security.js';
import { createThrowawayPki } from '../../src/security/pki.js';

const pki = await createThrowawayPki(['n1'], ['root', 'alice']);
const root = pki.users.get('root')!;
const alice = pki.users.get('alice')!;
const layout = (withAlice: boolean) => ({
  'ca.crt': root.ca,
  users: {
    'root.crt': root.cert,
    'root.key': root.key,
    ...(withAlice ? { 'alice.crt': alice.cert, 'alice.key': alice.key } : {}),
  },
});
const text = (value: string | Buffer | undefined): string | undefined => value?.toString();

t.test('the PKI directory: --config, then $RAFTLOCK_PKI, then ./cluster.yml, then ./data/pki', async (t) => {
  const explicit: ConfigSecurity = { pkiDir: '/a', insecure: false, explicit: true };
  const implicit: ConfigSecurity = { pkiDir: '/b', insecure: false, explicit: false };
  const env = { RAFTLOCK_PKI: '/env' };
  t.equal(pkiDirFor(explicit, env), '/a');
  t.equal(pkiDirFor(implicit, env), '/env');
  t.equal(pkiDirFor(implicit, {}), '/b');
  t.equal(pkiDirFor(null, {}), join(process.cwd(), 'data/pki'));
});

t.test('defaults: root’s certificate when present, plaintext without a CA or for an insecure cluster', async (t) => {
  const dir = t.testdir(layout(false));
  const config: ConfigSecurity = { pkiDir: dir, insecure: false, explicit: true };
  const secure = cliSecurity({}, config, {});
  t.equal(secure.tls === false ? null : text(secure.tls.cert), root.cert);
  t.equal(secure.credentials, undefined);
  t.same(cliSecurity({}, { ...config, pkiDir: join(dir, 'none') }, {}), { tls: false }, 'no CA: plaintext');
  t.same(cliSecurity({}, { ...config, insecure: true }, {}), { tls: false }, 'security.insecure: plaintext');
  t.same(cliSecurity({ insecure: true }, config, {}), { tls: false }, '--insecure');
});

t.test('a user: its password from the environment or a file, else its certificate', async (t) => {
  const dir = t.testdir({ ...layout(true), 'pw.txt': 'hunter2\n', 'empty.txt': '' });
  const config: ConfigSecurity = { pkiDir: dir, insecure: false, explicit: true };
  const fromEnv = cliSecurity({ user: 'bob' }, config, { RAFTLOCK_PASSWORD: 's3cret' });
  t.same(fromEnv.credentials, { user: 'bob', password: 's3cret' });
  t.equal(
    fromEnv.tls === false ? 'plain' : text(fromEnv.tls.cert),
    undefined,
    'a password user presents no certificate',
  );
  const fromFile = cliSecurity({ user: 'bob', passwordFile: join(dir, 'pw.txt') }, config, {});
  t.same(fromFile.credentials, { user: 'bob', password: 'hunter2' }, 'the final line break is not part of it');
  const byEnvUser = cliSecurity({}, config, { RAFTLOCK_USER: 'bob', RAFTLOCK_PASSWORD: 'x' });
  t.same(byEnvUser.credentials, { user: 'bob', password: 'x' }, '$RAFTLOCK_USER');
  const byCert = cliSecurity({ user: 'alice' }, config, {});
  t.equal(byCert.tls === false ? null : text(byCert.tls.cert), alice.cert, 'users/<name>.crt without a password');
  t.throws(
    () => cliSecurity({ user: 'bob' }, config, {}),
    /no password for bob \(set \$RAFTLOCK_PASSWORD or --password-file FILE\)/,
  );
  t.throws(() => cliSecurity({ passwordFile: join(dir, 'pw.txt') }, config, {}), /--password-file needs --user/);
  t.throws(() => readPasswordFile(join(dir, 'empty.txt')), /is empty/);
  t.throws(() => readPasswordFile(join(dir, 'nope.txt')), /cannot read the password file/);
  // `user add` reads the new user's password from --password-file: the caller's comes from the
  // environment only.
  const admin = cliSecurity({ passwordFile: join(dir, 'pw.txt') }, config, {}, false);
  t.equal(admin.tls === false ? null : text(admin.tls.cert), root.cert, 'the caller stays root');
});

t.test('explicit files, and options that do not fit together', async (t) => {
  const dir = t.testdir({ ...layout(true), elsewhere: {} });
  const config: ConfigSecurity = { pkiDir: join(dir, 'elsewhere'), insecure: false, explicit: true };
  const files = { ca: join(dir, 'ca.crt'), cert: join(dir, 'users/alice.crt'), key: join(dir, 'users/alice.key') };
  const given = cliSecurity(files, config, {});
  t.equal(given.tls === false ? null : text(given.tls.cert), alice.cert);
  t.throws(() => cliSecurity({ ca: files.ca, cert: files.cert }, config, {}), /--cert and --key go together/);
  t.throws(() => cliSecurity({ insecure: true, ca: files.ca }, config, {}), /--insecure talks plaintext/);
  t.throws(
    () => cliSecurity({ user: 'alice' }, config, { RAFTLOCK_PASSWORD: 'x' }),
    /a certificate or user needs TLS, but there is no CA/,
  );
  t.throws(() => cliSecurity({ ca: join(dir, 'missing.crt') }, config, {}), /cannot read the CA certificate/);
});
