// Simulator speed: simulated seconds per CPU-second under a hostile fault profile, for 3 and 5
// nodes. Usage: npx tsx bench/sim.ts [--short] [--workload hash|locks]
import { scenarioFromSeed } from '../src/sim/scenario.js';
import { formatFailure, runSimulation } from '../src/sim/simulator.js';
import { flag, has } from './args.js';

const short = has('--short');
const workload = flag('--workload') ?? 'hash';
if (workload !== 'hash' && workload !== 'locks') {
  console.error('usage: bench/sim.ts [--short] [--workload hash|locks]');
  process.exit(2);
}
const seeds = short ? 10 : 60;
const durationMs = short ? 5_000 : 20_000;

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

// Warm the JIT so the first size measured is not penalised.
for (let seed = 1; seed <= 3; seed++)
  runSimulation({ scenario: scenarioFromSeed(seed, 3, 2_000, 'swarm'), replayFrom: { kind: 'seed' }, workload });

console.log(
  `${workload} workload, hostile (swarm) profile, ${seeds} seeds x ${durationMs / 1000}s fault phase + liveness phase`,
);
console.log('nodes | simulated s | CPU s | sim s per CPU s | events/CPU s | entries applied | faults | failures');
for (const nodes of [3, 5]) {
  let simulatedMs = 0;
  let events = 0;
  let committed = 0;
  let faults = 0;
  let failures = 0;
  const start = cpuSeconds();
  for (let seed = 1000; seed < 1000 + seeds; seed++) {
    const outcome = runSimulation({
      scenario: scenarioFromSeed(seed, nodes, durationMs, 'swarm'),
      replayFrom: { kind: 'seed' },
      workload,
    });
    simulatedMs += outcome.stats.simulatedMs;
    events += outcome.stats.events;
    committed += outcome.stats.committed;
    faults += outcome.stats.faults;
    if (!outcome.passed) {
      failures += 1;
      // Its seed and one-line replay command, as every failing simulator run prints them.
      console.log(formatFailure(outcome, 15));
    }
  }
  const cpu = cpuSeconds() - start;
  const sim = simulatedMs / 1000;
  console.log(
    `${String(nodes).padStart(5)} | ${sim.toFixed(0).padStart(11)} | ${cpu.toFixed(1).padStart(5)} | ${(sim / cpu).toFixed(1).padStart(15)} | ${Math.round(
      events / cpu,
    )
      .toString()
      .padStart(12)} | ${String(committed).padStart(15)} | ${String(faults).padStart(6)} | ${failures}`,
  );
}
