// The simulator's own mutation tests (docs/simulator.md): every seeded bug of
// src/sim/mutants.ts runs over consecutive seeds of its fault profile until a checker catches it.
// For each: the first failing seed, the checker, the one-line replay command (which names the
// mutant), then the table for docs/simulator.md. Exit code 1 when a mutant survives its budget.
//
//   npm run sim:mutants                              # every mutant, at most 50 seeds each
//   npm run sim:mutants -- --only forget-vote,lost-dedup --seeds 20
//   npm run sim:mutants -- --rate                    # run every seed of the budget: catch rates
import { parseArgs } from 'node:util';
import type { HuntResult } from '../src/sim/mutant-hunt.js';
import { huntMutant, mutantTable } from '../src/sim/mutant-hunt.js';
import { findMutant, mutants } from '../src/sim/mutants.js';
import type { Mutant } from '../src/sim/mutants.js';
import { scenarioFromSeed } from '../src/sim/scenario.js';
import { runSimulation } from '../src/sim/simulator.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '50' },
    'first-seed': { type: 'string', default: '1' },
    duration: { type: 'string', default: '10000' },
    only: { type: 'string' },
    rate: { type: 'boolean', default: false },
  },
});

function count(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) {
    process.stderr.write(`sim:mutants: --${name} must be an integer of at least ${min}, got ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return n;
}

const seeds = count('seeds', values.seeds, 1);
const firstSeed = count('first-seed', values['first-seed'], 0);
const durationMs = count('duration', values.duration, 100);
const chosen: Mutant[] = [];
for (const name of values.only?.split(',') ?? mutants.map((m) => m.name)) {
  const mutant = findMutant(name.trim());
  if (mutant === undefined) {
    process.stderr.write(
      `sim:mutants: no mutant named ${JSON.stringify(name)}; known: ${mutants.map((m) => m.name).join(', ')}\n`,
    );
    process.exit(2);
  }
  chosen.push(mutant);
}

const cpuSeconds = (since: NodeJS.CpuUsage): string => {
  const used = process.cpuUsage(since);
  return ((used.user + used.system) / 1e6).toFixed(1);
};

/** Every seed of the budget: how many of them catch the mutant (the rest of the table as usual). */
function rateOf(mutant: Mutant): number {
  let caught = 0;
  for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
    const outcome = runSimulation({
      scenario: scenarioFromSeed(seed, mutant.nodes, durationMs, mutant.profile),
      replayFrom: { kind: 'seed' },
      workload: mutant.workload,
      mutant: mutant.name,
    });
    if (!outcome.passed) caught += 1;
  }
  return caught;
}

const results: HuntResult[] = [];
const rates = new Map<string, number>();
const started = process.cpuUsage();
for (const mutant of chosen) {
  const since = process.cpuUsage();
  const result = huntMutant(mutant, { seeds, firstSeed, durationMs });
  results.push(result);
  const caught = result.caught;
  const head = `${mutant.name.padEnd(20)} `;
  if (caught === null) {
    process.stdout.write(`${head}SURVIVED ${seeds} seeds (${cpuSeconds(since)} CPU s)\n`);
  } else {
    process.stdout.write(
      `${head}caught by ${caught.checker} on seed ${caught.seed} (${result.seedsRun} seeds, ${cpuSeconds(since)} CPU s)\n`,
    );
    process.stdout.write(`${' '.repeat(21)}${caught.message.split('\n')[0]}\n`);
    process.stdout.write(`${' '.repeat(21)}replay: ${caught.replay}\n`);
  }
  if (values.rate) {
    const caughtIn = rateOf(mutant);
    rates.set(mutant.name, caughtIn);
    process.stdout.write(`${' '.repeat(21)}caught on ${caughtIn} of ${seeds} seeds\n`);
  }
}

process.stdout.write(`\n${mutantTable(results, values.rate ? { rates, seeds } : undefined)}\n\n`);
const survivors = results.filter((r) => r.caught === null);
process.stdout.write(
  `${results.length - survivors.length} of ${results.length} mutants caught within ${seeds} seeds of ${durationMs} ms (${cpuSeconds(started)} CPU s)\n`,
);
process.exitCode = survivors.length === 0 ? 0 : 1;
