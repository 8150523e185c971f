import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import type { Lock } from '../client/lock.js';
import { sessionId } from '../statemachine/ids.js';
import { errorOf } from '../client/answers.js';
import type { ClusterOptions } from './client-common.js';
import { durationFlag } from './duration-flag.js';
import {
  CliExit,
  action,
  clusterOptions,
  exitCodes,
  integerOption,
  openClient,
  print,
  sessionlessClient,
  toJson,
  untilStopped,
} from './client-common.js';

interface AcquireOptions extends ClusterOptions {
  readonly ttl: number;
  readonly wait: number;
  readonly hold?: boolean;
  readonly permits?: number;
  readonly mode?: 'read' | 'write';
}

/**
 * `raftlock acquire NAME`: takes a mutex (or a semaphore permit with --permits, or a read/write
 * hold with --mode) and prints the grant. With --hold it keeps the session alive until SIGINT or
 * SIGTERM, then releases (exit 4 if the session is lost first). Without --hold it exits at once
 * and leaves the session to expire: the hold lasts one TTL unless `raftlock release` ends it.
 */
async function runAcquire(name: string, options: AcquireOptions): Promise<number> {
  if (options.permits !== undefined && options.mode !== undefined) {
    throw new InvalidArgumentError('--permits and --mode do not combine');
  }
  const client = await openClient(options, { ttlMs: options.ttl });
  let lock: Lock;
  try {
    const acquire = { waitMs: options.wait };
    const permits = options.permits;
    if (permits !== undefined) lock = await client.semaphore(name, permits).acquire(acquire);
    else if (options.mode === 'read') lock = await client.rwlock(name).read(acquire);
    else if (options.mode === 'write') lock = await client.rwlock(name).write(acquire);
    else lock = await client.lock(name, acquire);
  } catch (error: unknown) {
    await client.close();
    throw error;
  }
  const token = lock.fencingToken;
  const grant = { name, kind: lock.kind, token, session: lock.session, ttlMs: options.ttl };
  if (options.json === true) print(toJson(grant));
  else print(`${name} token ${lock.fencingToken} session ${lock.session}`);
  if (options.hold !== true) {
    // Leave the session running out on the cluster: the hold outlives this process by one TTL.
    client.abandon();
    return exitCodes.ok;
  }
  const how = await untilStopped(lock.signal);
  if (how === 'aborted') {
    process.stderr.write(`raftlock: lost ${name}: the session can no longer be guaranteed\n`);
    client.abandon();
    return exitCodes.sessionLost;
  }
  await lock.release().catch(() => undefined);
  await client.close();
  return exitCodes.ok;
}

interface ReleaseOptions extends ClusterOptions {
  readonly session: number;
}

/** `raftlock release NAME --session S`: ends session S's hold on NAME (as printed by acquire). */
async function runRelease(name: string, options: ReleaseOptions): Promise<number> {
  const { client } = await sessionlessClient(options);
  try {
    const session = sessionId(options.session);
    const result = await client.command({ type: 'release', session, name });
    if (result.code === 'SESSION_EXPIRED') {
      // Exit 4 means "our own session was lost while holding"; an unknown or ended session given
      // here simply does not hold NAME (docs/cli.md: exit 1).
      throw new CliExit(exitCodes.refused, `session ${options.session} does not hold ${name} (${result.message})`);
    }
    if (result.code !== 'OK') throw errorOf(result);
    if (options.json === true) print(toJson({ released: name, session: options.session }));
    else print(`released ${name}`);
    return exitCodes.ok;
  } finally {
    client.abandon();
  }
}

export function registerAcquireCommands(program: Command): void {
  clusterOptions(
    program
      .command('acquire')
      .description('take a lock and print its fencing token and session (see --hold)')
      .argument('<name>', 'lock name')
      .addOption(durationFlag('--ttl <duration>', 'session TTL (a hold outlives us by it)', 15_000))
      .addOption(durationFlag('--wait <duration>', 'queue wait (0s: fail if taken)', 30_000))
      .option('--hold', 'keep holding until SIGINT/SIGTERM, then release')
      .option('--permits <n>', 'take a permit of a semaphore with this many permits', integerOption)
      .addOption(new Option('--mode <mode>', 'read/write lock mode').choices(['read', 'write'])),
    true,
  ).action(action(runAcquire));
  clusterOptions(
    program
      .command('release')
      .description('release a hold taken by `raftlock acquire` (any lock kind)')
      .argument('<name>', 'lock name')
      .requiredOption('--session <id>', 'the session printed by acquire', integerOption),
    true,
  ).action(action(runRelease));
}
