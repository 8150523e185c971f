// The simulator's fault model must itself be right, or a green sweep proves nothing. These tests
// pin down the network (ordering by delivery time then sequence, loss, duplication, symmetric,
// bridge and one-way partitions, clogs, heal), the disk (atomic ordered batches, a crash loses the
// unsynced suffix, a write error stops the node, corruption is caught on load) and the clocks
// (drift, forward jumps, never backwards).
import t from 'tap';
import fc from 'fast-check';
import type { NodeId, Term, LogIndex, Entry } from '../../src/raft/types.js';
import { nodeId } from '../../src/raft/types.js';
import type { PersistRequest } from '../../src/node/durable-log.js';
import { SimClock } from '../../src/sim/clock.js';
import { SimDisk } from '../../src/sim/disk.js';
import { SimNetwork } from '../../src/sim/network.js';
import { TimeHeap } from '../../src/sim/heap.js';
import { createRng } from '../../src/util/rng.js';
import { modelOf, normal } from '../storage/fixtures/log-model.js';
import { buildRequests, stepArb } from '../storage/fixtures/request-sequences.js';

interface Packet {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly n: number;
}
const [a, b, c, d, e] = ['n1', 'n2', 'n3', 'n4', 'n5'].map(nodeId) as [NodeId, NodeId, NodeId, NodeId, NodeId];
const all = [a, b, c, d, e];

function drainAll(net: SimNetwork<Packet>, untilMs = 1_000_000): { at: number; p: Packet }[] {
  const out: { at: number; p: Packet }[] = [];
  for (;;) {
    const at = net.nextAt();
    if (at === null || at > untilMs) return out;
    const p = net.popDue(at);
    if (p !== undefined) out.push({ at, p });
  }
}

t.test('time heap pops by time, then insertion order', async (t) => {
  const h = new TimeHeap<string>();
  const input: [number, string][] = [
    [5, 'a'],
    [1, 'b'],
    [5, 'c'],
    [3, 'd'],
    [1, 'e'],
    [9, 'f'],
    [3, 'g'],
  ];
  for (const [at, v] of input) h.push(at, v);
  const out: string[] = [];
  for (let x = h.pop(); x !== undefined; x = h.pop()) out.push(x.value);
  t.same(out, ['b', 'e', 'd', 'g', 'a', 'c', 'f']);
});

t.test('network: deliveries in (deliverAt, sequence) order; exponential delay reorders', async (t) => {
  const net = new SimNetwork<Packet>(createRng(3), { delayMinMs: 2, delayMeanMs: 20, lossRate: 0, duplicateRate: 0 });
  for (let n = 0; n < 200; n++) net.send({ from: a, to: b, n }, 0);
  const got = drainAll(net);
  t.equal(got.length, 200, 'nothing lost without loss');
  t.ok(
    got.every((x, i) => i === 0 || (got[i - 1]?.at ?? 0) <= x.at),
    'delivery times never decrease',
  );
  t.ok(
    got.every((x) => x.at >= 2),
    'minimum delay respected',
  );
  t.ok(
    got.some((x, i) => i > 0 && (got[i - 1]?.p.n ?? 0) > x.p.n),
    'some packets overtake others',
  );
  const sameTime = got.filter((x, i) => i > 0 && got[i - 1]?.at === x.at);
  t.ok(
    sameTime.every((x) => got.findIndex((y) => y === x) > 0),
    'ties keep send order',
  );
});

t.test('network: loss and duplication at their rates, same seed same fate', async (t) => {
  const run = (): number[] => {
    const net = new SimNetwork<Packet>(createRng(11), {
      delayMinMs: 0,
      delayMeanMs: 1,
      lossRate: 0.2,
      duplicateRate: 0.1,
    });
    for (let n = 0; n < 5000; n++) net.send({ from: a, to: b, n }, 0);
    t.ok(net.stats.lost > 800 && net.stats.lost < 1200, `about 20% lost (${net.stats.lost})`);
    t.ok(
      net.stats.duplicated > 250 && net.stats.duplicated < 550,
      `about 10% of survivors duplicated (${net.stats.duplicated})`,
    );
    return drainAll(net).map((x) => x.p.n);
  };
  t.same(run(), run(), 'deterministic for a seed');
});

