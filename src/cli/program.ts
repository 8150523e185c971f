import { Command } from 'commander';
import { registerCertsCommand } from './certs.js';
import { registerClientCommands } from './client-commands.js';
import { registerSimCommand } from './sim.js';
import { registerStartCommand } from './start.js';
import { registerUpCommand } from './up.js';

/** The `raftlock` command line; each subcommand lives in its own file under src/cli. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('raftlock')
    .description('A distributed lock service with its own Raft and a deterministic simulator')
    .version('0.1.0')
    .showHelpAfterError();
  registerSimCommand(program);
  registerStartCommand(program);
  registerUpCommand(program);
  registerClientCommands(program);
  registerCertsCommand(program);
  return program;
}
