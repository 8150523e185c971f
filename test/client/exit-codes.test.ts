// One table of exit codes (docs/cli.md, "Exit codes"): every command's usage errors exit 2, in
// process over the whole command tree, and through the CLI (as the README runs it) for the cases
// the issue found exiting 1, 3 or 4.
import t from 'tap';
import type { Command } from 'commander';
import { afterDoubleDash } from '../../src/cli/client-lock.js';
import { buildProgram, usageExitCode } from '../../src/cli/program.js';
import { startCluster } from '../../src/embed/embed.js';
import { runCli } from './fixtures/cli.js';
import { writeClientPki } from './fixtures/pki-dir.js';

function leaves(command: Command, path: string[] = []): string[][] {
  const subs = command.commands;
  if (subs.length === 0) return [path];
  return subs.flatMap((sub) => leaves(sub, [...path, sub.name()]));
}

function quiet(command: Command): void {
  command.configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  for (const sub of command.commands) quiet(sub);
}

async function exitOf(argv: readonly string[]): Promise<number | null> {
  const program = buildProgram();
  quiet(program);
  try {
    await program.parseAsync(['node', 'raftlock', ...argv]);
    return null;
  } catch (error: unknown) {
    return usageExitCode(error);
  }
}

void t.test('every command: an unknown option exits 2, --help exits 0', async (t) => {
  const all = leaves(buildProgram());
  t.ok(all.length > 20, `${all.length} commands`);
  for (const path of all) {
    t.equal(await exitOf([...path, '--no-such-option']), 2, `${path.join(' ')} --no-such-option`);
    t.equal(await exitOf([...path, '--help']), 0, `${path.join(' ')} --help`);
  }
  t.equal(await exitOf(['no-such-command']), 2, 'an unknown command');
  t.equal(await exitOf(['members', 'addLearner', 'n4']), 2, 'an unknown subcommand');
  t.equal(await exitOf(['sim', '--seed', 'abc']), 2);
  t.equal(await exitOf(['sim', '--nodes', '0']), 2);
  t.equal(await exitOf(['sim', '--profile', 'nasty']), 2);
  t.equal(await exitOf(['sim', '--duration', '5']), 2, 'a bare duration');
  t.equal(await exitOf(['start']), 2, 'start without --node');
});

void t.test('the -- before a command', async (t) => {
  t.ok(afterDoubleDash(['node', 'raftlock', 'lock', 'x', '--', 'sh', '-c', 'echo ok'], ['sh', '-c', 'echo ok']));
  t.notOk(
    afterDoubleDash(['node', 'raftlock', 'lock', 'x', 'sh', '-c', 'echo ok'], ['sh']),
    'no --: -c was taken as --config',
  );
  t.notOk(
    afterDoubleDash(['node', 'raftlock', 'lock', 'x', 'sh', '--', '-x'], ['sh', '-x']),
    'a -- inside the command is not the separator',
  );
});

void t.test('through the CLI', async (t) => {
  const cluster = await startCluster({ nodes: 1 });
  t.teardown(() => cluster.close());
  await cluster.waitForLeader();
  const endpoints = cluster.endpoints.map((e) => e.client).join(',');
  const pki = writeClientPki(t.testdir(), cluster.connectOptions());
  const env = { env: { RAFTLOCK_PKI: pki } };
  const [unknown, noNode, badHost, release, noDash, duration] = await Promise.all([
    runCli(['no-such-command']),
    runCli(['start']),
    runCli(['status', '-e', 'notahost']),
    runCli(['release', 'job1', '--session', '999999', '-e', endpoints], 60_000, env),
    runCli(['lock', 'backups', 'sh', '-c', 'echo ok', '-e', endpoints], 60_000, env),
    runCli(['sim', '--duration', '5']),
  ]);
  t.equal(unknown.code, 2, 'unknown command');
  t.equal(noNode.code, 2, 'start without --node');
  t.equal(badHost.code, 2, '-e notahost');
  t.match(badHost.stderr, /"notahost" is not HOST:PORT/);
  t.equal(release.code, 1, 'release with a session that holds nothing: refused (docs: exit 1)');
  t.match(release.stderr, /session 999999 does not hold job1/);
  t.equal(noDash.code, 2, 'lock without --');
  t.match(noDash.stderr, /put -- before the command/);
  t.notMatch(noDash.stdout, /ok/, 'the command never ran');
  t.equal(duration.code, 2);
  t.match(duration.stderr, /with a unit, like 500ms/);
});
