import type { Command } from 'commander';
import type { ClusterOptions } from './client-common.js';
import { durationFlag } from './duration-flag.js';
import {
  action,
  CliExit,
  clusterOptions,
  exitCodes,
  openClient,
  print,
  sessionlessClient,
  showBytes,
  streamUntilStopped,
  toJson,
  untilStopped,
} from './client-common.js';

interface ElectOptions extends ClusterOptions {
  readonly ttl: number;
  readonly wait: number;
  readonly observe?: boolean;
}

/**
 * `raftlock elect NAME VALUE`: campaigns, prints the leadership once won, holds it until SIGINT or
 * SIGTERM and then resigns (exit 4 if the session is lost first). `--observe` prints the leader
 * and every change instead of campaigning.
 */
async function runElect(name: string, value: string | undefined, options: ElectOptions): Promise<number> {
  if (options.observe === true) return observe(name, options);
  if (value === undefined) {
    throw new CliExit(exitCodes.usage, 'elect needs a VALUE to campaign with (or --observe)');
  }
  const client = await openClient(options, { ttlMs: options.ttl });
  try {
    const leadership = await client.election(name).campaign(value, { waitMs: options.wait });
    const won = { name, value, token: leadership.token, session: leadership.lock.session };
    if (options.json === true) print(toJson(won));
    else print(`leader of ${name}: ${value} (token ${leadership.token})`);
    const how = await untilStopped(leadership.lock.signal);
    if (how === 'aborted') {
      const why = 'the session can no longer be guaranteed';
      process.stderr.write(`raftlock: lost the leadership of ${name}: ${why}\n`);
      return exitCodes.sessionLost;
    }
    await leadership.resign().catch(() => undefined);
    return exitCodes.ok;
  } finally {
    await client.close();
  }
}

async function observe(name: string, options: ElectOptions): Promise<number> {
  const { client } = await sessionlessClient(options);
  const controller = new AbortController();
  const changes = client.election(name).observe({ signal: controller.signal });
  return streamUntilStopped(
    client,
    () => controller.abort(),
    async () => {
      for await (const view of changes) {
        if (options.json === true) print(toJson({ name, leader: view }));
        else if (view === null) print(`${name}: no leader`);
        else {
          const holder = `session ${view.session}, token ${view.token}`;
          print(`${name}: ${showBytes(view.value)} (${holder})`);
        }
      }
    },
  );
}

export function registerElectCommand(program: Command): void {
  clusterOptions(
    program
      .command('elect')
      .description('campaign for NAME with VALUE and hold the leadership until stopped')
      .argument('<name>', 'election name')
      .argument('[value]', 'the value to lead with')
      .option('--observe', 'print the leader and every change instead of campaigning')
      .addOption(durationFlag('--ttl <duration>', 'session TTL', 15_000))
      .addOption(durationFlag('--wait <duration>', 'how long to wait to be elected', 86_400_000)),
    true,
  ).action(action(runElect));
}
