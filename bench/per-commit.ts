// What each process spends per commit over a measured window, the same way in bench/commit-cost.ts
// and bench/commit-floor.ts so that their figures stand side by side: CPU of every thread and of
// the main thread (bench/etcd/cpu.ts), and the main thread's wake-ups (bench/wakeups.ts), sampled
// at the window's edges.
import { mainThreadCpuSampler, procCpuSampler } from './etcd/cpu.js';
import { mainThreadWakeups } from './wakeups.js';

/** Counters of some processes at one moment, by pid (a process that could not be read is missing). */
type Counters = ReadonlyMap<number, number> | null;

/** The three counters of each process at one edge of the window. */
export interface ProcessSample {
  readonly cpu: Counters;
  readonly mainCpu: Counters;
  readonly wakeups: Counters;
}

const allThreads = procCpuSampler();
const mainThread = mainThreadCpuSampler();
const wakeups = mainThreadWakeups();

export function sampleProcesses(pids: readonly number[]): ProcessSample {
  return { cpu: allThreads(pids), mainCpu: mainThread(pids), wakeups: wakeups(pids) };
}

/** How much `pid`'s counter grew per commit between the samples; null without both samples. */
function grown(from: Counters, to: Counters, pid: number, commits: number): number | null {
  const a = from?.get(pid);
  const b = to?.get(pid);
  return a === undefined || b === undefined ? null : (b - a) / commits;
}

/** `pid`'s CPU µs per commit over the window (every thread), rounded; null without a figure. */
export function cpuPerCommit(from: ProcessSample, to: ProcessSample, pid: number, commits: number): number | null {
  const micros = grown(from.cpu, to.cpu, pid, commits);
  return micros === null ? null : Math.round(micros);
}

/** One process's line: CPU µs per commit [main thread], and the main thread's wake-ups per commit. */
export function perCommitLine(
  role: string,
  from: ProcessSample,
  to: ProcessSample,
  pid: number,
  commits: number,
): string {
  const text = (value: number | null, digits: number): string => (value === null ? '—' : value.toFixed(digits));
  const cpu = text(cpuPerCommit(from, to, pid, commits), 0);
  const main = text(grown(from.mainCpu, to.mainCpu, pid, commits), 0);
  const woken = text(grown(from.wakeups, to.wakeups, pid, commits), 1);
  return `  ${role}: CPU µs per commit ${cpu} [main thread ${main}], main-thread wake-ups per commit ${woken}`;
}

/**
 * The sum over the members (`pids`, the cluster's processes without the client) of their CPU µs
 * per commit, the figure the performance goal for a one-entry commit is stated in; a dash when any
 * member has no figure.
 */
export function membersLine(from: ProcessSample, to: ProcessSample, pids: readonly number[], commits: number): string {
  const each = pids.map((pid) => cpuPerCommit(from, to, pid, commits));
  const total = each.every((cpu) => cpu !== null) ? each.reduce<number>((sum, cpu) => sum + (cpu ?? 0), 0) : null;
  const count = pids.length === 3 ? 'three' : pids.length === 5 ? 'five' : String(pids.length);
  return `  the ${count} members: ${total ?? '—'} µs per commit`;
}
