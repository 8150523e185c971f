// Repeated rounds of the side-by-side benchmark: the ratio of one workload is taken within each
// round (the two systems measured minutes apart, not a whole run apart), then summarized by its
// median.
import type { WorkloadResult } from './workloads.js';

/** `workload` as labelled in round `round` of `rounds` (unchanged for a single round). */
export function roundLabel(workload: string, round: number, rounds: number): string {
  return rounds > 1 ? `${workload}, round ${round}` : workload;
}

/** A result and the round it was measured in. */
export interface RoundResult {
  readonly round: number;
  readonly result: WorkloadResult;
}

export interface RoundRatios {
  readonly workload: string;
  /** raftlock's rate over the baseline's, per round in which both have a rate. */
  readonly ratios: readonly number[];
  readonly median: number;
}

/**
 * Per workload (in first-seen order), the ratio of `backend`'s rate to `baseline`'s within each
 * round, and their median (the mean of the middle two for an even count). Rounds where either
 * side has no finite positive rate are left out; workloads without any such round are omitted.
 */
export function roundRatios(measured: readonly RoundResult[], backend: string, baseline: string): RoundRatios[] {
  const byWorkload = new Map<string, Map<number, { own?: number; base?: number }>>();
  for (const { round, result } of measured) {
    const rounds = byWorkload.get(result.workload) ?? new Map<number, { own?: number; base?: number }>();
    byWorkload.set(result.workload, rounds);
    const pair = rounds.get(round) ?? {};
    rounds.set(round, pair);
    if (result.backend === backend) pair.own = result.rate;
    else if (result.backend === baseline) pair.base = result.rate;
  }
  const out: RoundRatios[] = [];
  for (const [workload, rounds] of byWorkload) {
    const ratios = [...rounds.entries()]
      .sort(([a], [b]) => a - b)
      .flatMap(([, { own, base }]) =>
        own !== undefined && base !== undefined && Number.isFinite(own) && Number.isFinite(base) && own > 0 && base > 0 ? [own / base] : [],
      );
    if (ratios.length === 0) continue;
    const sorted = [...ratios].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    const median = sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
    out.push({ workload, ratios, median });
  }
  return out;
}
