// Repeated rounds of the side-by-side benchmark: a ratio of one workload is taken within each
// round (the two rows measured minutes apart, not a whole run apart), then summarized by its
// median. The compared rows are named by backend and transport, so the same code gives
// raftlock/etcd on either transport and each system's TLS/plain.
import { ratio } from './table.js';
import type { BenchRow } from './table.js';

/** `workload` as labelled in round `round` of `rounds` (unchanged for a single round). */
export function roundLabel(workload: string, round: number, rounds: number): string {
  return rounds > 1 ? `${workload}, round ${round}` : workload;
}

/** A result and the round it was measured in. */
export interface RoundResult {
  readonly round: number;
  readonly result: BenchRow;
}

/** Which rows of a workload: one backend on one transport. */
export interface RowKey {
  readonly backend: string;
  readonly tls: boolean;
}

/** What is compared: the rate, or the server CPU per operation. */
export type RatioMetric = 'rate' | 'cpu';

export interface RoundRatios {
  readonly workload: string;
  /** The `own` row's metric over the `base` row's, per round in which both have one. */
  readonly ratios: readonly number[];
  readonly median: number;
}

const metricOf = (row: BenchRow, metric: RatioMetric): number | null =>
  metric === 'rate' ? row.rate : row.serverCpuMicrosPerOp;

const matches = (row: BenchRow, key: RowKey): boolean => row.backend === key.backend && row.tls === key.tls;

/**
 * Per workload (in first-seen order), the ratio of the `own` row's metric to the `base` row's
 * within each round, and their median (the mean of the middle two for an even count). Rounds where
 * either side has no finite positive figure are left out; workloads without any such round are
 * omitted.
 */
export function roundRatios(
  measured: readonly RoundResult[],
  own: RowKey,
  base: RowKey,
  metric: RatioMetric = 'rate',
): RoundRatios[] {
  const byWorkload = new Map<string, Map<number, { own?: number | null; base?: number | null }>>();
  for (const { round, result } of measured) {
    const rounds = byWorkload.get(result.workload) ?? new Map<number, { own?: number | null; base?: number | null }>();
    byWorkload.set(result.workload, rounds);
    const pair = rounds.get(round) ?? {};
    rounds.set(round, pair);
    if (matches(result, own)) pair.own = metricOf(result, metric);
    else if (matches(result, base)) pair.base = metricOf(result, metric);
  }
  const out: RoundRatios[] = [];
  for (const [workload, rounds] of byWorkload) {
    const ratios = [...rounds.entries()]
      .sort(([a], [b]) => a - b)
      .flatMap(([, pair]) => {
        const r = ratio(pair.own ?? null, pair.base ?? null);
        return r !== null && r > 0 ? [r] : [];
      });
    if (ratios.length === 0) continue;
    const sorted = [...ratios].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    const median =
      sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
    out.push({ workload, ratios, median });
  }
  return out;
}
