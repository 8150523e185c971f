import { Command, CommanderError } from 'commander';
import { registerCertsCommand } from './certs.js';
import { registerClientCommands } from './client-commands.js';
import { registerSimCommand } from './sim.js';
import { registerStartCommand } from './start.js';
import { registerUpCommand } from './up.js';
import { startedByNpm, stopWhenParentDies } from './parent-watch.js';

/** The `raftlock` command line; each subcommand lives in its own file under src/cli. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('raftlock')
    .description('A distributed lock service with its own Raft and a deterministic simulator')
    .version('0.1.0')
    .showHelpAfterError()
    // Every subcommand inherits this (commander copies it at .command()): a usage error throws a
    // CommanderError, which bin/raftlock.ts turns into exit 2 through usageExitCode.
    .exitOverride()
    .hook('preAction', (_program, command) => {
      // A node started by `raftlock up` (--stop-on-stdin-close) already stops when `up` dies,
      // through its stdin; a second stop request would make it exit at once, ungracefully.
      const hasLifeline = command.opts()['stopOnStdinClose'] === true;
      if (startedByNpm() && !hasLifeline) stopWhenParentDies();
    });
  registerSimCommand(program);
  registerStartCommand(program);
  registerUpCommand(program);
  registerClientCommands(program);
  registerCertsCommand(program);
  return program;
}

/**
 * The exit code of a CommanderError: help and version exit 0; every other one (unknown command or
 * option, missing or invalid argument) is bad usage, exit 2 (docs/cli.md, "Exit codes"; commander's
 * own 1 means "refused" here).
 */
export function usageExitCode(error: unknown): number | null {
  if (!(error instanceof CommanderError)) return null;
  return error.exitCode === 0 ? 0 : 2;
}
