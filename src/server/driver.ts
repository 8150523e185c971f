/**
 * The production driver around a deterministic node: real time in, durable writes and peer
 * messages out. It owns the beat of the node:
 *
 * - a timer feeds the monotonic clock (`performance.now()`) to `tick(nowMs)`;
 * - anything that changes the node (a tick, a peer message, a client request, a finished write)
 *   schedules one drain for the end of the current event-loop turn (`setImmediate`), so all of a
 *   turn's work leaves the node as one Ready and one write: one fsync covers every entry that
 *   became ready in that turn (group commit on our own beat, with the storage group committer
 *   merging further while a write is in flight). While `coalesceTurn` says so (the node leads),
 *   the drain waits one turn more, so that requests arriving a few µs apart share it;
 * - early messages go out at once; the node hands out the others only once the write they depend
 *   on is durable (the Ready rule, src/raft/ready.ts), so the driver just sends what it is given;
 * - a failed write stops the node (fail-stop): nothing runs after an unknown disk state, and
 *   `onFatal` is told why (the process exits non-zero with the message).
 */
import { performance } from 'node:perf_hooks';
import type { Message } from '../raft/messages.js';
import type { DurableLog, PersistRequest } from '../node/durable-log.js';
import type { DrainedOutput, DrivenNode } from '../node/driven-node.js';
import type { PeerTransport } from '../node/transport.js';

export type { DrainedOutput, DrivenNode } from '../node/driven-node.js';

export interface DriverOptions<O extends DrainedOutput> {
  readonly node: DrivenNode<O>;
  readonly log: DurableLog;
  readonly transport: PeerTransport;
  /** How often the clock is fed to the node. */
  readonly tickIntervalMs: number;
  /** Everything a drain produced, after its messages were sent and its writes submitted. */
  readonly onOutput: (output: O) => void;
  /** A write failed or the node asserted: the node is stopped; the caller exits. */
  readonly onFatal: (error: unknown) => void;
  /**
   * Asked when a drain comes due; true puts it off by one more event-loop turn. A leader's
   * requests often come in pairs a few tens of µs apart (under contention, a release and the
   * previous holder's next acquire): the extra turn lets the second join the first's Ready, one
   * append and one fsync per node instead of two (docs/architecture.md, "A leader drains one
   * event-loop turn later").
   */
  readonly coalesceTurn?: () => boolean;
  /**
   * Monotonic clock in whole ms; `Math.floor(performance.now())` unless a test pins it. Whole
   * milliseconds because the clock becomes log time, which the state machine stores (and its
   * snapshots validate) as an integer.
   */
  readonly clock?: () => number;
  /** Sees every peer message before the node does (metrics count them by type). */
  readonly onReceive?: (message: Message) => void;
}

export interface DriverStats {
  readonly drains: number;
  readonly writes: number;
  readonly messagesSent: number;
}

export class Driver<O extends DrainedOutput> {
  private readonly node: DrivenNode<O>;
  private readonly options: DriverOptions<O>;
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  /** The pending drain already waited its extra turn (see `coalesceTurn`). */
  private coalesced = false;
  private stopped = false;
  private failed: unknown = null;
  private writesInFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private drains = 0;
  private writes = 0;
  private messagesSent = 0;

  constructor(options: DriverOptions<O>) {
    this.options = options;
    this.node = options.node;
    this.clock = options.clock ?? (() => Math.floor(performance.now()));
    const onReceive = options.onReceive;
    options.transport.onMessage((message) => {
      onReceive?.(message);
      this.guard(() => this.node.receive(message));
    });
    options.transport.onUnreachable((peer, cause) => this.guard(() => this.node.reportUnreachable(peer, cause)));
  }

  /** The monotonic clock the node is fed (the same one `tick` receives). */
  now(): number {
    return this.clock();
  }

  start(): void {
    if (this.timer !== null || this.stopped) return;
    const beat = (): void => this.guard(() => this.node.tick(this.clock()));
    this.timer = setInterval(beat, this.options.tickIntervalMs);
    this.schedule();
  }

  /** Run `change` against the node and drain at the end of this turn. Errors are fatal. */
  guard(change: () => void): void {
    if (this.stopped) return;
    try {
      change();
    } catch (error) {
      this.fatal(error);
      return;
    }
    this.schedule();
  }

  get stats(): DriverStats {
    return { drains: this.drains, writes: this.writes, messagesSent: this.messagesSent };
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /**
   * Stop the beat: no more ticks, drains or message handling. Resolves once every write already
   * submitted has finished, so acknowledged state is on disk before the log is closed.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.immediate = null;
    this.coalesced = false;
    if (this.writesInFlight === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drain now if a drain is due (used right before a graceful stop). */
  flush(): void {
    if (this.immediate !== null) {
      clearImmediate(this.immediate);
      this.immediate = null;
      this.coalesced = false;
      this.drain();
    }
  }

  private schedule(): void {
    if (this.immediate !== null || this.stopped) return;
    this.immediate = setImmediate(() => this.due());
  }

  private due(): void {
    if (!this.coalesced && this.options.coalesceTurn?.() === true) {
      this.coalesced = true;
      this.immediate = setImmediate(() => this.due());
      return;
    }
    this.immediate = null;
    this.coalesced = false;
    this.drain();
  }

  private drain(): void {
    if (this.stopped) return;
    let output: O;
    try {
      output = this.node.drain();
    } catch (error) {
      this.fatal(error);
      return;
    }
    this.drains++;
    const transport = this.options.transport;
    for (const message of output.earlyMessages) transport.send(message);
    for (const write of output.writes) this.submit(write);
    for (const message of output.messages) transport.send(message);
    this.messagesSent += output.earlyMessages.length + output.messages.length;
    try {
      this.options.onOutput(output);
    } catch (error) {
      this.fatal(error);
    }
  }

  private submit(write: PersistRequest): void {
    this.writes++;
    this.writesInFlight++;
    this.options.log.persist(write).then(
      () => {
        this.writesInFlight--;
        // After a stop the write still completes (durability) but the node is no longer fed.
        if (!this.stopped) this.guard(() => this.node.persisted(write.seq));
        this.settleIdle();
      },
      (error: unknown) => {
        this.writesInFlight--;
        this.fatal(error);
        this.settleIdle();
      },
    );
  }

  private settleIdle(): void {
    if (this.writesInFlight !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private fatal(error: unknown): void {
    if (this.failed !== null) return;
    this.failed = error;
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.immediate = null;
    this.options.onFatal(error);
  }
}
