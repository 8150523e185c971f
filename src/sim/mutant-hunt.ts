import type { Mutant } from './mutants.js';
import { scenarioFromSeed } from './scenario.js';
import type { SimulationOutcome } from './simulator.js';
import { runSimulation } from './simulator.js';

export type Failure = Extract<SimulationOutcome, { passed: false }>;

export interface HuntOptions {
  /** Give up after this many seeds (the mutant's budget). */
  readonly seeds: number;
  readonly firstSeed?: number;
  /** The fault phase of each run. */
  readonly durationMs?: number;
}

export interface HuntResult {
  readonly mutant: Mutant;
  /** The first failing run, or null when the mutant survived every seed of its budget. */
  readonly caught: Failure | null;
  /** Seeds run, the failing one included. */
  readonly seedsRun: number;
  /** Simulated time of all those runs. */
  readonly simulatedMs: number;
}

/**
 * Run a mutant over consecutive seeds of its profile until a run fails: the seed, the checker
 * that caught it and the one-line replay command (which names the mutant) are in `caught`.
 */
export function huntMutant(mutant: Mutant, options: HuntOptions): HuntResult {
  const firstSeed = options.firstSeed ?? 1;
  const durationMs = options.durationMs ?? 10_000;
  let simulatedMs = 0;
  for (let i = 0; i < options.seeds; i++) {
    const outcome = runSimulation({
      scenario: scenarioFromSeed(firstSeed + i, mutant.nodes, durationMs, mutant.profile),
      replayFrom: { kind: 'seed' },
      workload: mutant.workload,
      mutant: mutant.name,
    });
    simulatedMs += outcome.stats.simulatedMs;
    if (!outcome.passed) return { mutant, caught: outcome, seedsRun: i + 1, simulatedMs };
  }
  return { mutant, caught: null, seedsRun: options.seeds, simulatedMs };
}

/**
 * The mutant table of docs/simulator.md: what each bug breaks, where it runs, how many seeds it
 * took and who caught it; with `rates`, also on how many of `seeds` seeds it is caught at all.
 */
export function mutantTable(
  results: readonly HuntResult[],
  rates?: { readonly rates: ReadonlyMap<string, number>; readonly seeds: number },
): string {
  const rows = results.map((r) => {
    const where = `${r.mutant.profile}, ${r.mutant.nodes} nodes${r.mutant.workload === 'hash' ? '' : `, ${r.mutant.workload}`}`;
    const caught = r.caught === null ? `not caught in ${r.seedsRun}` : `${r.seedsRun}`;
    const checker = r.caught === null ? '—' : `\`${r.caught.checker}\``;
    const rate = rates === undefined ? '' : ` ${rates.rates.get(r.mutant.name) ?? 0} of ${rates.seeds} |`;
    return `| \`${r.mutant.name}\` | ${r.mutant.breaks} | ${where} | ${caught} | ${checker} |${rate}`;
  });
  const rateHead = rates === undefined ? ['', ''] : [' Seeds that catch it |', ' --- |'];
  return [
    `| Mutant | What it breaks | Profile | Seeds to catch | Caught by |${rateHead[0]}`,
    `| --- | --- | --- | --- | --- |${rateHead[1]}`,
    ...rows,
  ].join('\n');
}
