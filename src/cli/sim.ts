import { readFileSync } from 'node:fs';
import { parseDurationFlag } from './duration-flag.js';
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import type { CreateRaftCore } from '../raft/node-api.js';
import { createRaftNode } from '../raft/node.js';
import type { Profile } from '../sim/faults.js';
import { profiles } from '../sim/faults.js';
import type { MutantName } from '../sim/mutants.js';
import { mutantNames } from '../sim/mutants.js';
import type { Scenario } from '../sim/scenario.js';
import type { SimMachineKind } from '../sim/simulation.js';
import { parseScenario, scenarioFromSeed } from '../sim/scenario.js';
import type { RunOptions, SimulationOutcome } from '../sim/simulator.js';
import { formatFailure, runSimulation } from '../sim/simulator.js';

/** `sim --duration`: read as every duration flag is (duration-flag.ts); bench/soak.ts reads its own with it. */
export { parseDurationFlag as parseDurationMs } from './duration-flag.js';

function parseCount(name: string, min: number, max: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}`);
    return n;
  };
}

interface SimCliOptions {
  readonly nodes: number;
  readonly seed: number;
  readonly seeds: number;
  readonly duration: number;
  readonly profile: Profile;
  readonly workload: SimMachineKind;
  readonly mutant?: MutantName;
  readonly scenario?: string;
  readonly verbose?: boolean;
}

/** Trace lines worth showing a person: elections, faults, crashes, restarts, phases. */
const interesting =
  /( leader t| fault | up \(| crashes| cut off | refuses | fail-stop| resumes| operator: |liveness phase|settled )/;

function summary(outcome: SimulationOutcome): string {
  const s = outcome.stats;
  return [
    `simulated ${(s.simulatedMs / 1000).toFixed(1)}s: ${s.elections} leader changes, ${s.faults} faults (${s.crashes} crashes, ${s.restarts} restarts, ${s.pauses} pauses, ${s.writeErrors} write errors, ${s.refusedStarts} refused starts)`,
    `log: ${s.committed} entries applied, ${s.snapshotsInstalled} snapshots installed from a leader, ${s.snapshotsTaken} taken in the background (${s.snapshotsDropped} of ${s.snapshotsRequested} asked for dropped as stale); disk: ${s.diskWrites} writes, ${s.diskSyncs} syncs`,
    `network: ${s.messagesSent} sent, ${s.messagesDelivered} delivered, ${s.messagesLost} lost or cut`,
    `clients: ${s.requests} requests, ${s.acknowledged} writes acknowledged, ${s.unknownOutcome} unknown outcomes, ${s.lost} lost with their node`,
    ...(s.beliefsChecked + s.lockGrants > 0
      ? [
          `locks: ${s.lockGrants} grants acknowledged, ${s.lockRetries} same-seq retries, ${s.staleTokens} stale fenced writes refused, ${s.sessionsLost} sessions given up, ${s.beliefsChecked} held beliefs checked, ${s.beliefOverlapsOutsideBound} overlaps after clock jumps`,
        ]
      : []),
    `checks: election safety, vote-once, persist-before-send, log matching, leader append-only, leader completeness, state machine safety, log time, linearizable reads, liveness: ${outcome.passed ? 'all held' : 'FAILED'}`,
    `trace hash ${outcome.traceHash}`,
  ].join('\n');
}

/** The `sim` subcommand: one run with a readable story, or a sweep over many seeds. */
export function registerSimCommand(program: Command, createRaft: CreateRaftCore = createRaftNode): void {
  program
    .command('sim')
    .description('run the deterministic simulator: a seed (or a scenario file) gives one exact replayable run')
    .option('--nodes <n>', 'cluster size', parseCount('--nodes', 1, 9), 5)
    .option('--seed <s>', 'seed of the (first) run', parseCount('--seed', 0, Number.MAX_SAFE_INTEGER), 1)
    .option('--seeds <count>', 'sweep this many seeds starting at --seed', parseCount('--seeds', 1, 10_000_000), 1)
    .addOption(
      new Option('--duration <d>', 'simulated time of the fault phase (500ms, 60s, 2m)')
        .argParser(parseDurationFlag)
        .default(10_000, '10s'),
    )
    .addOption(new Option('--profile <p>', 'fault profile').choices(profiles).default('swarm'))
    .addOption(
      new Option(
        '--workload <w>',
        'hash: hash machine on NodeHost; locks: ServerCore with lock clients and lock checkers',
      )
        .choices(['hash', 'locks'])
        .default('hash'),
    )
    .addOption(
      new Option(
        '--mutant <name>',
        "run with a seeded bug (the simulator's own mutation tests: npm run sim:mutants)",
      ).choices(mutantNames),
    )
    .option('--scenario <file>', 'replay a scenario JSON file (a shrunk failure or your own)')
    .option('--verbose', 'print every trace line')
    .action((options: SimCliOptions) => {
      process.exitCode = runSimCli(options, createRaft);
    });
}

function runSimCli(options: SimCliOptions, createRaft: CreateRaftCore): number {
  const out = process.stdout;
  if (options.scenario !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.scenario, 'utf8');
    } catch (e) {
      process.stderr.write(
        `raftlock sim: cannot read ${options.scenario}: ${e instanceof Error ? e.message : String(e)}\n`,
      );
      return 2;
    }
    const parsed = parseScenario(text);
    if (!parsed.ok) {
      process.stderr.write(`raftlock sim: ${options.scenario}: ${parsed.error}\n`);
      return 2;
    }
    return single(parsed.value, { kind: 'file', path: options.scenario }, options, createRaft);
  }
  if (options.seeds === 1) {
    const scenario = scenarioFromSeed(options.seed, options.nodes, options.duration, options.profile);
    return single(scenario, { kind: 'seed' }, options, createRaft);
  }
  const failures: Extract<SimulationOutcome, { passed: false }>[] = [];
  let simulatedMs = 0;
  const snapshots = { requested: 0, taken: 0, dropped: 0, installed: 0 };
  const tty = out.isTTY === true;
  for (let i = 0; i < options.seeds; i++) {
    const seed = options.seed + i;
    const outcome = runSimulation({
      scenario: scenarioFromSeed(seed, options.nodes, options.duration, options.profile),
      createRaft,
      replayFrom: { kind: 'seed' },
      workload: options.workload,
      ...(options.mutant === undefined ? {} : { mutant: options.mutant }),
    });
    simulatedMs += outcome.stats.simulatedMs;
    snapshots.requested += outcome.stats.snapshotsRequested;
    snapshots.taken += outcome.stats.snapshotsTaken;
    snapshots.dropped += outcome.stats.snapshotsDropped;
    snapshots.installed += outcome.stats.snapshotsInstalled;
    if (!outcome.passed) {
      failures.push(outcome);
      if (tty) out.write('\r\x1b[K');
      out.write(`${formatFailure(outcome, 10)}\n`);
    }
    if (tty) out.write(`\r\x1b[Kseed ${seed} (${i + 1}/${options.seeds}), ${failures.length} failed`);
  }
  if (tty) out.write('\r\x1b[K');
  out.write(
    `${options.seeds} seeds from ${options.seed} (${options.nodes} nodes, ${options.profile}, ${options.duration}ms each, ${(simulatedMs / 1000).toFixed(0)}s simulated): ${options.seeds - failures.length} passed, ${failures.length} failed\n` +
      `snapshots: ${snapshots.requested} asked for in the background, ${snapshots.taken} taken, ${snapshots.dropped} dropped as stale; ${snapshots.installed} installed from a leader\n`,
  );
  for (const f of failures) out.write(`  seed ${f.seed} ${f.kind}: ${f.replay}\n`);
  return failures.length === 0 ? 0 : 1;
}

function single(
  scenario: Scenario,
  replayFrom: RunOptions['replayFrom'],
  options: SimCliOptions,
  createRaft: CreateRaftCore,
): number {
  const out = process.stdout;
  out.write(
    `simulating ${scenario.nodes} nodes, seed ${scenario.seed}, ${scenario.durationMs}ms, profile ${scenario.profile}, ${scenario.events.length} scheduled faults\n`,
  );
  // On a terminal, a progress line (simulated time) stays under the story for long runs.
  const tty = out.isTTY === true;
  let shownSecond = -1;
  const outcome = runSimulation({
    scenario,
    createRaft,
    replayFrom,
    workload: options.workload,
    ...(options.mutant === undefined ? {} : { mutant: options.mutant }),
    onTrace: (line) => {
      const print = options.verbose === true || interesting.test(line);
      const second = Math.floor(Number(line.slice(0, line.indexOf(' '))) / 1000);
      if (tty && (print || second !== shownSecond)) {
        shownSecond = second;
        out.write(`\r\x1b[K${print ? `  ${line}\n` : ''}  [${second}s of ${scenario.durationMs / 1000}s simulated]`);
      } else if (print) out.write(`  ${line}\n`);
    },
  });
  if (tty) out.write('\r\x1b[K');
  out.write(`${summary(outcome)}\n`);
  if (outcome.passed) {
    out.write('PASSED\n');
    return 0;
  }
  out.write(`${formatFailure(outcome)}\n`);
  return 1;
}
