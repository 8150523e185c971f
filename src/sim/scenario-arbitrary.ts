import fc from 'fast-check';
import type { FaultEvent } from './faults.js';
import type { Scenario } from './scenario.js';

export interface ScenarioArbitraryOptions {
  readonly nodes?: readonly number[];
  readonly durationMsMin?: number;
  readonly durationMsMax?: number;
  readonly eventsMax?: number;
}

/**
 * fast-check arbitraries over Scenarios, for property tests of your own (fast-check is a
 * development dependency: import this module from tests only). Fault schedules shrink toward
 * fewer, earlier, simpler events (the world's noise, calm or swarm, comes from the seed); every subsequence of a schedule is itself valid, since faults
 * that do not apply when they fire do nothing. At most one disk is corrupted per scenario: losing
 * more disks than the cluster has spare voters is data loss no procedure recovers from.
 */
export function scenarioArbitrary(options: ScenarioArbitraryOptions = {}): fc.Arbitrary<Scenario> {
  const nodesChoices = options.nodes ?? [3, 5];
  const durationMin = options.durationMsMin ?? 1000;
  const durationMax = options.durationMsMax ?? 4000;
  return fc
    .record({
      seed: fc.nat({ max: 2 ** 31 - 1 }),
      nodes: fc.constantFrom(...nodesChoices),
      durationMs: fc.integer({ min: durationMin, max: durationMax }),
    })
    .chain(({ seed, nodes, durationMs }) =>
      fc.record({
        seed: fc.constant(seed),
        nodes: fc.constant(nodes),
        durationMs: fc.constant(durationMs),
        profile: fc.constantFrom('calm' as const, 'swarm' as const),
        events: fc
          .array(faultEventArbitrary(nodes, durationMs), { maxLength: options.eventsMax ?? 12 })
          .map((events) => {
            let corrupt = 0;
            return events.filter((e) => e.kind !== 'diskCorruptRead' || ++corrupt <= 1).sort((a, b) => a.atMs - b.atMs);
          }),
      }),
    );
}

export function faultEventArbitrary(nodes: number, durationMs: number): fc.Arbitrary<FaultEvent> {
  const name = fc.integer({ min: 1, max: nodes }).map((i) => `n${i}`);
  const at = fc.integer({ min: 0, max: Math.max(0, durationMs - 1) });
  const length = fc.integer({ min: 1, max: 2000 });
  // A one-way cut or a clog is a link between two different nodes (a single node has none).
  const link =
    nodes < 2
      ? null
      : fc
          .tuple(fc.integer({ min: 1, max: nodes }), fc.integer({ min: 1, max: nodes - 1 }))
          .map(([from, other]) => ({ from: `n${from}`, to: `n${other >= from ? other + 1 : other}` }));
  return fc.oneof(
    fc.record({ atMs: at, kind: fc.constant('heal' as const) }),
    fc.record({ atMs: at, kind: fc.constant('crash' as const), node: name, losePageCache: fc.boolean() }),
    fc.record({ atMs: at, kind: fc.constant('restart' as const), node: name }),
    fc.record({ atMs: at, kind: fc.constant('crashLeader' as const), losePageCache: fc.boolean(), downMs: length }),
    fc.record({
      atMs: at,
      kind: fc.constant('crashNextLeader' as const),
      afterMs: fc.integer({ min: 0, max: 50 }),
      losePageCache: fc.boolean(),
      downMs: length,
    }),
    fc.record({
      atMs: at,
      kind: fc.constant('crashWhenCaughtUp' as const),
      losePageCache: fc.boolean(),
      downMs: length,
    }),
    fc.record({ atMs: at, kind: fc.constant('isolateNextLeader' as const) }),
    fc.record({ atMs: at, kind: fc.constant('isolate' as const), node: name }),
    fc.record({ atMs: at, kind: fc.constant('isolateLeader' as const) }),
    fc.record({ atMs: at, kind: fc.constant('bridge' as const), node: name }),
    ...(link === null
      ? []
      : [
          fc
            .record({ atMs: at, link })
            .map(({ atMs, link: { from, to } }): FaultEvent => ({ atMs, kind: 'oneWay', from, to })),
          fc
            .record({ atMs: at, link, forMs: length })
            .map(({ atMs, link: { from, to }, forMs }): FaultEvent => ({ atMs, kind: 'clog', from, to, forMs })),
        ]),
    fc.record({
      atMs: at,
      kind: fc.constant('partition' as const),
      groups: fc.shuffledSubarray(Array.from({ length: nodes }, (_, i) => `n${i + 1}`)).map((g) => [g]),
    }),
    fc.record({ atMs: at, kind: fc.constant('pause' as const), node: name, forMs: length }),
    fc.record({
      atMs: at,
      kind: fc.constant('drift' as const),
      node: name,
      ppm: fc.integer({ min: -50_000, max: 50_000 }),
    }),
    fc.record({
      atMs: at,
      kind: fc.constant('clockJump' as const),
      node: name,
      jumpMs: fc.integer({ min: 0, max: 2000 }),
    }),
    fc.record({ atMs: at, kind: fc.constant('diskWriteError' as const), node: name }),
    fc.record({ atMs: at, kind: fc.constant('diskCorruptRead' as const), node: name }),
    fc.record({ atMs: at, kind: fc.constant('transfer' as const), to: name }),
  );
}
