// Server CPU per operation: the user + system time of every member process of a cluster, read
// from /proc/<pid>/stat at the two edges of a workload's measured window, summed over the members
// and divided by the operations that completed in the window. The same accounting for raftlock's
// node processes and etcd's members, so the efficiency ratio is measured, not estimated. Linux
// only; elsewhere every figure is null and the table prints "—".
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** utime and stime of one process (fields 14 and 15 of /proc/<pid>/stat), in clock ticks. */
export interface ProcCpuTicks {
  readonly utime: number;
  readonly stime: number;
}

/**
 * Parses a /proc/<pid>/stat line. Field 2, the command name, is in parentheses and may itself
 * contain spaces and parentheses, so the fields are counted from after its last ')': field 3
 * (the state) is the first there, which puts utime and stime at offsets 11 and 12.
 */
export function parseProcStat(text: string): ProcCpuTicks {
  const close = text.lastIndexOf(')');
  const fields =
    close < 0
      ? []
      : text
          .slice(close + 1)
          .trim()
          .split(/\s+/);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime) || utime < 0 || stime < 0) {
    throw new Error(
      `not a /proc/<pid>/stat line (no utime/stime in fields 14-15): ${JSON.stringify(text.slice(0, 120))}`,
    );
  }
  return { utime, stime };
}

/** Clock ticks per second of /proc's CPU times (the kernel's USER_HZ), or null when unknown. */
export function clockTicksPerSecond(): number | null {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(ticks) && ticks > 0 ? ticks : null;
  } catch {
    return null;
  }
}

/** CPU used so far by each process, in µs of user + system time, keyed by PID. */
export type CpuSample = ReadonlyMap<number, number>;

/** Samples the CPU of the given processes; null when this machine has no /proc to read. */
export type CpuSampler = (pids: readonly number[]) => CpuSample | null;

/**
 * A sampler over `/proc/<pid>/stat` (every thread of the process: /proc sums them). `readStat` and
 * `ticksPerSecond` are parameters so that the parsing and the arithmetic can be checked on
 * known lines; a process that cannot be read (it exited) is missing from the sample.
 */
export function procCpuSampler(
  readStat: (pid: number) => string = (pid) => readFileSync(`/proc/${pid}/stat`, 'utf8'),
  ticksPerSecond: number | null = existsSync('/proc/self/stat') ? clockTicksPerSecond() : null,
): CpuSampler {
  return (pids) => {
    if (ticksPerSecond === null) return null;
    return readEach(pids, readStat, (text) => {
      const { utime, stime } = parseProcStat(text);
      return ((utime + stime) * 1_000_000) / ticksPerSecond;
    });
  };
}

/**
 * One figure per process: `read(pid)` (a /proc file), made a number by `value`. A process that
 * cannot be read (it exited), or whose text holds no figure (null), is missing from the sample.
 */
export function readEach(
  pids: readonly number[],
  read: (pid: number) => string,
  value: (text: string) => number | null,
): Map<number, number> {
  const sample = new Map<number, number>();
  for (const pid of pids) {
    let text: string;
    try {
      text = read(pid);
    } catch {
      continue;
    }
    const figure = value(text);
    if (figure !== null) sample.set(pid, figure);
  }
  return sample;
}

/**
 * A sampler of each process's main thread alone (`/proc/<pid>/task/<pid>/stat`), where its
 * JavaScript runs; the rest of a Node.js process is libuv's pool and V8's helper threads.
 */
export function mainThreadCpuSampler(): CpuSampler {
  return procCpuSampler((pid) => readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8'));
}

/**
 * The CPU every process used between two samples, in µs, or null when the two samples do not hold
 * the same processes: a member that was killed or restarted in between (failover) has no delta.
 */
export function cpuMicrosBetween(from: CpuSample | null, to: CpuSample | null): number | null {
  if (from === null || to === null || from.size === 0 || from.size !== to.size) return null;
  let total = 0;
  for (const [pid, before] of from) {
    const after = to.get(pid);
    if (after === undefined || after < before) return null;
    total += after - before;
  }
  return total;
}

/** µs of server CPU per operation; null without a measurement or without operations. */
export function microsPerOp(totalMicros: number | null, ops: number): number | null {
  return totalMicros === null || !(ops > 0) ? null : totalMicros / ops;
}

/** The member processes of one cluster under test, sampled together. */
export interface ServerCpu {
  /** The PIDs of the cluster's running member processes. */
  readonly pids: () => readonly number[];
  readonly sampler: CpuSampler;
}

/** One sample of a cluster's members now; null when there is no cluster or no /proc. */
export function sampleServers(servers: ServerCpu | undefined): CpuSample | null {
  return servers === undefined ? null : servers.sampler(servers.pids());
}

/**
 * Samples a cluster's CPU at the edges of a measured window that opens `openAfterMs` from now and
 * lasts `durationMs`. `finish` returns the µs between the edges; an edge whose timer has not
 * fired yet (the last operation came back in the same turn as the deadline) is sampled then.
 */
export function cpuOverWindow(
  servers: ServerCpu | undefined,
  openAfterMs: number,
  durationMs: number,
): { finish(): number | null } {
  if (servers === undefined) return { finish: () => null };
  let from: CpuSample | null | undefined;
  let to: CpuSample | null | undefined;
  const opening = setTimeout(() => {
    from = sampleServers(servers);
  }, openAfterMs);
  const closing = setTimeout(() => {
    to = sampleServers(servers);
  }, openAfterMs + durationMs);
  return {
    finish: () => {
      clearTimeout(opening);
      clearTimeout(closing);
      from ??= sampleServers(servers);
      to ??= sampleServers(servers);
      return cpuMicrosBetween(from, to);
    },
  };
}
