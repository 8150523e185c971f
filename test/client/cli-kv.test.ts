// `raftlock kv list` and binary-safe values through the CLI, run as the README runs it, against a
// real secure one-node cluster.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { connect } from '../../src/client/client.js';
import { startCluster } from '../../src/embed/embed.js';
import type { CliRun } from './fixtures/cli.js';
import { runCli as runCliIn } from './fixtures/cli.js';
import { writeClientPki } from './fixtures/pki-dir.js';

void t.test('kv list and binary values on the command line', async (t) => {
  const cluster = await startCluster({ nodes: 1 });
  const endpoints = cluster.endpoints.map((e) => e.client).join(',');
  const dir = t.testdir();
  const pki = writeClientPki(dir, cluster.connectOptions());
  const runCli = (args: readonly string[], input?: string): Promise<CliRun> =>
    runCliIn([...args, '-e', endpoints], 60_000, {
      env: { RAFTLOCK_PKI: pki },
      ...(input === undefined ? {} : { input }),
    });
  await cluster.waitForLeader();
  const client = await connect(cluster.connectOptions());
  t.teardown(async () => {
    client.abandon();
    await cluster.close();
  });
  const binary = Uint8Array.from([0xff, 0x00, 0xfe, 0x41]);
  await client.kv.put('l/a', 'one');
  await client.kv.put('l/b', 'two');
  await client.kv.put('l/c', binary);

  // Lists in key order, a continuation hint on stderr when more remain, then the rest with --after.
  const first = await runCli(['kv', 'list', 'l/', '--limit', '2']);
  t.equal(first.code, 0, first.stderr);
  t.equal(first.stdout, 'l/a\tone\nl/b\ttwo\n');
  t.match(first.stderr, /continue with --after "l\/b"/);
  const rest = await runCli(['kv', 'list', 'l/', '--after', 'l/b', '--json']);
  t.match(JSON.parse(rest.stdout), { keys: [{ key: 'l/c', value: 'base64:/wD+QQ==' }], next: null });
  t.equal((await runCli(['kv', 'list', 'l/', '--limit', '0'])).code, 2, 'a limit out of range is a usage error');

  // An argument that was not UTF-8 reaches raftlock as U+FFFD: refused, nothing written.
  const mangled = await runCli(['kv', 'put', 'b/arg', 'a\uFFFDb']);
  t.equal(mangled.code, 2);
  t.match(mangled.stderr, /not valid UTF-8.*--file PATH, - \(standard input\) or --base64/);
  t.equal(await client.kv.get('b/arg'), null);

  // --file, --base64 and stdin carry bytes exactly; get --output and --base64 give them back.
  const file = join(dir, 'value.bin');
  await writeFile(file, binary);
  t.equal((await runCli(['kv', 'put', 'b/file', '--file', file])).code, 0);
  t.same((await client.kv.get('b/file'))?.value, binary);
  t.equal((await runCli(['kv', 'put', 'b/b64', '/wD+QQ==', '--base64'])).code, 0);
  t.same((await client.kv.get('b/b64'))?.value, binary);
  t.equal((await runCli(['kv', 'put', 'b/stdin', '-'], 'line one\nline two\n')).code, 0);
  t.equal(new TextDecoder().decode((await client.kv.get('b/stdin'))?.value), 'line one\nline two\n');
  t.equal((await runCli(['kv', 'put', 'b/bad', 'not base64!', '--base64'])).code, 2);
  const out = join(dir, 'out.bin');
  t.equal((await runCli(['kv', 'get', 'b/file', '--output', out])).code, 0);
  t.same(new Uint8Array(await readFile(out)), binary);
  t.equal((await runCli(['kv', 'get', 'b/b64', '--base64'])).stdout, '/wD+QQ==\n');
  t.equal((await runCli(['kv', 'put', 'b/none'])).code, 2, 'a value is required');
  t.equal((await runCli(['kv', 'delete', 'b/stdin'])).code, 0, '`kv delete` is `kv del`');
  t.equal(await client.kv.get('b/stdin'), null);
  t.equal((await runCli(['kv', 'del', 'b/stdin'])).code, 1, 'gone: exit 1');
});
