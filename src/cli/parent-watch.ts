/**
 * `npx raftlock …` (how the README runs every command) starts raftlock as a grandchild of npm:
 * `npm exec` runs `sh -c raftlock …`, relays a SIGTERM or SIGINT it receives to that shell, the
 * shell dies of it, and the signal never reaches raftlock: `up` and its nodes, a held lock or a
 * watch ran on as orphans. What does reach raftlock is the shell's death: it is re-parented. So,
 * when npm started it, raftlock polls its parent pid and, once it changes, sends itself SIGTERM:
 * every command then stops exactly as on SIGTERM (releases what it holds, stops its children,
 * exits), through the one code path that handles it.
 *
 * Only under npm (npm sets `npm_command` for what it runs): run directly — an installed
 * `raftlock`, a systemd unit, `setsid raftlock start … &` — signals reach raftlock, and a process
 * meant to outlive the shell that started it must not stop when that shell exits.
 */
import { readFileSync } from 'node:fs';

/** How often the parent is checked: the delay between the parent's death and our SIGTERM. */
export const parentPollMs = 200;

/** Whether npm (npx, npm exec, npm run) started this process. */
export function startedByNpm(env: NodeJS.ProcessEnv = process.env): boolean {
  return env['npm_command'] !== undefined;
}

/** The parent pid of `pid` from /proc (Linux); null where it cannot be read. */
function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isSafeInteger(ppid) ? ppid : null;
  } catch {
    return null;
  }
}

/**
 * Sends this process SIGTERM once its parent is gone (its parent pid changed), or its parent's
 * parent where /proc shows it: npm itself, killed (SIGKILL) with no chance to relay anything,
 * leaves the shell between us alive and re-parented. Returns a function that stops watching.
 * The poll does not keep the process alive.
 */
export function stopWhenParentDies(pollMs: number = parentPollMs): () => void {
  const parent = process.ppid;
  // Already orphaned before we looked (or started by init): there is no parent to lose.
  if (parent <= 1) return () => undefined;
  const grandparent = parentOf(parent);
  const watchGrandparent = grandparent !== null && grandparent > 1;
  const timer = setInterval(() => {
    const orphaned = process.ppid !== parent || (watchGrandparent && parentOf(parent) !== grandparent);
    if (!orphaned) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, pollMs);
  timer.unref();
  return () => clearInterval(timer);
}
