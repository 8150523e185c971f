/**
 * The checks after healing: every node reads every key the workload touched, and
 * - convergence: all nodes hold the same value and version for each key;
 * - durability: those final reads, appended to the history as reads after every operation ended,
 *   must still linearize. So an acknowledged write must be the final value or have been
 *   overwritten by a later one; a lost acknowledged write, or a write that took effect although
 *   it was reported failed, is a violation of the versioned-keys model.
 */
import type { HistoryOp } from './history.js';

export type FinalRead = {
  readonly node: string;
  readonly key: string;
  readonly value: string | null;
  readonly version: number;
};

export type Convergence = { readonly converged: boolean; readonly report: string };

export function checkConvergence(reads: readonly FinalRead[]): Convergence {
  const byKey = new Map<string, FinalRead[]>();
  for (const r of reads) {
    const list = byKey.get(r.key);
    if (list === undefined) byKey.set(r.key, [r]);
    else list.push(r);
  }
  const nodes = [...new Set(reads.map((r) => r.node))].sort();
  const lines: string[] = [];
  for (const key of [...byKey.keys()].sort()) {
    const list = byKey.get(key) ?? [];
    const seen = new Set(list.map((r) => JSON.stringify([r.value, r.version])));
    const missing = nodes.filter((n) => !list.some((r) => r.node === n));
    if (seen.size > 1 || missing.length > 0) {
      const each = list
        .slice()
        .sort((a, b) => (a.node < b.node ? -1 : 1))
        .map((r) => `${r.node}=${JSON.stringify(r.value)}@${r.version}`);
      lines.push(`  ${key}: ${each.join(' ')}${missing.length > 0 ? ` (no read from ${missing.join(' ')})` : ''}`);
    }
  }
  const converged = lines.length === 0;
  const head = converged
    ? `convergence: ok (${byKey.size} keys on ${nodes.length} nodes)`
    : `convergence: ${lines.length} of ${byKey.size} keys differ between nodes`;
  return { converged, report: [head, ...lines].join('\n') };
}

/**
 * The history with the final reads appended after every completed operation. Operations of
 * unknown outcome may still be placed after these reads, which can only make the check weaker,
 * never raise a false alarm. Reads of one node are enough once convergence holds.
 */
export function withFinalReads(history: readonly HistoryOp[], reads: readonly FinalRead[]): HistoryOp[] {
  let end = 0;
  for (const h of history) end = Math.max(end, h.invokeUs, Number.isFinite(h.completeUs) ? h.completeUs : 0);
  const out = history.slice();
  reads.forEach((r, i) => {
    const at = end + 1 + 2 * i;
    out.push({
      id: `final:${r.node}:${r.key}`,
      process: `final:${r.node}`,
      op: { type: 'kv.get', key: r.key },
      invokeUs: at,
      completeUs: at + 1,
      outcome: 'ok',
      result: { type: 'kv.get', value: r.value, version: r.version },
    });
  });
  return out;
}
