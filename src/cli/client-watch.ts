import type { Command } from 'commander';
import type { WatchEvent } from '../statemachine/results.js';
import type { ClusterOptions } from './client-common.js';
import {
  action,
  clusterOptions,
  integerOption,
  print,
  sessionlessClient,
  showBytes,
  streamUntilStopped,
  toJson,
} from './client-common.js';

interface WatchOptions extends ClusterOptions {
  readonly fromIndex: number;
}

function describeEvent(event: WatchEvent): string {
  switch (event.type) {
    case 'put':
      return `${event.index} put ${event.key} v${event.version} ${showBytes(event.value)}`;
    case 'delete':
      return `${event.index} delete ${event.key}`;
    case 'grant':
      return `${event.index} grant ${event.lock} session ${event.session} token ${event.token}`;
    case 'release':
      return `${event.index} release ${event.lock} session ${event.session}`;
    case 'leader':
      return (
        `${event.index} leader ${event.lock} session ${event.session} token ${event.token} ` + showBytes(event.value)
      );
  }
}

/**
 * `raftlock watch PREFIX`: prints every event on names starting with PREFIX, one per line, until
 * SIGINT/SIGTERM (exit 0). Resumes across reconnections; exit 1 when the history is compacted.
 */
async function runWatch(prefix: string, options: WatchOptions): Promise<number> {
  const { client } = await sessionlessClient(options);
  const stream = client.watch(prefix, { fromIndex: options.fromIndex });
  const stop = (): void => {
    void stream.return();
  };
  // The reader went away (`raftlock watch p | head -5`): stop quietly, as a pipeline expects.
  const closed = (error: NodeJS.ErrnoException): void => {
    if (error.code === 'EPIPE') stop();
  };
  process.stdout.on('error', closed);
  return streamUntilStopped(client, stop, async () => {
    for await (const event of stream) {
      if (process.stdout.destroyed) break;
      print(options.json === true ? toJson(event) : describeEvent(event));
    }
  });
}

export function registerWatchCommand(program: Command): void {
  clusterOptions(
    program
      .command('watch')
      .description('print put/delete/grant/release/leader events on names starting with PREFIX')
      .argument('<prefix>', "name prefix ('' for everything)")
      .option('--from-index <n>', 'first replay the events after this log index', integerOption, 0),
    true,
  ).action(action(runWatch));
}
