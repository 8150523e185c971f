// The seeded PRNG is the root of every simulator replay: the same seed must give the same stream,
// forks must not depend on how much the parent was used, and draws must stay in range.
import t from 'tap';
import fc from 'fast-check';
import { createRng } from '../../src/util/rng.js';

t.test('same seed, same stream; different seeds differ', async (t) => {
  const a = createRng(42);
  const b = createRng(42);
  const c = createRng(43);
  const sa = Array.from({ length: 32 }, () => a.u32());
  const sb = Array.from({ length: 32 }, () => b.u32());
  const sc = Array.from({ length: 32 }, () => c.u32());
  t.same(sa, sb);
  t.not(JSON.stringify(sa), JSON.stringify(sc));
});

t.test('fork depends on the seed and label, not on the parent position', async (t) => {
  const a = createRng(7);
  const b = createRng(7);
  for (let i = 0; i < 100; i++) b.u32();
  t.equal(a.fork('network').u32(), b.fork('network').u32());
  t.not(a.fork('network').u32(), a.fork('disk:n1').u32());
});

t.test('int, float and pick stay in range', async (t) => {
  fc.assert(
    fc.property(fc.nat(), fc.integer({ min: -50, max: 50 }), fc.nat({ max: 100 }), (seed, lo, span) => {
      const rng = createRng(seed);
      for (let i = 0; i < 50; i++) {
        const v = rng.int(lo, lo + span);
        if (v < lo || v > lo + span || !Number.isInteger(v)) return false;
        const f = rng.float();
        if (f < 0 || f >= 1) return false;
      }
      return true;
    }),
    { numRuns: 200 },
  );
  t.throws(() => createRng(-1));
  t.throws(() => createRng(0).pick([]));
});

t.test('large seeds (above 2^32) are distinct from their low bits', async (t) => {
  t.not(createRng(2 ** 40 + 5).u32(), createRng(5).u32());
});
