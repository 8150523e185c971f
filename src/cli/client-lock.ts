import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import type { ClusterOptions } from './client-common.js';
import { durationFlag } from './duration-flag.js';
import { action, CliExit, clusterOptions, exitCodes, openClient } from './client-common.js';

interface LockOptions extends ClusterOptions {
  readonly ttl: number;
  readonly wait: number;
}

/** How long a child gets after SIGTERM before SIGKILL, once the session is lost. */
const killGraceMs = 5_000;

/**
 * `raftlock lock NAME -- CMD ARGS…`: runs CMD while holding the mutex NAME, like flock(1). CMD
 * gets the fencing token in RAFTLOCK_FENCING_TOKEN (and the name in RAFTLOCK_LOCK). The lock is
 * released when CMD ends; if the session is lost first, CMD is sent SIGTERM (SIGKILL after 5 s).
 * Exits with CMD's exit code (128 + signal number if it died of a signal); 1 when the lock was
 * not granted within --wait.
 */
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
  const client = await openClient(options, { ttlMs: options.ttl });
  try {
    const lock = await client.lock(name, { waitMs: options.wait });
    const child = spawn(file, args, {
      stdio: 'inherit',
      env: {
        ...process.env,
        RAFTLOCK_FENCING_TOKEN: String(lock.fencingToken),
        RAFTLOCK_LOCK: name,
      },
    });
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    let killTimer: NodeJS.Timeout | null = null;
    const onLost = (): void => {
      const why = 'the session can no longer be guaranteed';
      process.stderr.write(`raftlock: lost the lock ${name} (${why}); stopping the command\n`);
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), killGraceMs);
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
