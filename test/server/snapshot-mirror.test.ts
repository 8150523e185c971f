// The snapshot worker keeps a copy of the lock state machine on another thread, fed the same
// applies and restores as the node's own machine. These tests prove, with a real worker, that a
// snapshot it takes at index i is byte for byte the canonical snapshot of the node's state at i
// (Raft §7: a snapshot is the state machine's state at its last included index) although the
// node keeps applying while it is taken, and that a broken worker is reported, never ignored.
import t from 'tap';
import type { LogIndex } from '../../src/raft/types.js';
import { MirroredStateMachine } from '../../src/node/mirrored-state-machine.js';
import { SnapshotMirror } from '../../src/server/snapshot-mirror.js';
import { defaultLockMachineConfig } from '../../src/statemachine/config.js';
import type { LockMachineConfig } from '../../src/statemachine/config.js';
import { LockStateMachine } from '../../src/statemachine/machine.js';
import { encodeSnapshot } from '../../src/statemachine/snapshot.js';
import { createRng } from '../../src/util/rng.js';
import { LockCommandStream } from './fixtures/lock-commands.js';

const config: LockMachineConfig = { ...defaultLockMachineConfig, eventHistoryMax: 64 };

interface Received {
  readonly index: number;
  readonly bytes: Uint8Array;
}

function collect(mirror: SnapshotMirror): {
  readonly received: Received[];
  readonly failures: Error[];
  until(count: number): Promise<void>;
} {
  const received: Received[] = [];
  const failures: Error[] = [];
  let wake: (() => void) | null = null;
  mirror.attach({
    onSnapshot: (index, bytes) => {
      received.push({ index, bytes });
      wake?.();
    },
    onFailure: (error) => {
      failures.push(error);
      wake?.();
    },
  });
  return {
    received,
    failures,
    async until(count) {
      while (received.length < count && failures.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    },
  };
}

t.test('snapshots taken by the worker equal the node state at the requested index, while applies go on', async (t) => {
  // One worker for all seeds (starting one costs a second of CPU under the test loader): each
  // seed starts by resetting both copies to the empty state.
  const mirror = SnapshotMirror.start(config);
  const sink = collect(mirror);
  const empty = encodeSnapshot(new LockStateMachine(config).state);
  for (const seed of [1, 2, 3]) {
    const rng = createRng(seed);
    const main = new LockStateMachine(config);
    const machine = new MirroredStateMachine(main, mirror);
    t.ok(machine.restore(empty).ok);
    sink.received.length = 0;
    const stream = new LockCommandStream(rng.fork('commands'));
    const expected: Received[] = [];
    let restores = 0;
    for (let drain = 0; drain < 150; drain++) {
      // One drain's worth of commands, then (sometimes) a snapshot request at the end of it.
      const count = rng.int(0, 40);
      for (let i = 0; i < count; i++) machine.apply(stream.next(main.state));
      if (rng.chance(1, 5)) {
        mirror.snapshotAt(stream.index as LogIndex);
        expected.push({ index: stream.index, bytes: encodeSnapshot(main.state) });
      }
      if (rng.chance(1, 40) && expected.length > 0) {
        // An InstallSnapshot: both machines go back to an earlier state and continue from there.
        const from = rng.pick(expected);
        t.ok(machine.restore(from.bytes).ok);
        restores += 1;
      }
      // As the node does: post at the end of a drain only what must not wait (a request, a
      // restore, many commands), and everything on its timer now and then.
      if (rng.chance(1, 8)) mirror.flush();
      else mirror.flushIfDue();
      // Let the worker run concurrently now and then, as it does beside a live node.
      if (rng.chance(1, 10)) await new Promise((resolve) => setImmediate(resolve));
    }
    await sink.until(expected.length);
    t.same(sink.failures, [], `seed ${seed}: the worker did not fail`);
    t.equal(sink.received.length, expected.length, `seed ${seed}: every request answered (${restores} restores)`);
    t.ok(expected.length >= 10, `seed ${seed}: enough snapshots to mean something (${expected.length})`);
    const mismatched = expected.filter((e, i) => {
      const got = sink.received[i];
      return (
        got === undefined || got.index !== e.index || Buffer.compare(Buffer.from(got.bytes), Buffer.from(e.bytes)) !== 0
      );
    });
    t.same(
      mismatched.map((e) => e.index),
      [],
      `seed ${seed}: answers in order, byte-identical to the node's state at each index`,
    );
  }
  await mirror.close();
});

t.test('a snapshot the node refuses leaves both copies untouched; restore from empty and reset agree', async (t) => {
  const rng = createRng(7);
  const main = new LockStateMachine(config);
  const mirror = SnapshotMirror.start(config);
  const sink = collect(mirror);
  const machine = new MirroredStateMachine(main, mirror);
  const stream = new LockCommandStream(rng);
  for (let i = 0; i < 300; i++) machine.apply(stream.next(main.state));
  const at300 = encodeSnapshot(main.state);
  t.notOk(machine.restore(new Uint8Array([1, 2, 3])).ok, 'garbage is refused by the node');
  mirror.snapshotAt(300 as LogIndex);
  // Reset to the empty state (a fresh node's snapshot), then apply on top of it.
  const empty = encodeSnapshot(new LockStateMachine(config).state);
  t.ok(machine.restore(empty).ok);
  mirror.snapshotAt(300 as LogIndex);
  for (let i = 0; i < 50; i++) machine.apply(stream.next(main.state));
  mirror.snapshotAt(stream.index as LogIndex);
  const atEnd = encodeSnapshot(main.state);
  mirror.flush();
  await sink.until(3);
  t.same(sink.failures, []);
  t.same(
    Buffer.from(sink.received[0]?.bytes ?? []),
    Buffer.from(at300),
    'the refused snapshot did not reach the worker',
  );
  t.same(Buffer.from(sink.received[1]?.bytes ?? []), Buffer.from(empty), 'restored to the empty state');
  t.same(Buffer.from(sink.received[2]?.bytes ?? []), Buffer.from(atEnd), 'and equal again after more applies');
  await mirror.close();
});

t.test(
  'a worker whose copy breaks is reported as a failure, with what broke, even before handlers are attached',
  async (t) => {
    const mirror = SnapshotMirror.start(config);
    // Fed directly (no MirroredStateMachine): a snapshot the node itself would have refused.
    mirror.restore(new Uint8Array([1, 2, 3]));
    mirror.snapshotAt(1 as LogIndex);
    mirror.flush();
    // The worker answers in order: the heap request queued after the bad restore fails with it.
    await t.rejects(mirror.heapUsedBytes(), /copy of the state machine broke/, 'nothing is answered after the break');
    const sink = collect(mirror);
    await sink.until(1);
    t.equal(sink.received.length, 0, 'no snapshot from a broken copy');
    t.equal(sink.failures.length, 1, 'the failure seen before attach is reported on attach');
    t.match(sink.failures[0]?.message ?? '', /snapshot worker's copy of the state machine broke: .*refused a snapshot/);
    await mirror.close();
  },
);
