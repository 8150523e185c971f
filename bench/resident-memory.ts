// The resident memory of a benchmark's server processes, read from /proc (Linux): the memory
// workload's figure for raftlock nodes, etcd members and ZooKeeper servers alike.
import { readFileSync } from 'node:fs';

/** Resident bytes of each named process; a process that has exited is left out. */
export function residentBytes(pids: Iterable<readonly [name: string, pid: number]>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, pid] of pids) {
    try {
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (kb !== null) out.set(name, Number(kb[1]) * 1024);
    } catch {
      // The process exited; it has no memory to report.
    }
  }
  return out;
}