t.test('network: partitions of every shape, and heal', async (t) => {
  const net = new SimNetwork<Packet>(createRng(1), { delayMinMs: 1, delayMeanMs: 0, lossRate: 0, duplicateRate: 0 });
  const reach = (): string[] => {
    for (const x of all) for (const y of all) if (x !== y) net.send({ from: x, to: y, n: 0 }, 0);
    return drainAll(net)
      .map(({ p }) => `${p.from}${p.to}`)
      .sort();
  };
  net.partition(all, [
    [a, b],
    [c, d, e],
  ]);
  const groups = reach();
  t.ok(groups.includes('n1n2') && groups.includes('n3n5'), 'inside a group');
  t.notOk(
    groups.some((l) => ['n1n3', 'n3n1', 'n2n5', 'n5n2'].includes(l)),
    'not across',
  );
  net.heal();
  t.equal(reach().length, 20, 'healed: all 20 links');

  net.isolate(all, c);
  t.notOk(
    reach().some((l) => l.includes('n3')),
    'isolated node hears and says nothing',
  );
  net.heal();

  net.bridge(all, c);
  const bridged = reach();
  t.ok(
    ['n3n1', 'n1n3', 'n3n5', 'n5n3'].every((l) => bridged.includes(l)),
    'the bridge talks to both halves',
  );
  t.notOk(bridged.includes('n1n5') || bridged.includes('n5n1'), 'the halves do not talk');
  net.heal();

  net.cutOneWay(a, b);
  const oneWay = reach();
  t.notOk(oneWay.includes('n1n2'), 'a→b cut');
  t.ok(oneWay.includes('n2n1'), 'b→a still works (asymmetric)');
  net.heal();

  net.send({ from: d, to: e, n: 1 }, 0);
  net.partition(all, [[d], [e]]);
  t.same(drainAll(net), [], 'a packet in flight when the link is cut is lost');
});

t.test('network: a clogged link holds packets and releases them in order', async (t) => {
  const net = new SimNetwork<Packet>(createRng(1), { delayMinMs: 1, delayMeanMs: 0, lossRate: 0, duplicateRate: 0 });
  net.clog(a, b, 500);
  for (let n = 0; n < 5; n++) net.send({ from: a, to: b, n }, n);
  net.send({ from: b, to: a, n: 99 }, 0);
  const got = drainAll(net);
  t.same(
    got.map((x) => x.p.n),
    [99, 0, 1, 2, 3, 4],
  );
  t.ok(
    got.slice(1).every((x) => x.at === 500),
    'released when the clog ends',
  );
});

const entry = (index: number, term: number): Entry => ({ index: index as LogIndex, term: term as Term, kind: 'noop' });
const write = (seq: number, entries: Entry[], sync: boolean, termValue = 1): PersistRequest => ({
  seq,
  hardState: { term: termValue as Term, vote: null, commit: 0 as LogIndex },
  entries,
  snapshot: null,
  sync,
});

const snapshotWrite = (seq: number, index: number, data: number, termValue = 1): PersistRequest => ({
  seq,
  hardState: null,
  entries: [],
  snapshot: {
    meta: { index: index as LogIndex, term: termValue as Term, conf: { voters: [a], learners: [] } },
    data: new Uint8Array([data]),
  },
  sync: true,
});

/**
 * A disk with no latency that was asked to write entries 1-5 of term 1 (write 1, synced), then a
 * snapshot at 3 (write 2); neither is complete yet.
 */
function diskWithSnapshotAt3(): SimDisk {
  const disk = new SimDisk(createRng(5), { latencyMinMs: 0, latencyMeanMs: 0 });
  disk.submit(
    write(
      1,
      [1, 2, 3, 4, 5].map((i) => entry(i, 1)),
      true,
    ),
    0,
  );
  disk.submit(snapshotWrite(2, 3, 1), 0);
  return disk;
}

function completeAll(disk: SimDisk): number[] {
  const done: number[] = [];
  for (;;) {
    const at = disk.nextAt();
    if (at === null) return done;
    const c = disk.completeNext(at);
    if (c === undefined) return done;
    done.push(c.kind === 'done' ? c.request.seq : -c.request.seq);
  }
}

t.test('disk: batches complete in order; a crash loses the in-flight and unsynced suffix', async (t) => {
  const disk = new SimDisk(createRng(5), { latencyMinMs: 1, latencyMeanMs: 5 });
  disk.submit(write(1, [entry(1, 1), entry(2, 1)], true), 0);
  disk.submit(write(2, [entry(3, 1)], false), 0);
  disk.submit(write(3, [entry(4, 1)], false), 0);
  t.same(completeAll(disk), [1, 2, 3], 'in submission order');
  disk.submit(write(4, [entry(5, 1)], true), 100);
  disk.crash(true);
  const loaded = disk.load();
  t.ok(loaded.ok);
  if (loaded.ok)
    t.same(
      loaded.value.entries.map((x) => x.index),
      [1, 2],
      'unsynced 3–4 and in-flight 5 lost on power loss',
    );

  disk.submit(write(5, [entry(3, 2)], false), 200);
  completeAll(disk);
  disk.crash(false);
  const kept = disk.load();
  if (kept.ok)
    t.same(
      kept.value.entries.map((x) => `${x.index}/${x.term}`),
      ['1/1', '2/1', '3/2'],
      'a process kill keeps the page cache',
    );

  disk.submit(write(6, [entry(2, 3)], true, 3), 300);
  completeAll(disk);
  disk.crash(true);
  const replaced = disk.load();
  if (replaced.ok) {
    t.same(
      replaced.value.entries.map((x) => `${x.index}/${x.term}`),
      ['1/1', '2/3'],
      'a write replaces the suffix from its first index',
    );
    t.equal(replaced.value.hardState.term, 3);
  }
});

