// The simulator must show that it catches bugs, not only that correct code passes
// (docs/simulator.md): every seeded bug of src/sim/mutants.ts must fail a run within its budget
// of seeds, and the failure must name its seed, the checker that caught it and a replay command
// that names the mutant. This is the short version of `npm run sim:mutants` (which allows 50 seeds
// and prints the table): SIM_MUTANT_SEEDS changes the budget.
import t from 'tap';
import { huntMutant } from '../../src/sim/mutant-hunt.js';
import { findMutant, mutantNames, mutants } from '../../src/sim/mutants.js';
import { scenarioFromSeed } from '../../src/sim/scenario.js';
import { runSimulation } from '../../src/sim/simulator.js';

const budget = Number(process.env['SIM_MUTANT_SEEDS'] ?? 20);

for (const mutant of mutants) {
  t.test(`${mutant.name} (${mutant.breaks}) is caught within ${budget} seeds`, async (t) => {
    const result = huntMutant(mutant, { seeds: budget });
    const caught = result.caught;
    t.ok(
      caught,
      caught === null
        ? `survived ${budget} seeds of ${mutant.profile}`
        : `seed ${caught.seed}: ${caught.message.split('\n')[0]}`,
    );
    if (caught === null) return;
    // A checker (or a node's own assertion) saw it; an exception would be a bug of the simulator.
    t.not(caught.checker, 'exception', 'caught by a checker, not by the simulator failing');
    t.equal(
      caught.replay,
      `npx raftlock sim --seed ${caught.seed} --nodes ${mutant.nodes} --duration 10000ms --profile ${mutant.profile}${mutant.workload === 'hash' ? '' : ` --workload ${mutant.workload}`} --mutant ${mutant.name}`,
    );
  });
}

t.test('a mutant run replays exactly from its seed', async (t) => {
  const mutant = findMutant('prevote-as-vote');
  t.ok(mutant);
  if (mutant === undefined) return;
  const first = huntMutant(mutant, { seeds: budget }).caught;
  t.ok(first);
  if (first === null) return;
  const again = runSimulation({
    scenario: scenarioFromSeed(first.seed, mutant.nodes, 10_000, mutant.profile),
    replayFrom: { kind: 'seed' },
    workload: mutant.workload,
    mutant: mutant.name,
  });
  t.notOk(again.passed, 'the replay fails too');
  if (again.passed) return;
  t.equal(again.message, first.message, 'with the same message');
  t.equal(again.atMs, first.atMs, 'at the same virtual time');
  t.equal(again.traceHash, first.traceHash, 'after the same trace');
});

t.test('every mutant has a name the CLI accepts and a distinct bug', async (t) => {
  t.equal(new Set(mutantNames).size, mutants.length, 'names are unique');
  t.equal(new Set(mutants.map((m) => m.breaks)).size, mutants.length, 'each breaks its own rule');
  for (const m of mutants) t.match(m.name, /^[a-z]+(-[a-z]+)*$/, `${m.name} reads as a flag value`);
});
