// End to end on real processes, the CLI run the way the README runs it: `raftlock up` in a
// directory with a cluster.yml creates the cluster's CA and certificates on first start, and
// `status`, `kv put` and `lock` then work with no flags at all (TLS and root's certificate from
// ./data/pki); users and roles from the CLI, with rights per prefix, PERMISSION_DENIED (exit 6)
// outside them and UNAUTHENTICATED (exit 5) without credentials. `raftlock start` refuses to run
// without TLS material, or insecure on a non-loopback address, and reloads its certificate on SIGHUP.
import t from 'tap';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCa, createNodeCert } from '../../src/security/pki.js';
import { allocateLocalNodes, writeLocalClusterFile } from '../../src/config/local-cluster-file.js';
import type { CliRunOptions } from './fixtures/cli.js';
import { runCli, startCli } from './fixtures/cli.js';

const exitOk = 'process.exit(0)';

void t.test('raftlock up makes a secure cluster that the CLI uses with no flags', async (t) => {
  const dir = t.testdir();
  const nodes = await allocateLocalNodes(3);
  writeLocalClusterFile(dir, nodes, { clusterId: 'cli-secure', security: { pki: './data/pki' } });
  const up = startCli(['up', '--log-level', 'warn'], 180_000, { cwd: dir });
  t.teardown(async () => {
    up.child.kill('SIGTERM');
    await up.exited;
  });
  const printed = await up.waitFor(/leader: n\d|no leader elected yet/, 90_000);
  const here = (args: readonly string[], options: CliRunOptions = {}) => runCli(args, 60_000, { cwd: dir, ...options });

  await t.test('the first start creates the PKI and says where it is', async (t) => {
    t.match(printed, /created the cluster's certificates in \.\/data\/pki:/);
    t.match(printed, /CA: \.\/data\/pki\/ca\.crt/);
    t.match(printed, /root \(the admin user\): \.\/data\/pki\/users\/root\.crt and \.\/data\/pki\/users\/root\.key/);
    t.match(printed, /the CLI and connect\(\) use root's certificate from there: they find them in \.\/data\/pki/);
    for (const file of ['ca.crt', 'ca.key', 'nodes/n1.crt', 'nodes/n3.key', 'users/root.crt', 'users/root.key']) {
      t.ok(existsSync(join(dir, 'data/pki', file)), file);
    }
    t.equal(statSync(join(dir, 'data/pki/users/root.key')).mode & 0o777, 0o600, 'keys are private');
  });

  await t.test('status, kv put and lock need no flags', async (t) => {
    const status = await here(['status']);
    t.equal(status.code, 0, status.stderr);
    t.match(status.stdout, /leader/);
    const put = await here(['kv', 'put', 'config/mode', 'blue']);
    t.equal(put.code, 0, put.stderr);
    const lock = await here(['lock', 'backups', '--', process.execPath, '-e', exitOk]);
    t.equal(lock.code, 0, lock.stderr);
    const whoami = await here(['whoami']);
    t.match(whoami.stdout, /^root \(roles admin; admin\)/);
  });

  await t.test('without credentials the cluster refuses: UNAUTHENTICATED, exit 5', async (t) => {
    const caOnly = join(dir, 'ca-only');
    mkdirSync(caOnly);
    writeFileSync(join(caOnly, 'ca.crt'), readFileSync(join(dir, 'data/pki/ca.crt')));
    const refused = await here(['kv', 'get', 'config/mode'], { env: { RAFTLOCK_PKI: caOnly } });
    t.equal(refused.code, 5, refused.stderr);
    t.match(refused.stderr, /UNAUTHENTICATED/);
    const plaintext = await here(['kv', 'get', 'config/mode', '--insecure', '--timeout', '3s']);
    t.not(plaintext.code, 0, 'plaintext to a secure cluster fails');
  });

  await t.test('users and roles from the CLI: rights per prefix, revocation', async (t) => {
    const ok = async (args: readonly string[], options: CliRunOptions = {}): Promise<string> => {
      const run = await here(args, options);
      t.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
      return run.stdout;
    };
    t.match(
      await ok(['user', 'add', 'alice', '--password-file', '-'], { input: 'open sesame\n' }),
      /added user alice \(with a password\)/,
    );
    await ok(['role', 'add', 'jobs']);
    t.match(await ok(['role', 'grant', 'jobs', 'jobs/', 'lock,read']), /granted lock,read on "jobs\/" to role jobs/);
    await ok(['user', 'grant', 'alice', 'jobs']);
    t.match(await ok(['user', 'list']), /alice\s+jobs\s+yes/);
    t.match(await ok(['role', 'list']), /jobs\s+"jobs\/"\s+lock,read/);

    const asAlice = { env: { RAFTLOCK_PASSWORD: 'open sesame' } };
    t.match(await ok(['whoami', '--user', 'alice'], asAlice), /^alice \(roles jobs\)/);
    await ok(['lock', 'jobs/nightly', '--user', 'alice', '--', process.execPath, '-e', exitOk], asAlice);
    const outside = await here(['lock', 'other/x', '--user', 'alice', '--', process.execPath, '-e', exitOk], asAlice);
    t.equal(outside.code, 6, 'PERMISSION_DENIED exits 6');
    t.match(outside.stderr, /PERMISSION_DENIED: alice may not lock "other\/x"/);
    const notAdmin = await here(['user', 'add', 'mallory', '--no-password', '--user', 'alice'], asAlice);
    t.equal(notAdmin.code, 6, 'only admins manage users');
    const wrong = await here(['whoami', '--user', 'alice'], { env: { RAFTLOCK_PASSWORD: 'guess' } });
    t.equal(wrong.code, 5, 'a wrong password exits 5');

    await ok(['user', 'revoke', 'alice', 'jobs']);
    const revoked = await here(
      ['lock', 'jobs/nightly', '--user', 'alice', '--', process.execPath, '-e', exitOk],
      asAlice,
    );
    t.equal(revoked.code, 6, 'revoking the role takes effect');
    const usage = await here(['user', 'add', 'bob']);
    t.equal(usage.code, 2, 'a new user needs --password-file or --no-password');
    t.match(usage.stderr, /--password-file FILE .* or --no-password/);
  });
});

void t.test('raftlock start refuses without TLS material, naming the file and the two ways out', async (t) => {
  const dir = t.testdir();
  const nodes = await allocateLocalNodes(1);
  writeLocalClusterFile(dir, nodes, { clusterId: 'no-pki', security: { pki: './data/pki' } });
  const run = await runCli(['start', '--node', 'n1'], 60_000, { cwd: dir });
  t.equal(run.code, 2);
  t.match(run.stderr, `node n1 refuses to start: node n1 has no TLS material: missing ${join(dir, 'data/pki/ca.crt')}`);
  t.match(run.stderr, /raftlock certs create-ca --dir/);
  t.match(run.stderr, /insecure: true under security: in .*cluster\.yml, or raftlock start --insecure/);
});

void t.test('raftlock start --insecure refuses a non-loopback address unless told twice', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'cluster.yml');
  writeFileSync(file, 'nodes:\n  - id: n1\n    peer: 10.255.255.1:7101\n    client: 10.255.255.1:7201\n');
  const run = await runCli(['start', '--node', 'n1', '--insecure'], 60_000, { cwd: dir });
  t.equal(run.code, 2);
  t.match(
    run.stderr,
    /node n1 is insecure .* would listen on 10\.255\.255\.1:7101 \(peer\) and 10\.255\.255\.1:7201 \(client\)/,
  );
  t.match(run.stderr, /insecureNonLoopback: true/);
});

