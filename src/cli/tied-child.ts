/**
 * A command that cannot outlive the process that runs it under a lock (`raftlock lock -- CMD`):
 * if that process dies by any means — SIGKILL and the OOM killer included, where no handler of
 * ours runs — CMD is killed at once, long before the cluster could expire the session and grant
 * the lock to someone else.
 *
 * How: CMD is started through `sh`, which forks a tiny watchdog and then execs CMD (so CMD keeps
 * the pid we spawned, its exit code and its signals). The watchdog blocks reading fd 3, a socket
 * whose other end only this process holds. The kernel closes that end when this process dies,
 * however it dies; the read then ends without a line and the watchdog SIGKILLs CMD. On a normal
 * end we write a line first, which disarms it. Chosen over a watchdog polling for our pid (late
 * by its interval, and fooled by pid reuse) and over prctl's parent-death signal (not reachable
 * from Node): all it relies on is the kernel closing a dead process's descriptors, which no way
 * of dying escapes.
 *
 * Without a terminal on stdin, CMD leads its own process group (spawned detached) and the
 * watchdog, a member of that group, kills the whole group: CMD and everything it started. With a
 * terminal on stdin, CMD stays in the terminal's foreground group so that it can read the
 * terminal and gets Ctrl-C and Ctrl-Z itself; the watchdog then kills CMD alone (as
 * `timeout --foreground` does), since the group is the user's whole job.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';

export interface TiedChild {
  readonly child: ChildProcess;
  /** Whether CMD leads its own process group (then `signal` reaches everything it started). */
  readonly ownGroup: boolean;
  /** Sends `signal` to CMD's process group when it has its own, else to CMD. */
  signal(signal: NodeJS.Signals): void;
  /** Disarms the watchdog once CMD has ended on its own: its leftovers are its own business. */
  disarm(): void;
}

/**
 * The watchdog's target: `0` is its own process group, which is CMD's when CMD leads one (POSIX
 * `kill 0`; dash's kill takes no negative pid); `$$` is CMD alone (exec'd as the shell's pid).
 */
function wrapperScript(ownGroup: boolean): string {
  const target = ownGroup ? '0' : '$$';
  return [
    // In the background, immune to the signals a terminal or our forwarding send the job: only
    // the end of fd 3 without a line (our death) makes it act.
    `( trap '' INT TERM HUP QUIT; read _ <&3 || kill -KILL ${target} ) </dev/null >/dev/null 2>&1 &`,
    // CMD does not inherit the watchdog's socket.
    'exec "$@" 3<&-',
  ].join('\n');
}

export function spawnTied(file: string, args: readonly string[], env: NodeJS.ProcessEnv): TiedChild {
  const ownGroup = process.stdin.isTTY !== true;
  const child = spawn('/bin/sh', ['-c', wrapperScript(ownGroup), 'raftlock lock', file, ...args], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    detached: ownGroup,
    env,
  });
  const lifeline = child.stdio[3] as Socket | null;
  // Never read; a write error only means the watchdog is already gone.
  lifeline?.on('error', () => undefined);
  const signal = (name: NodeJS.Signals): void => {
    const pid = child.pid;
    if (pid === undefined) return;
    try {
      process.kill(ownGroup ? -pid : pid, name);
    } catch {
      // Already gone (ESRCH): nothing left to signal.
    }
  };
  let disarmed = false;
  return {
    child,
    ownGroup,
    signal,
    disarm: () => {
      if (disarmed || lifeline === null) return;
      disarmed = true;
      lifeline.end('done\n');
      lifeline.unref();
    },
  };
}
