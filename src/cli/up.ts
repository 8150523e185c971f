import type { Command } from 'commander';
import { Option } from 'commander';
import { loadConfigForNodes } from './load-config.js';
import { Launcher } from '../server/launcher.js';
import { logLevels } from '../server/logger.js';

interface UpOptions {
  readonly config: string;
  readonly logLevel: string;
  readonly joining: boolean;
}

/**
 * `raftlock up [--config cluster.yml]`: every node of the file as a child process, until Ctrl-C.
 * Exit codes: 0 after a clean stop, 1 when every node exited on its own, 2 bad configuration.
 */
export async function runUp(options: UpOptions): Promise<number> {
  const config = await loadConfigForNodes(options.config);
  if (config === null) return 2;
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  const includeJoining = options.joining;
  const launcher = new Launcher({ config, logLevel: options.logLevel, includeJoining, out });
  let interrupted = false;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (): void => {
      if (interrupted) return;
      interrupted = true;
      out('stopping every node...');
      void launcher.stop().then(resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  out(`starting cluster ${config.cluster.id} from ${config.file}`);
  await launcher.start();
  if (!interrupted) {
    for (const node of config.nodes) {
      const client = `${node.client.host}:${node.client.port}`;
      const where = `clients ${client}, peers ${node.peer.host}:${node.peer.port}`;
      out(`  ${node.id}: ${where}, data ${node.dataDir}${node.join ? ' (joins later)' : ''}`);
    }
    const electionMs = config.timing.electionTicks * config.timing.tickMs * 10;
    const leader = await launcher.waitForLeader(Math.max(5000, electionMs));
    out(leader === null ? 'no leader elected yet' : `leader: ${leader}`);
    out('press Ctrl-C to stop the cluster');
  }
  await Promise.race([stopped, launcher.whenAllExited()]);
  if (interrupted) {
    await stopped;
    out('cluster stopped');
    return 0;
  }
  out('every node has exited');
  return 1;
}

export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('start every node of a cluster.yml as child processes; stop them all on Ctrl-C')
    .option('--config <file>', 'the cluster file', 'cluster.yml')
    .option('--joining', 'also start nodes marked join: true', false)
    .addOption(
      new Option('--log-level <level>', 'log level of every node')
        .choices(logLevels)
        .default('info'),
    )
    .action(async (options: UpOptions) => {
      process.exit(await runUp(options));
    });
}
