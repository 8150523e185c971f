import { performance } from 'node:perf_hooks';
import type { PersistentState } from '../raft/types.js';
import { assert } from '../util/assert.js';
import type { DurableLog, PersistRequest } from '../node/durable-log.js';
import { canJoinBatch, mergeAllRequests } from './merge-requests.js';

export interface GroupCommitOptions {
  /** At most this many requests are merged into one batch (bounds the batch's memory). */
  readonly batchRequestsMax?: number;
  /**
   * Called once each batch is durable: the merged `batch`, how many `requests` it merged, and the
   * `seconds` its write (and fsync, when `batch.sync`) took. For metrics; must not throw.
   */
  readonly onBatchWritten?: (batch: PersistRequest, requests: number, seconds: number) => void;
  /**
   * Default true: the first request after an idle period waits one event-loop turn, so that what
   * else is submitted in that turn joins its batch. False when the caller gathers a turn's work
   * into one request already (the node's driver: one Ready, one write), where the wait would only
   * cost a loop turn and its latency before every write (docs/storage.md, "Group commit").
   */
  readonly gatherTurn?: boolean;
}

export const defaultBatchRequestsMax = 4096;

export interface GroupCommitStats {
  readonly requests: number;
  readonly batches: number;
}

interface Waiter {
  readonly request: PersistRequest;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit in front of a DurableLog: every request submitted while the previous batch is being
 * written (or within the same event-loop turn) is merged into the next batch, which is synced if any
 * of its requests asked for it. One fsync then covers many proposals: that is what lets throughput
 * grow with the number of concurrent proposers instead of being capped by the disk's sync rate.
 *
 * A request carrying a snapshot always starts a new batch (see `canJoinBatch`); snapshots are rare.
 *
 * Guarantees: batches go out one at a time in submission order (a request is never written before
 * an earlier one); each promise resolves, in submission order, only once its batch is written (and
 * synced when it asked for sync). Fail-stop: when a batch fails, its requests and every queued or
 * later one reject with that error.
 *
 * A log that confirms a batch after writing it (LevelLog's evidence, see `DurableLog.persist`)
 * says when the batch is in; the next batch is formed and handed over then, so the confirmation
 * of one batch overlaps the write of the next.
 */
export class GroupCommitter implements DurableLog {
  private readonly batchRequestsMax: number;
  private readonly onBatchWritten: GroupCommitOptions['onBatchWritten'];
  private readonly gatherTurn: boolean;
  private queue: Waiter[] = [];
  /** A batch is being written and the log has not yet said it is in (see `flush`). */
  private writing = false;
  /** Batches handed to the log and not yet acknowledged. */
  private inFlight = 0;
  private scheduled = false;
  private failure: { readonly error: unknown } | null = null;
  private idleWaiters: (() => void)[] = [];
  private requestCount = 0;
  private batchCount = 0;

  constructor(
    private readonly log: DurableLog,
    options: GroupCommitOptions = {},
  ) {
    this.batchRequestsMax = options.batchRequestsMax ?? defaultBatchRequestsMax;
    this.onBatchWritten = options.onBatchWritten;
    this.gatherTurn = options.gatherTurn ?? true;
    assert(Number.isSafeInteger(this.batchRequestsMax) && this.batchRequestsMax >= 1, 'batchRequestsMax must be ≥ 1');
  }

  stats(): GroupCommitStats {
    return { requests: this.requestCount, batches: this.batchCount };
  }

  load(): Promise<PersistentState> {
    return this.log.load();
  }

  persist(request: PersistRequest): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure.error);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.requestCount++;
      this.schedule();
    });
  }

  /** Writes everything already submitted, then closes the log underneath. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      if (this.isIdle()) resolve();
      else this.idleWaiters.push(resolve);
    });
    await this.log.close();
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.inFlight === 0 && !this.scheduled;
  }

  // A turn's delay before each batch lets requests made in the same turn, and the follow-up
  // requests of proposers whose promises were just resolved, join the batch.
  private schedule(): void {
    if (this.writing || this.scheduled || this.queue.length === 0 || this.failure !== null) return;
    if (!this.gatherTurn) return this.flush();
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    let take = 1;
    while (
      take < this.queue.length &&
      take < this.batchRequestsMax &&
      canJoinBatch((this.queue[take] as Waiter).request)
    )
      take++;
    const batch = this.queue.splice(0, take);
    const first = batch[0];
    if (first === undefined) return this.settleIdle();
    let merged: PersistRequest;
    try {
      merged = mergeAllRequests(batch.map((waiter) => waiter.request));
    } catch (error) {
      return this.fail(error, batch);
    }
    this.writing = true;
    this.inFlight++;
    this.batchCount++;
    // The next batch may go once this one is in the log, even while the log is still confirming
    // it (LevelLog writes its evidence then): the log writes batches in the order it gets them
    // and acknowledges them in that order, so nothing is reordered, and the confirmation of one
    // batch overlaps the write of the next.
    const startedMs = performance.now();
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.writing = false;
      this.schedule();
    };
    this.log.persist(merged, release).then(
      () => {
        this.inFlight--;
        this.onBatchWritten?.(merged, batch.length, (performance.now() - startedMs) / 1000);
        for (const waiter of batch) waiter.resolve();
        release();
        this.settleIdle();
      },
      (error: unknown) => {
        this.inFlight--;
        released = true;
        this.writing = false;
        this.fail(error, batch);
      },
    );
  }

  private fail(error: unknown, batch: readonly Waiter[]): void {
    // The first failure is the one every later request is told about.
    this.failure ??= { error };
    const rejected = [...batch, ...this.queue];
    this.queue = [];
    for (const waiter of rejected) waiter.reject(this.failure.error);
    this.settleIdle();
  }

  private settleIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
