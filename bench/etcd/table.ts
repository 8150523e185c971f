// The benchmark's table: one row per workload, backend and transport (plain or TLS), with the
// rate, latency percentiles, errors, the server CPU per operation, and the ratios that answer the
// two questions the benchmark is for: how raftlock compares with each baseline (etcd, ZooKeeper) on the same
// transport, and what TLS costs each system (the TLS row over the same system's plain row).
import type { WorkloadResult } from './workloads.js';

/** A measured row and whether both the cluster's ports and its clients used TLS. */
export type BenchRow = WorkloadResult & { readonly tls: boolean };

const num = (n: number, digits = 0): string =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '—';

/** `a / b` when both are finite and b is positive; otherwise null (nothing to compare). */
export function ratio(a: number | null, b: number | null): number | null {
  return a !== null && b !== null && Number.isFinite(a) && Number.isFinite(b) && a >= 0 && b > 0 ? a / b : null;
}

/** The row of `backend` on the same workload with TLS `tls`, if measured. */
function find(rows: readonly BenchRow[], workload: string, backend: string, tls: boolean): BenchRow | undefined {
  return rows.find((r) => r.workload === workload && r.backend === backend && r.tls === tls);
}

/** The ratios shown beside one row; null where the row has nothing to be compared with. */
export interface RowRatios {
  /** This row's rate over the baseline's on the same transport (not for the baseline's own rows). */
  readonly rateOverBaseline: number | null;
  /** This row's server CPU per operation over the baseline's on the same transport. */
  readonly cpuOverBaseline: number | null;
  /** A TLS row's rate over the same backend's plain row. */
  readonly rateTlsOverPlain: number | null;
  /** A TLS row's server CPU per operation over the same backend's plain row. */
  readonly cpuTlsOverPlain: number | null;
}

export function rowRatios(rows: readonly BenchRow[], r: BenchRow, baseline: string): RowRatios {
  const base = r.backend === baseline ? undefined : find(rows, r.workload, baseline, r.tls);
  const plain = r.tls ? find(rows, r.workload, r.backend, false) : undefined;
  return {
    rateOverBaseline: base === undefined ? null : ratio(r.rate, base.rate),
    cpuOverBaseline: base === undefined ? null : ratio(r.serverCpuMicrosPerOp, base.serverCpuMicrosPerOp),
    rateTlsOverPlain: plain === undefined ? null : ratio(r.rate, plain.rate),
    cpuTlsOverPlain: plain === undefined ? null : ratio(r.serverCpuMicrosPerOp, plain.serverCpuMicrosPerOp),
  };
}

const times = (x: number | null): string => (x === null ? '—' : `${num(x, 2)}×`);

/**
 * The table. `baselines` are the systems raftlock is compared with (etcd, ZooKeeper): each has a
 * rate and a CPU ratio column, filled on the rows of the other systems (a baseline is not compared
 * with another baseline). Ratio columns with no value in any row are left out (a run of one
 * system, or without TLS rows, has nothing to compare), so a raftlock-only plain run shows no
 * ratio columns at all.
 */
export function formatTable(results: readonly BenchRow[], baselines: string | readonly string[] = 'etcd'): string {
  const bases: readonly string[] = typeof baselines === 'string' ? [baselines] : baselines;
  const overBaseline = (
    r: BenchRow,
    baseline: string,
    metric: 'rateOverBaseline' | 'cpuOverBaseline',
  ): number | null => (bases.includes(r.backend) ? null : rowRatios(results, r, baseline)[metric]);
  const overPlain = (r: BenchRow, metric: 'rateTlsOverPlain' | 'cpuTlsOverPlain'): number | null =>
    rowRatios(results, r, bases[0] ?? '')[metric];
  type RatioColumn = { readonly header: string; readonly cell: (r: BenchRow) => number | null };
  const allRatioColumns: readonly RatioColumn[] = [
    ...bases.flatMap((b): RatioColumn[] => [
      { header: `rate /${b}`, cell: (r) => overBaseline(r, b, 'rateOverBaseline') },
      { header: `CPU /${b}`, cell: (r) => overBaseline(r, b, 'cpuOverBaseline') },
    ]),
    { header: 'rate TLS/plain', cell: (r) => overPlain(r, 'rateTlsOverPlain') },
    { header: 'CPU TLS/plain', cell: (r) => overPlain(r, 'cpuTlsOverPlain') },
  ];
  const ratioColumns = allRatioColumns.filter((c) => results.some((r) => c.cell(r) !== null));
  const header = [
    'workload',
    'backend',
    'TLS',
    'rate',
    'p50 ms',
    'p99 ms',
    'max ms',
    'errors',
    'server CPU µs/op',
    ...ratioColumns.map((c) => c.header),
  ];
  const rows = results.map((r) => {
    // Rates below 10 keep two decimals: a crawling queue is not "0".
    return [
      r.workload,
      r.backend,
      r.tls ? 'on' : 'off',
      `${num(r.rate, r.rate < 10 ? 2 : 0)} ${r.unit}`,
      num(r.p50Ms, 1),
      num(r.p99Ms, 1),
      num(r.maxMs, 1),
      String(r.errors),
      r.serverCpuMicrosPerOp === null ? '—' : num(r.serverCpuMicrosPerOp),
      ...ratioColumns.map((c) => times(c.cell(r))),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i <= 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const row of rows) out.push(line(row));
  const failures = results.filter((r) => r.firstError !== null);
  for (const r of failures)
    out.push(`  ${r.backend}${r.tls ? ' (TLS)' : ''} ${r.workload}: first error: ${r.firstError ?? ''}`);
  return out.join('\n');
}
