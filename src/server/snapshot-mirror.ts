/**
 * The node side of the snapshot worker: a StateMachineMirror that ships every state change to a
 * copy of the lock state machine on a worker thread, and asks that copy for snapshots.
 *
 * Operations are buffered and posted as one message per `flush` (the node server flushes after
 * every drain). A `snapshotAt(index)` request goes into the same stream right after the
 * operations that brought the node's machine to `index`, so the worker encodes exactly that
 * state while the node goes on applying. The worker never answers out of order.
 */
import { Worker } from 'node:worker_threads';
import type { LogIndex } from '../raft/types.js';
import type { LockMachineConfig } from '../statemachine/config.js';
import { AppliedRunWriter } from '../node/mirror-codec.js';
import type { MirrorOp, MirrorReply, MirrorWorkerData } from '../node/mirror-protocol.js';
import { isMirrorReply } from '../node/mirror-protocol.js';
import type { StateMachineMirror } from '../node/mirrored-state-machine.js';
import type { AppliedCommand } from '../raft/state-machine.js';

export interface SnapshotMirrorHandlers {
  /** The state machine's canonical bytes at `index`, as requested with `snapshotAt`. */
  readonly onSnapshot: (index: LogIndex, bytes: Uint8Array) => void;
  /** The worker failed or exited: no snapshot will come any more; the node must stop. */
  readonly onFailure: (error: Error) => void;
}

/** Applied commands are posted to the worker once this many bytes of them gather. */
export const feedBytesMax = 256 * 1024;

/** How often the node posts what has gathered anyway (see `flushIfDue`). */
export const feedIntervalMs = 100;

export class SnapshotMirror implements StateMachineMirror {
  private readonly worker: Worker;
  private handlers: SnapshotMirrorHandlers | null = null;
  /** A failure seen before the handlers were attached, reported when they are. */
  private earlyFailure: Error | null = null;
  private ops: MirrorOp[] = [];
  private readonly run = new AppliedRunWriter();
  private closed = false;
  private nextHeapId = 1;
  private readonly heapWaiters = new Map<number, { resolve(usedBytes: number): void; reject(error: Error): void }>();
  private failure: Error | null = null;

  private constructor(worker: Worker) {
    this.worker = worker;
    worker.on('message', (message: unknown) => this.onMessage(message));
    worker.on('error', (error: Error) => this.fail(new Error(`the snapshot worker failed: ${error.message}`)));
    worker.on('exit', (code: number) => {
      if (!this.closed) this.fail(new Error(`the snapshot worker exited unexpectedly (exit code ${code})`));
    });
  }

  /** Start the worker with an empty state machine of this configuration. */
  static start(machine: LockMachineConfig): SnapshotMirror {
    const data: MirrorWorkerData = { machine };
    return new SnapshotMirror(startWorker(data));
  }

  /** Where snapshots and failures go; a failure that happened already is reported at once. */
  attach(handlers: SnapshotMirrorHandlers): void {
    this.handlers = handlers;
    const early = this.earlyFailure;
    this.earlyFailure = null;
    if (early !== null) handlers.onFailure(early);
  }

  apply(command: AppliedCommand): void {
    if (this.closed) return;
    // Copied into the run: the payload may be a view into a large network frame.
    this.run.add(command);
  }

  restore(snapshot: Uint8Array): void {
    if (this.closed) return;
    this.push({ op: 'restore', snapshot: new Uint8Array(snapshot) });
  }

  /** Ask for the bytes at `index`: call when the node's machine is exactly at `index`. */
  snapshotAt(index: LogIndex): void {
    if (this.closed) return;
    this.push({ op: 'snapshot', index });
  }

  /**
   * Post only when it is worth a message: an operation is queued (a snapshot request, a restore)
   * or the applied commands gathered reach `feedBytesMax`. Each message wakes the worker thread,
   * which at one per drain cost more than the copy's applying; the node also flushes on a timer,
   * so the copy is never far behind when a snapshot is asked for.
   */
  flushIfDue(): void {
    if (this.ops.length > 0 || this.run.byteLength >= feedBytesMax) this.flush();
  }

  /** Post what was buffered since the last flush, as one message. */
  flush(): void {
    if (this.closed) return;
    this.closeRun();
    if (this.ops.length === 0) return;
    const ops = this.ops;
    this.ops = [];
    const transfer: ArrayBuffer[] = [];
    for (const op of ops) {
      if (op.op === 'apply') transfer.push(op.run.buffer as ArrayBuffer);
      else if (op.op === 'restore') transfer.push(op.snapshot.buffer as ArrayBuffer);
    }
    this.worker.postMessage({ ops }, transfer);
  }

  /** An operation after the applies buffered so far. */
  private push(op: MirrorOp): void {
    this.closeRun();
    this.ops.push(op);
  }

  private closeRun(): void {
    if (!this.run.isEmpty) this.ops.push({ op: 'apply', run: this.run.take() });
  }

  /**
   * The worker's V8 heap in use, after everything buffered so far was applied. Rejects with the
   * failure when the worker breaks first, or at once when the mirror is closed.
   */
  heapUsedBytes(): Promise<number> {
    if (this.closed) return Promise.reject(this.failure ?? new Error('the snapshot mirror is closed'));
    const id = this.nextHeapId++;
    this.push({ op: 'heap', id });
    this.flush();
    return new Promise((resolve, reject) => this.heapWaiters.set(id, { resolve, reject }));
  }

  /** Stop the worker (its state is only a copy); later calls do nothing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ops = [];
    this.run.take();
    await this.worker.terminate();
  }

  private onMessage(message: unknown): void {
    if (!isMirrorReply(message)) {
      this.fail(new Error('the snapshot worker sent an unknown message'));
      return;
    }
    const reply: MirrorReply = message;
    switch (reply.kind) {
      case 'snapshot':
        if (!this.closed) this.handlers?.onSnapshot(reply.index as LogIndex, reply.bytes);
        return;
      case 'heap': {
        const waiter = this.heapWaiters.get(reply.id);
        this.heapWaiters.delete(reply.id);
        waiter?.resolve(reply.usedBytes);
        return;
      }
      case 'broken':
        this.fail(new Error(`the snapshot worker's copy of the state machine broke: ${reply.message}`));
        return;
    }
  }

  private fail(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = error;
    for (const waiter of this.heapWaiters.values()) waiter.reject(error);
    this.heapWaiters.clear();
    void this.worker.terminate();
    if (this.handlers === null) this.earlyFailure = error;
    else this.handlers.onFailure(error);
  }
}

/**
 * The worker runs the compiled `snapshot-worker.js` next to this file in dist/, or the `.ts`
 * source when the node itself runs from source. Under tsx (Node 20 registers tsx's hooks on the
 * main thread only) the worker first registers tsx itself; under tap's ts-node loader the hooks
 * reach workers already.
 */
function startWorker(workerData: MirrorWorkerData): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './snapshot-worker.ts' : './snapshot-worker.js', import.meta.url);
  const underTsx = process.execArgv.some((arg) => arg.includes('tsx'));
  if (!fromSource || !underTsx) return new Worker(url, { workerData });
  const boot =
    `import(${JSON.stringify(tsxApi())})` +
    `.then((api) => { api.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

function tsxApi(): string {
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    return 'tsx/esm/api';
  }
}