t.test('disk: a write error fails that batch and everything after it', async (t) => {
  const disk = new SimDisk(createRng(5), { latencyMinMs: 1, latencyMeanMs: 0 });
  disk.submit(write(1, [entry(1, 1)], true), 0);
  completeAll(disk);
  disk.armWriteError();
  disk.submit(write(2, [entry(2, 1)], true), 10);
  disk.submit(write(3, [entry(3, 1)], true), 10);
  t.same(completeAll(disk), [-2], 'batch 2 fails, batch 3 never completes');
  disk.crash(true);
  const loaded = disk.load();
  if (loaded.ok)
    t.same(
      loaded.value.entries.map((x) => x.index),
      [1],
    );
});

t.test('disk: snapshots drop covered entries; armed corruption fails the next load once', async (t) => {
  const disk = diskWithSnapshotAt3();
  completeAll(disk);
  disk.crash(true);
  const loaded = disk.load();
  if (loaded.ok) {
    t.equal(loaded.value.snapshot?.meta.index, 3);
    t.same(
      loaded.value.entries.map((x) => x.index),
      [4, 5],
      'entries after the snapshot are kept',
    );
  }
  // A leader's snapshot from another history (different term at its index) replaces the log.
  disk.submit(snapshotWrite(3, 4, 2, 2), 0);
  completeAll(disk);
  disk.crash(true);
  const replacedLog = disk.load();
  if (replacedLog.ok)
    t.same(
      [replacedLog.value.snapshot?.meta.index, replacedLog.value.entries.length],
      [4, 0],
      'entry 5 of the old history is gone',
    );
  disk.armReadCorruption();
  t.notOk(disk.load().ok, 'corruption detected: the node refuses to start');
  t.ok(disk.load().ok, 'corruption is reported once');
  disk.wipe();
  const wiped = disk.load();
  if (wiped.ok) t.same([wiped.value.snapshot, wiped.value.entries.length], [null, 0]);
});

// The simulated disk must keep LevelLog's contract, or a green sweep would prove Raft against a
// storage that production does not have. Both are checked against the one reference model.
t.test('disk: stores what the storage model does; a crash keeps exactly the synced prefix', async (t) => {
  let checked = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 14 }), async (steps) => {
      const requests = buildRequests(steps);
      const submitAll = (): SimDisk => {
        const disk = new SimDisk(createRng(5), { latencyMinMs: 1, latencyMeanMs: 1 });
        requests.forEach((req, i) => disk.submit(req, i));
        completeAll(disk);
        return disk;
      };
      let lastSynced = -1;
      requests.forEach((req, i) => {
        if (req.sync) lastSynced = i;
      });
      const killed = submitAll();
      killed.crash(false);
      const afterKill = killed.load();
      const powerLost = submitAll();
      powerLost.crash(true);
      const afterPowerLoss = powerLost.load();
      t.same(
        afterKill.ok ? normal(afterKill.value) : afterKill.error,
        normal(modelOf(requests)),
        'a process kill keeps every completed write',
      );
      t.same(
        afterPowerLoss.ok ? normal(afterPowerLoss.value) : afterPowerLoss.error,
        normal(modelOf(requests.slice(0, lastSynced + 1))),
        'power loss keeps the writes up to the last synced one',
      );
      checked++;
    }),
    { numRuns: 60 },
  );
  t.equal(checked, 60);
});

t.test('disk: a snapshot at the stored index replaces it; an older one is a writer bug', async (t) => {
  const disk = diskWithSnapshotAt3();
  disk.submit(snapshotWrite(3, 3, 2), 0);
  completeAll(disk);
  disk.crash(true);
  const loaded = disk.load();
  t.same(
    loaded.ok ? [[...(loaded.value.snapshot?.data ?? [])], loaded.value.entries.map((x) => x.index)] : loaded.error,
    [[2], [4, 5]],
    'the later data, the same tail',
  );
  disk.submit(snapshotWrite(4, 2, 3), 0);
  t.throws(() => completeAll(disk), /snapshot at 2, older than the stored one at 3/);
});

t.test('clock: drift scales elapsed time, jumps go forward only, never backwards', async (t) => {
  const clock = new SimClock(1000, 0);
  t.equal(clock.read(1000), 2000);
  clock.setDrift(1000, 10_000);
  t.equal(clock.read(2000), 3010, '+1% drift');
  clock.setDrift(2000, -10_000);
  t.ok(Math.abs(clock.read(3000) - 4000) < 1e-6, '-1% drift');
  clock.jumpForward(3000, 500);
  t.ok(Math.abs(clock.read(3000) - 4500) < 1e-6, 'jumped forward');
  t.throws(() => clock.jumpForward(3000, -1), 'monotonic clocks do not jump back');
  t.throws(() => clock.read(2000), 'true time does not go back');
});