void t.test(
  'raftlock start: an expired certificate is refused; SIGHUP reloads the certificate and logs the result',
  async (t) => {
    const dir = t.testdir();
    const nodes = await allocateLocalNodes(1);
    writeLocalClusterFile(dir, nodes, { clusterId: 'hup', security: { pki: './pki' } });
    const ca = await createCa({ commonName: 'hup test' });
    mkdirSync(join(dir, 'pki', 'nodes'), { recursive: true });
    writeFileSync(join(dir, 'pki', 'ca.crt'), ca.cert);
    const cert = join(dir, 'pki', 'nodes', 'n1.crt');
    const key = join(dir, 'pki', 'nodes', 'n1.key');
    const install = async (validDays: number, daysAgo: number): Promise<void> => {
      const notBefore = new Date(Date.now() - daysAgo * 86_400_000);
      const pem = await createNodeCert(ca, { nodeId: 'n1', hosts: ['127.0.0.1'], validDays, notBefore });
      writeFileSync(cert, pem.cert);
      writeFileSync(key, pem.key, { mode: 0o600 });
    };

    await install(1, 3);
    const expired = await runCli(['start', '--node', 'n1'], 60_000, { cwd: dir });
    t.equal(expired.code, 2, 'refused');
    t.match(expired.stderr, /expired/);
    t.match(expired.stderr, cert);

    await install(30, 1);
    const node = startCli(['start', '--node', 'n1'], 120_000, { cwd: dir });
    t.teardown(async () => {
      node.child.kill('SIGTERM');
      await node.exited;
    });
    await node.waitFor(/raftlock node n1 of hup serving clients/);
    await install(60, 1);
    node.child.kill('SIGHUP');
    await node.waitFor(/reloaded TLS material certificate="?node n1, serial/);
    await install(1, 3);
    node.child.kill('SIGHUP');
    await node.waitFor(/TLS reload refused .*expired/);
    node.child.kill('SIGTERM');
    t.equal((await node.exited).code, 0, 'still serving until stopped, then a clean stop');
  },
);
