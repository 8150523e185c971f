// Reading the node's /metrics (Prometheus text format) in the browser: only what the charts need,
// sums of counters and a histogram's buckets, and rates and quantiles between two scrapes.

/**
 * Parses the text format into `name -> [{ labels, value }]` (comments skipped).
 * @param {string} text
 * @returns {Map<string, { labels: Record<string, string>, value: number }[]>}
 */
export function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.lastIndexOf(' ');
    if (space < 0) continue;
    const name = brace >= 0 && brace < space ? line.slice(0, brace) : line.slice(0, space);
    const labels = {};
    if (brace >= 0 && brace < space) {
      const body = line.slice(brace + 1, line.lastIndexOf('}'));
      for (const m of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
      }
    }
    const value = Number(line.slice(space + 1));
    if (!Number.isFinite(value) && !Number.isNaN(value)) continue;
    let list = out.get(name);
    if (list === undefined) out.set(name, (list = []));
    list.push({ labels, value });
  }
  return out;
}

/** Sum of every series of `name`. @param {ReturnType<typeof parseMetrics>} m @param {string} name */
export function total(m, name) {
  let sum = 0;
  for (const s of m.get(name) ?? []) sum += s.value;
  return sum;
}

/**
 * A histogram's cumulative bucket counts summed over its other labels, by upper bound.
 * @param {ReturnType<typeof parseMetrics>} m @param {string} name
 * @returns {Map<number, number>}
 */
export function buckets(m, name) {
  const out = new Map();
  for (const s of m.get(`${name}_bucket`) ?? []) {
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    out.set(le, (out.get(le) ?? 0) + s.value);
  }
  return out;
}

/**
 * The q-quantile of what a histogram observed between two scrapes (linear within a bucket, as
 * Prometheus' histogram_quantile does); null when nothing was observed.
 * @param {Map<number, number>} before @param {Map<number, number>} after @param {number} q
 */
export function quantileBetween(before, after, q) {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((le) => Math.max(0, (after.get(le) ?? 0) - (before.get(le) ?? 0)));
  const n = counts[counts.length - 1] ?? 0;
  if (n <= 0) return null;
  const rank = q * n;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i] >= rank) {
      const upper = bounds[i];
      const lower = i === 0 ? 0 : bounds[i - 1];
      if (upper === Infinity) return lower;
      const below = i === 0 ? 0 : counts[i - 1];
      const inBucket = counts[i] - below;
      return inBucket <= 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
    }
  }
  return bounds[bounds.length - 2] ?? null;
}
