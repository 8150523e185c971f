// examples/lock.py (standard library only) against a real secure cluster: it takes the lock,
// writes with the fencing token and releases, with a certificate and with a password login.
import t from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHttpCluster } from './fixtures/http-cluster.js';

const script = fileURLToPath(new URL('../../examples/lock.py', import.meta.url));
const python = spawnSync('python3', ['--version']).status === 0;

function run(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('python3', [script, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

void t.test('examples/lock.py takes a lock, writes with its token, releases', async (t) => {
  // Not skipped where python3 is missing: .ci/run installs it, and a missing one is a failure.
  if (!python) throw new Error('python3 is not installed: the example cannot be checked (apt-get install python3)');
  const h = await startHttpCluster();
  t.teardown(() => h.close());
  const root = h.root;
  if (root === null || root.cert === undefined || root.key === undefined) throw new Error('a secure cluster');
  const dir = t.testdir({});
  const files = { ca: join(dir, 'ca.crt'), cert: join(dir, 'root.crt'), key: join(dir, 'root.key') };
  writeFileSync(files.ca, root.ca);
  writeFileSync(files.cert, root.cert);
  writeFileSync(files.key, root.key);
  const node = await h.followerNode();
  const url = `https://${h.httpOf(node)}`;

  const withCert = await run([
    '--url',
    url,
    '--ca',
    files.ca,
    '--cert',
    files.cert,
    '--key',
    files.key,
    '--lock',
    'py/lock',
    '--write',
    'py/out',
    '--text',
    'from python',
  ]);
  t.equal(withCert.code, 0, withCert.stderr);
  t.match(withCert.stdout, /holding py\/lock with fencing token \d+\nwrote py\/out version 1\nreleased py\/lock/);
  t.match((await h.api(node, `/v1/kv/${encodeURIComponent('py/out')}`)).json, { text: 'from python', version: 1 });
  t.same((await h.api(node, '/v1/locks?prefix=py/')).json, [], 'released');
  t.notOk(((await h.api(node, '/v1/sessions')).json as unknown[]).length, 'and its session closed');

  await h.addUser('pat', 'pat-secret', 'py/', ['lock', 'write', 'read']);
  const asPat = ['--url', url, '--ca', files.ca, '--user', 'pat', '--password', 'pat-secret'];
  const withPassword = await run([...asPat, '--lock', 'py/lock', '--write', 'py/out', '--text', 'from pat']);
  t.equal(withPassword.code, 0, withPassword.stderr);
  t.match((await h.api(node, `/v1/kv/${encodeURIComponent('py/out')}`)).json, { text: 'from pat', version: 2 });

  const refused = await run([...asPat, '--lock', 'elsewhere']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /raftlock refused: 403 PERMISSION_DENIED: pat may not lock "elsewhere"/);
});
