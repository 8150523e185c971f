// How often a process's main thread went to sleep and was woken again: the voluntary context
// switches in /proc/<pid>/task/<pid>/status. At one commit in flight every message, fsync
// completion and timer that finds the thread idle costs one, so per commit they count the wake-ups
// a commit pays for (bench/commit-cost.ts).
import { existsSync, readFileSync } from 'node:fs';
import { readEach } from './etcd/cpu.js';

/** Voluntary context switches of each process's main thread; a process that exited is missing. */
export type WakeupSample = ReadonlyMap<number, number>;

/** The `voluntary_ctxt_switches` line of a /proc status file; null when it has none. */
export function parseVoluntarySwitches(status: string): number | null {
  const match = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status);
  return match === null ? null : Number(match[1]);
}

/** Samples the given processes' main threads; null when this machine has no /proc to read. */
export function mainThreadWakeups(
  readStatus: (pid: number) => string = (pid) => readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8'),
  hasProc: boolean = existsSync('/proc/self/status'),
): (pids: readonly number[]) => WakeupSample | null {
  return (pids) => (hasProc ? readEach(pids, readStatus, parseVoluntarySwitches) : null);
}
