// The benchmark's table: one row per workload and backend, with the rate, latency percentiles,
// errors, and on each non-baseline row its rate as a ratio of the baseline's (raftlock/etcd).
import type { WorkloadResult } from './workloads.js';

const num = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '—';

export function formatTable(results: readonly WorkloadResult[], baseline = 'etcd'): string {
  const header = ['workload', 'backend', 'rate', 'p50 ms', 'p99 ms', 'max ms', 'errors', `ratio /${baseline}`];
  const rows = results.map((r) => {
    const base = results.find((b) => b.workload === r.workload && b.backend === baseline);
    const ratio = r.backend !== baseline && base !== undefined && base.rate > 0 ? `${num(r.rate / base.rate, 2)}×` : '—';
    // Rates below 10 keep two decimals: a crawling queue is not "0".
    return [r.workload, r.backend, `${num(r.rate, r.rate < 10 ? 2 : 0)} ${r.unit}`, num(r.p50Ms, 1), num(r.p99Ms, 1), num(r.maxMs, 1), String(r.errors), ratio];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i <= 1 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const row of rows) out.push(line(row));
  const failures = results.filter((r) => r.firstError !== null);
  for (const r of failures) out.push(`  ${r.backend} ${r.workload}: first error: ${r.firstError ?? ''}`);
  return out.join('\n');
}
