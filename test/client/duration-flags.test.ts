// One rule for every duration on the command line, as in cluster.yml: a unit is required. A bare
// number is refused with a message that says to add one: exit 2 for every raftlock command (each
// duration option of the whole command tree), and the chaos run's usage exit for its --duration.
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CommanderError } from 'commander';
import { buildProgram, usageExitCode } from '../../src/cli/program.js';
import { checkDuration } from '../../src/cli/duration-flag.js';
import { packageRoot } from '../../src/server/cli-command.js';
import { runCli } from './fixtures/cli.js';

const noUnit = /"5" has no unit: add one, like 5s or 5ms/;

/** Every [command path, duration flag] of the CLI: the options whose value is a `<duration>`. */
function durationOptions(command: Command, path: string[] = []): [string[], string][] {
  const own = command.options
    .filter((option) => option.long !== undefined && /<(duration|d)>/.test(option.flags))
    .map((option): [string[], string] => [path, option.long ?? '']);
  return [...own, ...command.commands.flatMap((sub) => durationOptions(sub, [...path, sub.name()]))];
}

function quiet(command: Command): void {
  command.configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  for (const sub of command.commands) quiet(sub);
}

void t.test('the rule: a unit is required', async (t) => {
  t.same(checkDuration('1.5s'), { ok: true, value: 1500 });
  t.same(checkDuration(' 2m '), { ok: true, value: 120_000 });
  t.match(checkDuration('5'), { ok: false, error: noUnit });
  t.match(checkDuration('0.5'), { ok: false, error: /has no unit/ });
  t.match(checkDuration('5 parsecs'), { ok: false, error: /unknown duration unit "parsecs"/ });
});

void t.test('every duration option of every command refuses a bare number: exit 2, add a unit', async (t) => {
  const options = durationOptions(buildProgram());
  const named = options.map(([path, flag]) => `${path.join(' ')} ${flag}`);
  for (const expected of [
    'lock --wait',
    'lock --ttl',
    'acquire --wait',
    'elect --ttl',
    'sim --duration',
    'status --timeout',
  ]) {
    t.ok(named.includes(expected), `${expected} is among them`);
  }
  for (const [path, flag] of options) {
    const program = buildProgram();
    quiet(program);
    const refused = await program.parseAsync(['node', 'raftlock', ...path, flag, '5']).then(
      () => null,
      (error: unknown) => error,
    );
    t.ok(refused instanceof CommanderError, `${path.join(' ')} ${flag} 5 is refused`);
    t.equal(usageExitCode(refused), 2, `${path.join(' ')} ${flag} 5: exit 2`);
    t.match(refused instanceof Error ? refused.message : '', noUnit, `${path.join(' ')} ${flag} 5: says to add a unit`);
  }
});

void t.test('through the CLI and the chaos run', async (t) => {
  const lock = await runCli(['lock', 'job', '--wait', '5', '--', process.execPath, '-e', '0']);
  t.equal(lock.code, 2, lock.stderr);
  t.match(lock.stderr, noUnit);
  const root = packageRoot();
  const args = ['--import', import.meta.resolve('tsx'), join(root, 'src', 'chaos', 'run.ts'), '--duration', '5'];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  // The chaos run's usage exit is 64 (docs/chaos.md): its 2 already means "the checker hit its bound".
  t.equal(code, 64, 'refused before any node starts');
  t.match(stderr, /chaos: --duration: "5" has no unit: add one, like 5s or 5ms/);
});
