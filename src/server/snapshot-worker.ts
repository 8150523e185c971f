/**
 * The snapshot worker: a copy of the lock state machine on its own thread. It applies the same
 * commands and restores as the node's own machine, in the same order (see SnapshotMirror), and
 * encodes a snapshot whenever asked, so the node's event loop never stalls for the encoding.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { getHeapStatistics } from 'node:v8';
import { LockStateMachine } from '../statemachine/machine.js';
import { assert, assertNever } from '../util/assert.js';
import type { MirrorOp, MirrorReply, MirrorWorkerData } from '../node/mirror-protocol.js';
import { forEachApplied } from '../node/mirror-codec.js';
import { isMirrorBatch } from '../node/mirror-protocol.js';

const port = parentPort;
assert(port !== null, 'the snapshot worker runs in a worker thread');
const data = workerData as MirrorWorkerData;
const machine = new LockStateMachine(data.machine);
let broken = false;

function reply(message: MirrorReply, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(message, transfer);
}

function run(op: MirrorOp): void {
  switch (op.op) {
    case 'apply':
      forEachApplied(op.run, (command) => machine.apply(command));
      return;
    case 'restore': {
      const restored = machine.restore(op.snapshot);
      assert(
        restored.ok,
        () => `the mirror refused a snapshot the node restored: ${restored.ok ? '' : restored.error}`,
      );
      return;
    }
    case 'snapshot': {
      // The encoder may return a view of a buffer it reuses: copy (here, off the node's thread)
      // into a buffer of our own and hand that over instead of cloning it again.
      const bytes = new Uint8Array(machine.snapshot());
      reply({ kind: 'snapshot', index: op.index, bytes }, [bytes.buffer]);
      return;
    }
    case 'heap':
      // Only benchmarks expose gc (--expose_gc); it makes the figure the live state, not garbage.
      (globalThis as { gc?: () => void }).gc?.();
      reply({ kind: 'heap', id: op.id, usedBytes: getHeapStatistics().used_heap_size });
      return;
    default:
      assertNever(op, 'mirror op');
  }
}

port.on('message', (message: unknown) => {
  if (broken) return;
  try {
    assert(isMirrorBatch(message), 'the snapshot worker got a message that is not a batch');
    for (const op of message.ops) run(op);
  } catch (error) {
    broken = true;
    reply({ kind: 'broken', message: error instanceof Error ? error.message : String(error) });
  }
});
