// The nemesis must draw only faults that mean something: a one-way cut or a clog is a link between
// two different nodes. A "link" from a node to itself is no fault at all (the network never
// carries such a packet), so a schedule full of them tests less than it claims to.
import t from 'tap';
import fc from 'fast-check';
import type { FaultEvent } from '../../src/sim/faults.js';
import { drawFaultSchedule, drawWorld } from '../../src/sim/faults.js';
import { faultEventArbitrary } from '../../src/sim/scenario-arbitrary.js';
import { createRng } from '../../src/util/rng.js';

const links = (events: readonly FaultEvent[]) =>
  events.filter((e): e is Extract<FaultEvent, { kind: 'oneWay' | 'clog' }> => e.kind === 'oneWay' || e.kind === 'clog');

t.test('the nemesis never cuts or clogs a link from a node to itself', async (t) => {
  for (const nodes of [1, 2, 3, 5]) {
    let drawn = 0;
    const selfLinks: string[] = [];
    for (let seed = 1; seed <= 400; seed++) {
      const rng = createRng(seed);
      const world = drawWorld(rng.fork('world'), 'swarm');
      const events = drawFaultSchedule(rng.fork('nemesis'), world, nodes, 20_000);
      for (const e of links(events)) {
        drawn += 1;
        if (e.from === e.to) selfLinks.push(`seed ${seed}: ${e.kind} ${e.from}->${e.to}`);
      }
    }
    t.same(selfLinks, [], `${nodes} nodes: no self-links`);
    if (nodes >= 2) t.ok(drawn > 50, `${nodes} nodes: ${drawn} one-way cuts and clogs drawn`);
    else t.equal(drawn, 0, 'one node has no links to cut');
  }
});

t.test('generated scenarios never cut or clog a link from a node to itself', async (t) => {
  const samples = fc.sample(faultEventArbitrary(3, 5000), { numRuns: 3000, seed: 15 });
  const drawn = links(samples);
  t.ok(drawn.length > 100, `${drawn.length} one-way cuts and clogs generated`);
  t.same(
    drawn.filter((e) => e.from === e.to),
    [],
    'no self-links',
  );
});
