import type { EvidenceWriter } from './evidence.js';
import type { LogMark } from '../node/log-mark.js';

interface Waiter {
  readonly generation: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Writes the evidence of synced batches (evidence.ts), one write at a time and coalescing: while
 * one record is being written, the batches the log syncs meanwhile wait, and the next write
 * records the newest of them. The log does not wait for the evidence before writing its next
 * batch, so under load the evidence's sync overlaps the log's next one instead of adding to it;
 * only the acknowledgement waits for both.
 *
 * `durable(generation)` resolves once the evidence covers that generation, in generation order.
 * A failed write rejects every waiter, present and future, with the error `onFailure` makes of it
 * (the log stops: fail-stop, as for a failed batch).
 */
export class EvidenceRecorder {
  private wanted: LogMark | null = null;
  private writing = false;
  private recorded: number;
  private latest: number;
  private failure: { readonly error: unknown } | null = null;
  private waiters: Waiter[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly writer: EvidenceWriter,
    /** The generation the evidence already covers (what the log held at load). */
    recorded: number,
    private readonly beforeWrite: ((generation: number) => void) | null,
    private readonly onFailure: (error: unknown, generation: number) => unknown,
  ) {
    this.recorded = recorded;
    this.latest = recorded;
  }

  /** A synced batch left the log at `mark`: its evidence is to be written. */
  want(mark: LogMark): void {
    this.wanted = mark;
    this.latest = mark.generation;
    this.pump();
  }

  /**
   * Resolves once the evidence covers everything wanted so far (the batches acknowledged before
   * this one included, so acknowledgements keep the log's order).
   */
  durable(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure.error);
    if (this.recorded >= this.latest) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.waiters.push({ generation: this.latest, resolve, reject }));
  }

  /** Resolves when no evidence write is in flight or wanted (or after a failure). */
  idle(): Promise<void> {
    if (!this.writing && (this.wanted === null || this.failure !== null)) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    await this.idle();
    await this.writer.close();
  }

  private pump(): void {
    const mark = this.wanted;
    if (this.writing || this.failure !== null || mark === null) return;
    this.wanted = null;
    this.writing = true;
    const write = async (): Promise<void> => {
      this.beforeWrite?.(mark.generation);
      await this.writer.record(mark);
    };
    write().then(
      () => {
        this.writing = false;
        this.recorded = mark.generation;
        const done = this.waiters.filter((w) => w.generation <= mark.generation);
        this.waiters = this.waiters.filter((w) => w.generation > mark.generation);
        for (const waiter of done) waiter.resolve();
        this.pump();
        this.settleIdle();
      },
      (error: unknown) => {
        this.writing = false;
        this.failure = { error: this.onFailure(error, mark.generation) };
        const failed = this.waiters;
        this.waiters = [];
        for (const waiter of failed) waiter.reject(this.failure.error);
        this.settleIdle();
      },
    );
  }

  private settleIdle(): void {
    if (this.writing || (this.wanted !== null && this.failure === null)) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
