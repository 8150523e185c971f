import type { CreateRaftCore } from '../raft/node-api.js';
import { AssertionError } from '../util/assert.js';
import { Violation } from './checkers/violation.js';
import type { MutantName } from './mutants.js';
import type { Scenario } from './scenario.js';
import type { SimMachineKind, SimulationStats } from './simulation.js';
import { Simulation, emptySimulationStats } from './simulation.js';

export type FailureKind = 'correctness' | 'liveness' | 'crash';

export type SimulationOutcome =
  | { readonly passed: true; readonly seed: number; readonly traceHash: string; readonly stats: SimulationStats }
  | {
      readonly passed: false;
      readonly seed: number;
      readonly kind: FailureKind;
      /** What caught it: a checker's name (`vote-once`, ...), `liveness`, `assertion` or `exception`. */
      readonly checker: string;
      readonly message: string;
      /** Virtual time of the failure. */
      readonly atMs: number;
      /** One command that replays this very run. */
      readonly replay: string;
      readonly traceTail: readonly string[];
      readonly traceHash: string;
      readonly stats: SimulationStats;
    };

export interface RunOptions {
  readonly scenario: Scenario;
  /** The Raft core to run (default: this package's `createRaftNode`). */
  readonly createRaft?: CreateRaftCore;
  /** A seeded bug to run with (src/sim/mutants.ts); the replay command names it. */
  readonly mutant?: MutantName;
  /**
   * How to replay: `seed` when the scenario is the seed's own (`scenarioFromSeed`), else the
   * path of the scenario's JSON file.
   */
  readonly replayFrom: { readonly kind: 'seed' } | { readonly kind: 'file'; readonly path: string };
  /** Liveness budget, in election timeouts (default 50). */
  readonly livenessTimeouts?: number;
  readonly snapshotEntries?: number;
  /** What the nodes run and the clients do: `hash` (default) or `locks` (ServerCore + lock clients). */
  readonly workload?: SimMachineKind;
  readonly traceRing?: number;
  readonly onTrace?: (line: string) => void;
}

export function replayCommand(
  scenario: Scenario,
  from: RunOptions['replayFrom'],
  workload: SimMachineKind = 'hash',
  mutant?: MutantName,
): string {
  const flag = `${workload === 'hash' ? '' : ` --workload ${workload}`}${mutant === undefined ? '' : ` --mutant ${mutant}`}`;
  if (from.kind === 'file') return `npx raftlock sim --scenario ${from.path}${flag}`;
  return `npx raftlock sim --seed ${scenario.seed} --nodes ${scenario.nodes} --duration ${scenario.durationMs}ms --profile ${scenario.profile}${flag}`;
}

/**
 * One simulation: the safety phase (workload plus the scenario's faults for `durationMs`), then
 * the liveness phase (every fault ends; a leader and every outcome must follow within a bounded
 * number of election timeouts). Never throws for a failing run: the outcome says what broke,
 * when, and how to replay it.
 */
export function runSimulation(options: RunOptions): SimulationOutcome {
  const { scenario } = options;
  const electionTicks = 10;
  const tickMs = 10;
  let sim: Simulation | null = null;
  const fail = (kind: FailureKind, checker: string, message: string): SimulationOutcome => ({
    passed: false,
    seed: scenario.seed,
    kind,
    checker,
    message,
    atMs: sim?.nowMs ?? 0,
    replay: replayCommand(scenario, options.replayFrom, options.workload, options.mutant),
    traceTail: sim?.trace.tail() ?? [],
    traceHash: sim?.trace.hash ?? '',
    stats: sim?.collectStats() ?? emptySimulationStats(),
  });
  try {
    sim = new Simulation({
      seed: scenario.seed,
      nodes: scenario.nodes,
      profile: scenario.profile,
      ...(options.createRaft === undefined ? {} : { createRaft: options.createRaft }),
      ...(options.mutant === undefined ? {} : { mutant: options.mutant }),
      tickMs,
      electionTicks,
      ...(options.snapshotEntries === undefined ? {} : { snapshotEntries: options.snapshotEntries }),
      ...(options.workload === undefined ? {} : { machineKind: options.workload }),
      ...(options.traceRing === undefined ? {} : { traceRing: options.traceRing }),
      ...(options.onTrace === undefined ? {} : { onTrace: options.onTrace }),
    });
    for (const event of scenario.events) sim.schedule(event);
    sim.runUntil(scenario.durationMs);
    const budgetMs = (options.livenessTimeouts ?? 50) * 2 * electionTicks * tickMs;
    const missing = sim.settle(budgetMs);
    if (missing !== null)
      return fail('liveness', 'liveness', `not live ${budgetMs}ms after the faults ended: ${missing}`);
    return { passed: true, seed: scenario.seed, traceHash: sim.trace.hash, stats: sim.collectStats() };
  } catch (e) {
    if (e instanceof Violation) return fail('correctness', e.checker, e.message);
    if (e instanceof AssertionError) return fail('crash', 'assertion', `assertion failed: ${e.message}`);
    const message = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
    return fail('crash', 'exception', message);
  }
}

/** A failure as printed everywhere: what broke, where, and the one command that replays it. */
export function formatFailure(outcome: Extract<SimulationOutcome, { passed: false }>, tailLines = 30): string {
  // Client replies drown the story; the full tail stays in `outcome.traceTail`.
  const tail = outcome.traceTail
    .filter((l) => !l.includes(' reply '))
    .slice(-tailLines)
    .map((l) => `  | ${l}`);
  return [
    `FAILED seed ${outcome.seed}: ${outcome.kind} at ${outcome.atMs}ms`,
    `  ${outcome.message}`,
    `  replay: ${outcome.replay}`,
    ...(tail.length > 0 ? ['  trace tail:', ...tail] : []),
  ].join('\n');
}
