import type { EvidenceRecord, EvidenceWriter } from './evidence.js';

interface Waiter {
  readonly generation: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Writes the evidence of synced batches (evidence.ts), one write at a time and coalescing: while
 * one record is being written, the batches the log syncs meanwhile wait, and the next write
 * records the newest of them. The log does not wait for the evidence before writing its next
 * batch, and a record that carries its batch is asked for before that batch is written, so the
 * evidence's sync overlaps the log's own instead of adding to it; only the acknowledgement waits
 * for both. One write at a time keeps at most one copy in flight: a crash tears at most one.
 *
 * `durable(generation)` resolves once the evidence covers that generation, in generation order.
 * A failed write rejects every waiter, present and future, with the error `onFailure` makes of it
 * (the log stops: fail-stop, as for a failed batch).
 */
export class EvidenceRecorder {
  private wanted: EvidenceRecord | null = null;
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

  /** A synced batch leaves the log at `record.mark`: its evidence is to be written. */
  want(record: EvidenceRecord): void {
    this.wanted = record;
    this.latest = record.mark.generation;
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
    const record = this.wanted;
    if (this.writing || this.failure !== null || record === null) return;
    this.wanted = null;
    this.writing = true;
    const mark = record.mark;
    const write = async (): Promise<void> => {
      this.beforeWrite?.(mark.generation);
      await this.writer.record(record);
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
