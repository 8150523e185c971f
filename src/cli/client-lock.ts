import type { Command } from 'commander';
import type { ClusterOptions } from './client-common.js';
import { durationFlag } from './duration-flag.js';
import { spawnTied } from './tied-child.js';
import { action, CliExit, clusterOptions, exitCodes, openClient } from './client-common.js';

interface LockOptions extends ClusterOptions {
  readonly ttl: number;
  readonly wait: number;
}

/**
 * The session trust the lock command runs with: it treats its session as lost once 80% of the TTL
 * has passed without an acknowledged keepalive (driftMax 0.1 instead of the library's 0.01), which
 * leaves CMD time to stop before the cluster could expire the session (src/client/session.ts:
 * safe until sentAt + ttl × (1 − 2 × driftMax)).
 */
export const lockDriftMax = 0.1;
/** The clock-rate bound the cluster's expiry is actually guarded by (the library default). */
const clockDriftMax = 0.01;

/**
 * How long CMD gets between SIGTERM and SIGKILL once the session is lost: half of what the lock
 * command's wider margin adds beyond the clock-drift guard, ttl × (lockDriftMax − clockDriftMax)
 * (1.35 s for a 15 s TTL, 180 ms for 2 s), so that CMD is dead before the server could expire the
 * session and grant the lock to another holder, the other half being room for the kill itself.
 */
export function killGraceMs(ttlMs: number): number {
  return Math.floor(ttlMs * (lockDriftMax - clockDriftMax));
}

async function runLock(name: string, argv: string[], options: LockOptions): Promise<number> {
  const [file, ...args] = argv;
  if (file === undefined) return exitCodes.usage;
  if (!afterDoubleDash(process.argv, argv)) {
    // Without `--`, the command's own options are read as raftlock's (`sh -c …` as --config).
    throw new CliExit(
      exitCodes.usage,
      `put -- before the command, so that its options stay its own: raftlock lock ${name} [options] -- ${argv.join(' ')} …`,
    );
  }
  const client = await openClient(options, { ttlMs: options.ttl, driftMax: lockDriftMax });
  try {
    const lock = await client.lock(name, { waitMs: options.wait });
    const tied = spawnTied(file, args, {
      ...process.env,
      RAFTLOCK_FENCING_TOKEN: String(lock.fencingToken),
      RAFTLOCK_LOCK: name,
    });
    const child = tied.child;
    const forward = (signal: NodeJS.Signals): void => tied.signal(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    let killTimer: NodeJS.Timeout | null = null;
    const onLost = (): void => {
      const why = 'the session can no longer be guaranteed';
      process.stderr.write(`raftlock: lost the lock ${name} (${why}); stopping the command\n`);
      tied.signal('SIGTERM');
      killTimer = setTimeout(() => tied.signal('SIGKILL'), killGraceMs(options.ttl));
    };
    lock.signal.addEventListener('abort', onLost, { once: true });
    const code = await new Promise<number>((resolve) => {
      child.on('error', (error) => {
        process.stderr.write(`raftlock: cannot run ${file}: ${error.message}\n`);
        resolve(127);
      });
      child.on('exit', (exitCode, signal) => {
        resolve(exitCode ?? 128 + (signal === null ? 0 : signalNumber(signal)));
      });
    });
    tied.disarm();
    lock.signal.removeEventListener('abort', onLost);
    if (killTimer !== null) clearTimeout(killTimer);
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
    await lock.release().catch(() => undefined);
    return code;
  } finally {
    await client.close();
  }
}

/** Whether `command` is exactly what follows the first `--` of the raw arguments. */
export function afterDoubleDash(raw: readonly string[], command: readonly string[]): boolean {
  const at = raw.indexOf('--');
  if (at < 0) return false;
  const rest = raw.slice(at + 1);
  return rest.length === command.length && rest.every((word, i) => word === command[i]);
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Readonly<Record<string, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGKILL: 9,
    SIGTERM: 15,
  };
  return numbers[signal] ?? 0;
}

export function registerLockCommand(program: Command): void {
  clusterOptions(
    program
      .command('lock')
      .description('run a command holding a lock (fencing token in RAFTLOCK_FENCING_TOKEN)')
      .argument('<name>', 'lock name')
      .argument('<command...>', 'the command and its arguments (after --)')
      .addOption(durationFlag('--ttl <duration>', 'session TTL', 15_000))
      .addOption(durationFlag('--wait <duration>', 'how long to wait for the lock', 30_000)),
    false,
  ).action(action(runLock));
}
