// The CI sweep (TigerBeetle's VOPR, docs/simulator.md): many randomized worlds, each seed drawing its
// own fault knobs (swarm testing), each run checked for Raft's safety properties after every event
// and for liveness once the faults end. Then fast-check generates fault schedules directly and
// shrinks any failing one to a minimal scenario to keep under test/sim/regressions/.
import t from 'tap';
import fc from 'fast-check';
import { scenarioFromSeed, stringifyScenario } from '../../src/sim/scenario.js';
import { scenarioArbitrary } from '../../src/sim/scenario-arbitrary.js';
import { formatFailure, runSimulation } from '../../src/sim/simulator.js';
import type { RunOptions } from '../../src/sim/simulator.js';
import { emptySimulationStats } from '../../src/sim/simulation.js';
import type { SimulationStats } from '../../src/sim/simulation.js';

const seeds = Number(process.env['SIM_SEEDS'] ?? 200);
const firstSeed = Number(process.env['SIM_FIRST_SEED'] ?? 1);

/**
 * Runs `count` seeded 5-node swarm worlds (from SIM_FIRST_SEED) with `options`; returns their
 * failures, each with its replay command, and a stat summed over every run.
 */
function sweep(
  count: number,
  options: Pick<RunOptions, 'workload'>,
): { failures: string[]; total(stat: keyof SimulationStats): number } {
  const failures: string[] = [];
  const totals = emptySimulationStats();
  for (let seed = firstSeed; seed < firstSeed + count; seed++) {
    const outcome = runSimulation({
      scenario: scenarioFromSeed(seed, 5, 10_000, 'swarm'),
      replayFrom: { kind: 'seed' },
      ...options,
    });
    for (const stat of Object.keys(totals) as (keyof SimulationStats)[]) totals[stat] += outcome.stats[stat];
    if (!outcome.passed) failures.push(formatFailure(outcome, 20));
  }
  return { failures, total: (stat) => totals[stat] };
}

t.test(`${seeds} randomized 5-node swarm simulations all pass`, async (t) => {
  const { failures, total } = sweep(seeds, {});
  const faults = total('faults');
  const snapshotsTaken = total('snapshotsTaken');
  const snapshotsDropped = total('snapshotsDropped');
  t.ok(
    faults > seeds,
    `faults were injected (${faults} in ${(total('simulatedMs') / 1000).toFixed(0)} simulated seconds)`,
  );
  // Nodes snapshot in the deferred mode: completions come back after a delay, some of them to a
  // node that crashed or installed a newer snapshot meanwhile, and those must be dropped safely.
  t.ok(
    snapshotsTaken > seeds && snapshotsDropped > 0,
    `background snapshots taken (${snapshotsTaken}) and stale ones dropped (${snapshotsDropped})`,
  );
  t.same(failures, [], failures.join('\n\n'));
});

const lockSeeds = Number(process.env['SIM_LOCK_SEEDS'] ?? 40);

t.test(`${lockSeeds} randomized 5-node swarm simulations of the lock service all pass`, async (t) => {
  // The same worlds with every node on the production ServerCore and lock clients: the lock
  // checkers (invariants, fencing order, FIFO, exactly once, acknowledged grants, held beliefs
  // within the clock bound) run after every apply on every replica, besides the Raft checkers.
  const { failures, total } = sweep(lockSeeds, { workload: 'locks' });
  const grants = total('lockGrants');
  const retries = total('lockRetries');
  const beliefs = total('beliefsChecked');
  t.ok(
    grants > lockSeeds && retries > lockSeeds,
    `clients were granted locks (${grants}) and retried unknown outcomes (${retries})`,
  );
  t.ok(beliefs > 0, `${beliefs} held beliefs checked`);
  t.same(failures, [], failures.join('\n\n'));
});

t.test('fast-check fault schedules: safety and liveness hold; failures shrink to a scenario', async (t) => {
  const result = fc.check(
    fc.property(scenarioArbitrary({ durationMsMin: 1000, durationMsMax: 3000 }), (scenario) => {
      const outcome = runSimulation({
        scenario,
        replayFrom: { kind: 'file', path: 'test/sim/regressions/<name>.json' },
      });
      return outcome.passed;
    }),
    { numRuns: 100, seed: 20261124 },
  );
  if (result.failed && result.counterexample !== null) {
    const [scenario] = result.counterexample;
    const outcome = runSimulation({ scenario, replayFrom: { kind: 'file', path: 'test/sim/regressions/<name>.json' } });
    t.fail(
      [
        `shrunk failing scenario (save it as test/sim/regressions/<name>.json):`,
        stringifyScenario(scenario),
        outcome.passed ? 'passes on replay' : formatFailure(outcome, 20),
      ].join('\n'),
    );
  } else {
    t.ok(!result.failed, `${result.numRuns} generated scenarios passed`);
  }
});
