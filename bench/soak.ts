// Soak: many seeds of randomized simulations; prints each failure with its replay command and a
// summary; exits non-zero on any failure.
// Usage: npx tsx bench/soak.ts --seeds N [--nodes 5] [--first 1] [--duration 20s] [--profile swarm|elections|...]
import { parseDurationMs } from '../src/cli/sim.js';
import type { Profile } from '../src/sim/faults.js';
import { profiles } from '../src/sim/faults.js';
import { scenarioFromSeed } from '../src/sim/scenario.js';
import { formatFailure, runSimulation } from '../src/sim/simulator.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? process.argv[i + 1] : undefined;
  return value ?? fallback;
}

const seeds = Number(arg('seeds', '1000'));
const nodes = Number(arg('nodes', '5'));
const first = Number(arg('first', '1'));
const durationMs = parseDurationMs(arg('duration', '20s'));
const profile = arg('profile', 'swarm') as Profile;
if (
  !Number.isSafeInteger(seeds) ||
  seeds < 1 ||
  !Number.isSafeInteger(nodes) ||
  nodes < 1 ||
  !profiles.includes(profile)
) {
  console.error(
    `usage: npx tsx bench/soak.ts --seeds N [--nodes 5] [--first 1] [--duration 20s] [--profile ${profiles.join('|')}]`,
  );
  process.exit(2);
}

const failures: { seed: number; kind: string; replay: string }[] = [];
let simulatedMs = 0;
let faults = 0;
let committed = 0;
const cpu0 = process.cpuUsage();
for (let seed = first; seed < first + seeds; seed++) {
  const outcome = runSimulation({
    scenario: scenarioFromSeed(seed, nodes, durationMs, profile),
    replayFrom: { kind: 'seed' },
  });
  simulatedMs += outcome.stats.simulatedMs;
  faults += outcome.stats.faults;
  committed += outcome.stats.committed;
  if (!outcome.passed) {
    failures.push({ seed, kind: outcome.kind, replay: outcome.replay });
    console.log(formatFailure(outcome, 15));
  }
  if (process.stdout.isTTY)
    process.stdout.write(`\r\x1b[Kseed ${seed} (${seed - first + 1}/${seeds}), ${failures.length} failed`);
}
if (process.stdout.isTTY) process.stdout.write('\r\x1b[K');
const used = process.cpuUsage(cpu0);
const cpuS = (used.user + used.system) / 1e6;
console.log(
  `soak: ${seeds} seeds from ${first}, ${nodes} nodes, ${profile}, ${durationMs}ms each: ${seeds - failures.length} passed, ${failures.length} failed` +
    ` (${(simulatedMs / 1000).toFixed(0)} simulated s, ${faults} faults, ${committed} entries, ${cpuS.toFixed(1)} CPU s)`,
);
for (const f of failures) console.log(`  seed ${f.seed} ${f.kind}: ${f.replay}`);
process.exitCode = failures.length === 0 ? 0 : 1;
