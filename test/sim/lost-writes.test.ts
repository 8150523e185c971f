// The simulator's disk can lose synced writes (armed corruption, then a power loss: a write cache
// that lied, a write-ahead log cut short), and keeps LevelLog's evidence of its last synced batch
// apart from the platter, so a node whose disk went back refuses to start and is replaced, as the
// production LOST_WRITES refusal asks. Here: the disk's check on its own (a fault always refused,
// an honest crash never), then whole clusters where one node at a time loses synced writes, as
// leader or follower, with no safety violation and every acknowledged write kept.
import t from 'tap';
import fc from 'fast-check';
import { SimDisk } from '../../src/sim/disk.js';
import { runSimulation } from '../../src/sim/simulator.js';
import { scenarioFromSeed } from '../../src/sim/scenario.js';
import type { FaultEvent } from '../../src/sim/faults.js';
import { createRng } from '../../src/util/rng.js';
import { modelOf, normal } from '../storage/fixtures/log-model.js';
import { buildRequests, stepArb } from '../storage/fixtures/request-sequences.js';
import { tracedCalmCluster } from './fixtures/traced-cluster.js';

function completeUntil(disk: SimDisk, untilMs: number): void {
  for (;;) {
    const at = disk.nextAt();
    if (at === null || at > untilMs) return;
    disk.completeNext(at);
  }
}

t.test('disk: a power loss while corruption is armed loses synced writes, and load refuses it for good', async (t) => {
  const disk = new SimDisk(createRng(3), { latencyMinMs: 1, latencyMeanMs: 0 });
  const requests = buildRequests(Array.from({ length: 12 }, (_, i) => [i % 3, 1, 2, 1, true] as const));
  requests.forEach((req, i) => disk.submit(req, i));
  completeUntil(disk, 1_000);
  disk.armReadCorruption();
  disk.crash(true);
  const loaded = disk.load();
  t.notOk(loaded.ok, 'the node refuses to start');
  if (!loaded.ok) t.match(loaded.error, /^lost writes it had acknowledged: .*synced batch/);
  t.notOk(disk.load().ok, 'and keeps refusing: the platter stays behind its evidence');
  disk.wipe();
  t.ok(disk.load().ok, 'a wiped disk (the replacement) starts empty');
});

t.test('disk: crashes that lose nothing acknowledged never refuse (property)', async (t) => {
  let runs = 0;
  fc.assert(
    fc.property(
      fc.array(stepArb, { minLength: 1, maxLength: 16 }),
      fc.array(fc.tuple(fc.nat(20), fc.nat(6), fc.boolean()), { maxLength: 4 }),
      (steps, crashes) => {
        runs++;
        const requests = buildRequests(steps);
        const disk = new SimDisk(createRng(runs), { latencyMinMs: 1, latencyMeanMs: 2 });
        let now = 0;
        let next = 0;
        // Submit some requests, let some complete, crash (process kill or power loss) and reload;
        // the node goes on from what the disk kept, as a restarted node does. Whatever was
        // acknowledged, the disk loads without a refusal, and holds a prefix of the requests.
        for (const [count, settleMs, powerLoss] of [...crashes, [requests.length, 1_000, false] as const]) {
          for (const stop = Math.min(requests.length, next + count); next < stop; next++)
            disk.submit(requests[next] as never, now++);
          completeUntil(disk, now + settleMs);
          disk.crash(powerLoss);
          const loaded = disk.load();
          if (!loaded.ok) {
            t.fail(`run ${runs}: refused after an honest crash: ${loaded.error}`);
            return false;
          }
          const kept = normal(loaded.value);
          let prefix = next;
          while (prefix >= 0 && JSON.stringify(normal(modelOf(requests.slice(0, prefix)))) !== JSON.stringify(kept))
            prefix--;
          if (prefix < 0) {
            t.fail(`run ${runs}: the disk holds no prefix of the requests`);
            return false;
          }
          next = prefix;
        }
        return next === requests.length;
      },
    ),
    { numRuns: 150 },
  );
});

for (const target of ['leader', 'follower'] as const) {
  t.test(
    `cluster: the ${target}'s disk loses synced writes; it is refused and replaced, nothing acknowledged is lost`,
    async (t) => {
      const cluster = tracedCalmCluster(t, 21, 60);
      if (cluster === undefined) return;
      const { sim, lines, leader } = cluster;
      const victim = target === 'leader' ? leader : (sim.names.find((name) => name !== leader) as string);
      const acked: string[] = [];
      for (let round = 0; round < 3; round++) {
        const at = sim.leader();
        if (at === null) continue;
        const ids = Array.from({ length: 30 }, (_, i) => sim.propose(at, new Uint8Array([round, i])));
        sim.runFor(300);
        for (const id of ids) if (sim.reply(id)?.code === 'OK') acked.push(id);
      }
      sim.inject({ atMs: sim.nowMs, kind: 'diskCorruptRead', node: victim });
      sim.inject({ atMs: sim.nowMs, kind: 'crash', node: victim, losePageCache: true });
      sim.runFor(500);
      sim.inject({ atMs: sim.nowMs, kind: 'restart', node: victim });
      sim.runFor(200);
      t.ok(
        lines.some((line) => line.includes(`${victim} refuses to start: lost writes it had acknowledged`)),
        'the victim refuses to start, naming the loss',
      );
      t.ok(sim.collectStats().refusedStarts >= 1, 'counted as a refused start');
      t.equal(sim.settle(20_000), null, 'the cluster settles with the victim replaced, no checker firing');
      const indexes = acked.map((id) => {
        const reply = sim.reply(id);
        return reply?.code === 'OK' ? reply.index : 0;
      });
      const top = Math.max(...indexes);
      t.ok(acked.length >= 60, `writes were acknowledged (${acked.length})`);
      for (const name of sim.names)
        t.ok((sim.machine(name)?.applied ?? 0) >= top, `${name} applied every acknowledged write`);
      t.equal(new Set(sim.names.map((name) => sim.machine(name)?.hash)).size, 1, 'the replicas agree');
    },
  );
}

t.test(
  'swarm: a node loses synced writes under random faults, across many seeds, with no safety violation',
  async (t) => {
    let lostWrites = 0;
    const seeds = 40;
    for (let seed = 1; seed <= seeds; seed++) {
      const base = scenarioFromSeed(seed, 5, 6_000, 'swarm');
      // One disk per run, as the fault schedule draws it (faults.ts): a replaced node must catch up
      // before another can be lost, or no procedure could recover the data.
      const node = `n${(seed % 5) + 1}`;
      const atMs = 1_000 + ((seed * 389) % 3_000);
      const faults: FaultEvent[] = [
        { atMs, kind: 'diskCorruptRead', node },
        { atMs, kind: 'crash', node, losePageCache: true },
        { atMs: atMs + 300, kind: 'restart', node },
      ];
      const events = [...base.events.filter((e) => e.kind !== 'diskCorruptRead'), ...faults].sort(
        (a, b) => a.atMs - b.atMs,
      );
      const outcome = runSimulation({
        scenario: { ...base, events },
        replayFrom: { kind: 'seed' },
        onTrace: (line) => {
          if (line.includes('refuses to start: lost writes it had acknowledged')) lostWrites++;
        },
      });
      if (!outcome.passed) t.fail(`seed ${seed}: ${outcome.kind}: ${outcome.message}`);
    }
    t.ok(
      lostWrites >= seeds / 2,
      `a node refused to start after losing synced writes in ${lostWrites} of ${seeds} runs`,
    );
  },
);
