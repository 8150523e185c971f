import type { RaftConfig } from '../raft/config.js';
import type { Message } from '../raft/messages.js';
import type { CreateRaftCore, RaftCore } from '../raft/node-api.js';
import type { Ready } from '../raft/ready.js';
import type { RaftStatus } from '../raft/status.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  LogIndex,
  NodeId,
  PersistentState,
  Snapshot,
  Term,
} from '../raft/types.js';
import type { PersistRequest } from './durable-log.js';
import type { UnreachableCause } from './transport.js';
import { assert, assertNever } from '../util/assert.js';
import type { Mutations } from '../util/mutations.js';
import { noMutations } from '../util/mutations.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import type { Rng } from '../util/rng.js';
import { decodeEnvelope, encodeEnvelope } from './envelope.js';
import { applyConfChange } from '../raft/confchange.js';
import { Reads } from './host-reads.js';
import type { HostReply, RequestId } from './host-reply.js';
import type { LogTimeEvent } from './log-time.js';
import { checkLogTimeJumps, defaultLogTimeJumpMaxMs, LogTime } from './log-time.js';
import { Proposals } from './proposals.js';
import type { SnapshotPoint, SnapshotProgress } from './host-snapshot.js';
import { snapshotIdle, snapshotWanted } from './host-snapshot.js';
import type { AppliedCommand, ReplicatedStateMachine } from '../raft/state-machine.js';

export type { HostReply, RequestId } from './host-reply.js';
export type { LogTimeEvent } from './log-time.js';

/** Optional hooks for the simulator's checkers and for metrics; called synchronously. */
export interface HostObserver {
  /** An entry was applied (noop, config or command) at `logTimeMs` (commands only; else null). */
  applied?(entry: Entry, logTimeMs: number | null): void;
  /** The state machine was replaced by a snapshot (restart or InstallSnapshot). */
  restored?(snapshot: Snapshot): void;
  /** This node's own snapshot at `index` is taken: the core is compacted and its write queued. */
  taken?(index: LogIndex): void;
}

/**
 * How the host snapshots its applied state. `inline`: `stateMachine.snapshot()` runs on the spot,
 * in the host's call. `deferred`: the host records the point (index, term, configuration, log
 * time) and asks the caller for the state machine's bytes at exactly that index
 * (`HostOutput.snapshotRequests`); the caller produces them elsewhere (a mirror of the state
 * machine in a worker thread, the simulator after a virtual delay) and hands them back with
 * `snapshotTaken`. The host never calls `stateMachine.snapshot()` in deferred mode.
 */
export type SnapshotMode = 'inline' | 'deferred';

/** Deferred mode: produce the state machine's canonical bytes at `index` and call `snapshotTaken`. */
export interface SnapshotRequest {
  readonly index: LogIndex;
}

export interface NodeHostOptions<R> {
  readonly raft: RaftConfig;
  readonly persisted: PersistentState;
  readonly rng: Rng;
  readonly createRaft: CreateRaftCore;
  readonly stateMachine: ReplicatedStateMachine<R>;
  /** Wall-clock length of one Raft tick. */
  readonly tickMs: number;
  /** An idle leader proposes an empty entry this often so that log time advances. */
  readonly logTimeTickMs: number;
  /** Take a snapshot and compact the log after this many applied entries (0 = never). */
  readonly snapshotEntries: number;
  /** ... or once the applied commands since the last snapshot reach this many bytes (0 = never). */
  readonly snapshotBytes?: number;
  /** Default `inline`; see `SnapshotMode`. */
  readonly snapshotMode?: SnapshotMode;
  /** The monotonic clock at start. */
  readonly nowMs: number;
  /** A read whose read point has not arrived by then is answered DROPPED. */
  readonly readTimeoutMs?: number;
  /**
   * The most one entry's log time may run ahead of the log time before it (default 60 000): the
   * leader clamps its stamps to it, and a follower refuses entries beyond it (see log-time.ts).
   */
  readonly logTimeJumpMaxMs?: number;
  readonly observer?: HostObserver;
  /** Seeded bugs for the simulator's mutation tests (src/util/mutations.ts); production passes none. */
  readonly mutations?: Mutations;
}

/** Everything the caller must do after feeding the host; see `NodeHost.drain`. */
export interface HostOutput<R> {
  /** Persist in order, each as one atomic batch; report each completion with `persisted(seq)`. */
  readonly writes: readonly PersistRequest[];
  /** Safe to send at once (they promise nothing about local durability). */
  readonly earlyMessages: readonly Message[];
  /** Safe to send now: everything they promise is already durable. */
  readonly messages: readonly Message[];
  readonly replies: readonly HostReply<R>[];
  /**
   * Deferred mode: at most one request at a time. When `drain` returns it, the state machine is at
   * exactly `index` (requests are only made at the end of a drain), so a caller may also snapshot
   * the state machine right then.
   */
  readonly snapshotRequests: readonly SnapshotRequest[];
  /** Stamps this leader clamped and entries this follower refused under `logTimeJumpMaxMs`: log them. */
  readonly logTimeEvents: readonly LogTimeEvent[];
}

interface InflightReady {
  readonly ready: Ready;
  readonly seq: number;
}

/**
 * One node's deterministic glue: the Raft core, the replicated state machine, pending proposals
 * and reads, log time and the Ready ordering rule (src/raft/ready.ts). Synchronous and free of I/O
 * and clock reads: the production driver and the simulator both feed it the same way, so the
 * simulator exercises this very code.
 *
 * The Ready rule as the host applies it: a Ready's early messages go out at once; its hard state,
 * entries and snapshot become one write (`writes`, numbered by `seq`); its other messages, the
 * applying of its committed entries and `advance` happen only after `persisted(seq)`. At most one
 * Ready is outstanding; ticks, messages and proposals keep flowing meanwhile and collect in the
 * core, so the next Ready carries all of them in one write (group commit without any timer).
 */
export class NodeHost<R> {
  readonly id: NodeId;
  private readonly raft: RaftCore;
  private readonly sm: ReplicatedStateMachine<R>;
  private readonly observer: HostObserver;
  private readonly mutations: Mutations;
  private readonly tickMs: number;
  private readonly logTimeTickMs: number;
  private readonly snapshotEntries: number;
  private readonly snapshotBytes: number;
  private readonly snapshotMode: SnapshotMode;
  /** Deferred mode: where the snapshot stands (at most one request at a time). */
  private snapshot: SnapshotProgress = snapshotIdle;
  /** Snapshots installed from the leader so far; dates deferred requests. */
  private installs = 0;
  /** Command bytes applied since the last snapshot, for the size policy. */
  private bytesSinceSnapshot = 0;
  private readonly readTimeoutMs: number;
  private readonly logTime: LogTime;
  /**
   * The highest log time among the entries this node was offered and stepped (within the bound).
   * Entries stepped earlier in the same turn, or while a write is in flight, are not yet observed
   * by `logTime`; the next AppendEntries continues from them, so the bound measures from here too.
   */
  private offeredLogTimeMs = 0;
  private readonly proposals = new Proposals();
  private readonly reads = new Reads();
  private readonly readNonce: string;
  private readCounter = 0;

  private nowMs: number;
  private tickBaseMs: number;
  private lastStampMs: number;
  private nextSeq = 1;
  private lastPersistedSeq = 0;
  private inflight: InflightReady | null = null;
  /** The latest hard state whose only change was the commit index, not yet part of a write. */
  private unsavedHardState: HardState | null = null;

  private appliedIndex: LogIndex;
  private appliedTerm: Term;
  private appliedLogTimeMs: number;
  private conf: ConfState;
  private lastSnapshotIndex: LogIndex;
  private stopped = false;

  private writes: PersistRequest[] = [];
  private earlyMessages: Message[] = [];
  private messages: Message[] = [];
  private replies: HostReply<R>[] = [];
  private snapshotRequests: SnapshotRequest[] = [];
  private logTimeEvents: LogTimeEvent[] = [];

  private constructor(options: NodeHostOptions<R>, snapshotLogTimeMs: number) {
    assert(options.tickMs > 0, 'tickMs must be positive');
    assert(options.logTimeTickMs > 0, 'logTimeTickMs must be positive');
    assert(options.snapshotEntries >= 0, 'snapshotEntries must not be negative');
    this.id = options.raft.id;
    this.sm = options.stateMachine;
    this.observer = options.observer ?? {};
    this.mutations = options.mutations ?? noMutations;
    this.tickMs = options.tickMs;
    this.logTimeTickMs = options.logTimeTickMs;
    this.snapshotEntries = options.snapshotEntries;
    this.snapshotBytes = options.snapshotBytes ?? 0;
    this.snapshotMode = options.snapshotMode ?? 'inline';
    assert(this.snapshotBytes >= 0, 'snapshotBytes must not be negative');
    this.readTimeoutMs = options.readTimeoutMs ?? options.raft.electionTicks * options.tickMs * 4;
    this.nowMs = options.nowMs;
    this.tickBaseMs = options.nowMs;
    this.lastStampMs = options.nowMs;
    this.readNonce = options.rng.fork('host-reads').u32().toString(36);

    const snapshot = options.persisted.snapshot;
    this.appliedIndex = snapshot?.meta.index ?? (0 as LogIndex);
    this.appliedTerm = snapshot?.meta.term ?? (0 as Term);
    this.lastSnapshotIndex = this.appliedIndex;
    this.appliedLogTimeMs = snapshotLogTimeMs;
    this.conf = snapshot?.meta.conf ?? { voters: options.raft.initialVoters, learners: [] };
    this.logTime = new LogTime(snapshotLogTimeMs, options.logTimeJumpMaxMs ?? defaultLogTimeJumpMaxMs);
    for (const entry of options.persisted.entries) this.observeEntryTime(entry);
    this.raft = options.createRaft(options.raft, options.persisted, options.rng.fork('raft'));
  }

  /**
   * Build a host from what storage loaded. Fails (the node must not start) when the persisted
   * snapshot cannot be restored into the state machine.
   */
  static create<R>(options: NodeHostOptions<R>): Result<NodeHost<R>, string> {
    const snapshot = options.persisted.snapshot;
    let logTimeMs = 0;
    if (snapshot !== null) {
      const envelope = decodeEnvelope(snapshot.data);
      if (!envelope.ok) return err(`snapshot at ${snapshot.meta.index}: ${envelope.error}`);
      const restored = options.stateMachine.restore(envelope.value.payload);
      if (!restored.ok) return err(`snapshot at ${snapshot.meta.index}: ${restored.error}`);
      logTimeMs = envelope.value.logTimeMs;
      options.observer?.restored?.(snapshot);
    }
    return ok(new NodeHost(options, logTimeMs));
  }

  // ---- inputs ------------------------------------------------------------------------------

  /** The one monotonic clock, in ms. Turns elapsed time into Raft ticks and time-advance entries. */
  tick(nowMs: number): void {
    this.assertRunning();
    assert(nowMs >= this.nowMs, () => `clock went back on ${this.id}: ${nowMs} < ${this.nowMs}`);
    this.nowMs = nowMs;
    const due = Math.floor((nowMs - this.tickBaseMs) / this.tickMs);
    for (let i = 0; i < due; i++) this.raft.tick();
    this.tickBaseMs += due * this.tickMs;
    this.reads.expire(nowMs, this.readTimeoutMs, this.replies);
    if (this.logTime.isLeading && nowMs - this.lastStampMs >= this.logTimeTickMs) {
      // An idle leader's empty entry: log time moves (and sessions expire) without client traffic.
      this.proposeStamped(new Uint8Array(0));
    }
  }

  receive(message: Message): void {
    this.assertRunning();
    // Unknown or misaddressed senders are expected in a changing cluster; the core ignores them.
    this.raft.step(this.boundLogTime(message));
  }

  /**
   * A follower never appends an entry whose log time jumps more than `logTimeJumpMaxMs` beyond
   * the log time before it. The AppendEntries is stepped without that entry and everything after
   * it, so the entries before it are appended and the leader hears the usual answer (accepted up
   * to there, or a mismatch with its hint): Raft's log matching goes on, nothing else changes.
   * When the core would not append from the message anyway (a stale term, or `prevIndex` beyond
   * this log), it is stepped as it is, with nothing to report.
   */
  private boundLogTime(message: Message): Message {
    if (message.type !== 'AppendEntries' || message.entries.length === 0) return message;
    const floorMs = Math.max(this.logTime.highestMs, this.offeredLogTimeMs);
    const check = checkLogTimeJumps(message.entries, floorMs, this.logTime.jumpMaxMs);
    this.offeredLogTimeMs = check.highestMs;
    if (check.jump === null) return message;
    const status = this.raft.status();
    if (message.term < status.term || message.prevIndex > status.lastIndex) return message;
    const dropped = message.entries.length - check.accepted;
    const { from, term } = message;
    this.logTimeEvents.push({
      kind: 'refused',
      from,
      term,
      jump: check.jump,
      dropped,
      jumpMaxMs: this.logTime.jumpMaxMs,
    });
    return { ...message, entries: message.entries.slice(0, check.accepted) };
  }

  /** Propose a command; its reply comes once it applies (or NOT_LEADER / DROPPED / UNKNOWN). */
  propose(requestId: RequestId, payload: Uint8Array): void {
    this.assertRunning();
    if (!this.syncLeadership()) return this.notLeader(requestId);
    const result = this.proposeStamped(payload);
    if (result === null) return this.notLeader(requestId);
    if (!result.ok) return this.replyProposeError(requestId, result.error);
    this.proposals.add(requestId, result.value, 'write');
  }

  /** A linearizable read (ReadIndex): the reply says the state machine may now be read. */
  read(requestId: RequestId): void {
    this.assertRunning();
    this.readCounter += 1;
    const context = `${this.id}/${this.readNonce}/${this.readCounter}`;
    const result = this.raft.readIndex(context);
    if (!result.ok) return this.notLeader(requestId, result.error.leader);
    this.reads.add(context, requestId, this.nowMs);
  }

  proposeConfChange(requestId: RequestId, change: ConfChange): void {
    this.assertRunning();
    const result = this.raft.proposeConfChange(change);
    if (!result.ok) return this.replyProposeError(requestId, result.error);
    this.proposals.add(requestId, result.value, 'config');
  }

  transferLeadership(requestId: RequestId, to: NodeId): void {
    this.assertRunning();
    const result = this.raft.transferLeadership(to);
    if (result.ok) {
      this.replies.push({ requestId, code: 'OK', kind: 'transfer', index: this.appliedIndex });
      return;
    }
    const error = result.error;
    switch (error.code) {
      case 'NOT_LEADER':
        return this.notLeader(requestId, error.leader);
      case 'INVALID_TARGET':
        this.replies.push({ requestId, code: 'DROPPED', reason: error.message });
        return;
      default:
        return assertNever(error, 'transfer error');
    }
  }

  /** Start an election now (operators, tests). */
  campaign(): void {
    this.assertRunning();
    this.raft.campaign();
  }

  /** The transport could not reach `peer`; `refused` means its process is gone (see PeerTransport). */
  reportUnreachable(peer: NodeId, cause: UnreachableCause): void {
    this.assertRunning();
    if (cause === 'refused') this.raft.reportPeerDown(peer);
    else this.raft.reportUnreachable(peer);
  }

  /** The write numbered `seq` is durable (as durable as its `sync` flag asked). */
  persisted(seq: number): void {
    this.assertRunning();
    assert(seq > this.lastPersistedSeq && seq < this.nextSeq, () => `persisted(${seq}) out of order on ${this.id}`);
    this.lastPersistedSeq = seq;
    if (this.inflight !== null && this.inflight.seq === seq) {
      const { ready } = this.inflight;
      this.inflight = null;
      this.finishReady(ready);
    }
  }

  /**
   * Collect what the caller must do now. Handles every Ready the core has until one needs a
   * write; then that write is in `writes` and nothing of it is applied until `persisted(seq)`.
   */
  drain(): HostOutput<R> {
    this.assertRunning();
    let readies = 0;
    while (this.inflight === null && this.raft.hasReady()) {
      // Readies that need no write are handled in place; a core that never runs out of them is a bug.
      assert(++readies <= 100_000, () => `${this.id}: the core produced 100000 Readies in one drain`);
      this.startReady(this.raft.ready());
    }
    // Only here is the state machine known to stay at the applied index until the caller acts.
    if (this.snapshotMode === 'deferred') this.maybeRequestSnapshot();
    const out: HostOutput<R> = {
      writes: this.writes,
      earlyMessages: this.earlyMessages,
      messages: this.messages,
      replies: this.replies,
      snapshotRequests: this.snapshotRequests,
      logTimeEvents: this.logTimeEvents,
    };
    this.writes = [];
    this.earlyMessages = [];
    this.messages = [];
    this.replies = [];
    this.snapshotRequests = [];
    this.logTimeEvents = [];
    return out;
  }

  /** The node stops (shutdown, failed write): every waiting request is answered, nothing more runs. */
  stop(reason: string): readonly HostReply<R>[] {
    if (this.stopped) return [];
    this.stopped = true;
    this.snapshot = snapshotIdle;
    const out: HostReply<R>[] = [...this.replies];
    this.replies = [];
    this.proposals.failAll(reason, out);
    this.reads.failAll(reason, out);
    return out;
  }

  // ---- views -------------------------------------------------------------------------------

  status(): RaftStatus {
    return this.raft.status();
  }

  get applied(): LogIndex {
    return this.appliedIndex;
  }

  /** Log time of the last applied command (what the state machine has seen). */
  get appliedLogTime(): number {
    return this.appliedLogTimeMs;
  }

  get stateMachine(): ReplicatedStateMachine<R> {
    return this.sm;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** This node leads as of the last Ready handled (no status() walk: cheap to ask every turn). */
  get isLeading(): boolean {
    return this.logTime.isLeading;
  }

  /** Proposals and reads still waiting for an outcome. */
  get pendingCount(): number {
    return this.proposals.size + this.reads.size;
  }

  get writeInFlight(): boolean {
    return this.inflight !== null;
  }

  // ---- the Ready rule ----------------------------------------------------------------------

  private startReady(ready: Ready): void {
    for (const m of ready.earlyMessages) this.earlyMessages.push(m);
    for (const entry of ready.entries) this.observeEntryTime(entry);
    // The leader's next entries continue from the snapshot's log time, however far ahead of this
    // node's old log it is; they may arrive before the snapshot is installed after its write.
    if (ready.snapshot !== null) this.observeSnapshotTime(ready.snapshot);
    this.proposals.onAppended(ready.entries, this.replies);
    if (ready.softState !== null) this.onRole(ready.softState.role === 'leader');
    this.reads.onReadStates(ready.readStates);
    if (!ready.mustSync && ready.entries.length === 0 && ready.snapshot === null) {
      // Only the commit index moved (or nothing durable at all). Raft keeps commitIndex in volatile
      // state (Figure 2), so it rides along with the next write instead of costing one of its own:
      // under load that halves the writes, and the next Ready's write no longer queues behind it.
      if (ready.hardState !== null) this.unsavedHardState = ready.hardState;
      this.finishReady(ready);
      return;
    }
    const seq = this.nextSeq++;
    this.applyDurableCommitted(ready);
    this.writes.push({
      seq,
      hardState: this.withUnsaved(ready.hardState),
      entries: ready.entries,
      snapshot: ready.snapshot,
      sync: ready.mustSync,
    });
    this.inflight = { ready, seq };
  }

  /**
   * Committed entries that an earlier, finished write already made durable here are applied (and
   * their clients answered) now, without waiting for this Ready's write: committed means a quorum
   * holds them, and nothing in this write can change them. This keeps the apply path one fsync
   * shorter under load, when every Ready carries new entries as well as newly committed ones.
   * Entries this write itself stores, and everything after a snapshot, still wait for the write.
   */
  private applyDurableCommitted(ready: Ready): void {
    if (ready.snapshot !== null) return;
    const firstNew = ready.entries[0]?.index ?? Number.POSITIVE_INFINITY;
    let applied = false;
    for (const entry of ready.committed) {
      if (entry.index >= firstNew) break;
      this.applyEntry(entry);
      applied = true;
    }
    if (applied) this.reads.release(this.appliedIndex, this.replies);
  }

  private finishReady(ready: Ready): void {
    for (const m of ready.messages) this.messages.push(m);
    if (ready.snapshot !== null) this.installSnapshot(ready.snapshot);
    for (const entry of ready.committed) this.applyEntry(entry);
    this.raft.advance(ready);
    this.reads.release(this.appliedIndex, this.replies);
    if (this.snapshotMode === 'inline') this.maybeCompact();
    else this.commitAdvancedSnapshot();
  }

  private installSnapshot(snapshot: Snapshot): void {
    const envelope = decodeEnvelope(snapshot.data);
    assert(envelope.ok, () => `leader sent an undecodable snapshot at ${snapshot.meta.index}`);
    const restored = this.sm.restore(envelope.value.payload);
    assert(
      restored.ok,
      () => `snapshot at ${snapshot.meta.index} does not restore: ${restored.ok ? '' : restored.error}`,
    );
    this.appliedIndex = snapshot.meta.index;
    this.appliedTerm = snapshot.meta.term;
    this.appliedLogTimeMs = Math.max(this.appliedLogTimeMs, envelope.value.logTimeMs);
    this.logTime.observe(envelope.value.logTimeMs);
    this.conf = snapshot.meta.conf;
    this.lastSnapshotIndex = snapshot.meta.index;
    this.bytesSinceSnapshot = 0;
    this.installs += 1;
    // A deferred request below the installed state is now worthless; its completion is dropped.
    if (this.snapshot.kind === 'requested') this.snapshot = snapshotIdle;
    this.proposals.failThrough(snapshot.meta.index, this.replies);
    this.observer.restored?.(snapshot);
  }

  private applyEntry(entry: Entry): void {
    if (entry.index <= this.appliedIndex) return;
    assert(
      entry.index === this.appliedIndex + 1,
      () => `apply gap on ${this.id}: ${this.appliedIndex} then ${entry.index}`,
    );
    this.appliedIndex = entry.index;
    this.appliedTerm = entry.term;
    const waiting = this.proposals.take(entry.index, entry.term, this.replies);
    switch (entry.kind) {
      case 'noop':
        this.observer.applied?.(entry, null);
        return;
      case 'config':
        this.conf = applyConfChange(this.conf, entry.change);
        this.observer.applied?.(entry, null);
        if (waiting !== undefined)
          this.replies.push({ requestId: waiting.requestId, code: 'OK', kind: 'config', index: entry.index });
        return;
      case 'command': {
        const envelope = decodeEnvelope(entry.data);
        // An undecodable entry still applies, deterministically, with the previous log time.
        const stamped = envelope.ok ? envelope.value.logTimeMs : this.appliedLogTimeMs;
        const payload = envelope.ok ? envelope.value.payload : entry.data;
        this.bytesSinceSnapshot += entry.data.byteLength;
        // Stamps never go back along the log; the max only makes that explicit on every replica.
        this.appliedLogTimeMs = Math.max(this.appliedLogTimeMs, stamped);
        // The seeded bug 'apply-local-time' hands the machine this node's clock instead.
        const logTimeMs = this.mutations.has('apply-local-time') ? this.nowMs : this.appliedLogTimeMs;
        const command: AppliedCommand = { index: entry.index, term: entry.term, logTimeMs, payload };
        const result = this.sm.apply(command);
        this.observer.applied?.(entry, stamped);
        if (waiting !== undefined) {
          this.replies.push({ requestId: waiting.requestId, code: 'OK', kind: 'write', index: entry.index, result });
        }
        return;
      }
      default:
        return assertNever(entry, 'entry');
    }
  }

  /**
   * After every `snapshotEntries` applied entries, or once `snapshotBytes` of commands were
   * applied since the last snapshot: snapshot, compact the core, persist it.
   */
  private maybeCompact(): void {
    if (this.policyDue()) this.takeSnapshot();
  }

  private policyDue(): boolean {
    const byEntries = this.snapshotEntries > 0 && this.appliedIndex - this.lastSnapshotIndex >= this.snapshotEntries;
    const byBytes = this.snapshotBytes > 0 && this.bytesSinceSnapshot >= this.snapshotBytes;
    return byEntries || byBytes;
  }

  /**
   * An operator's on-demand snapshot (`raftlock snapshot`): snapshot the applied state now and
   * compact the log through it. Returns the snapshot's index (the previous one when nothing was
   * applied since). In deferred mode the snapshot is asked for at the end of the next drain and
   * written once the caller hands its bytes back: the index returned is the one of the request
   * already outstanding, else the applied index now, which the coming snapshot covers at least.
   */
  snapshotNow(): LogIndex {
    if (this.stopped || this.appliedIndex <= this.lastSnapshotIndex) return this.lastSnapshotIndex;
    if (this.snapshotMode === 'deferred') return this.wantSnapshot();
    this.takeSnapshot();
    return this.lastSnapshotIndex;
  }

  /**
   * The applied state now, encoded as a stored snapshot's data, with its metadata: what
   * `raftlock backup` writes. Encoded on the caller's turn (a backup is rare and asked for by an
   * operator); the node keeps its own snapshots and log untouched.
   */
  backupPoint(): Snapshot {
    const point = this.pointNow();
    const data = encodeEnvelope(point.logTimeMs, this.sm.snapshot());
    return { meta: { index: point.index, term: point.term, conf: point.conf }, data };
  }

  /** Deferred mode: an operator wants a snapshot; see snapshotNow. */
  private wantSnapshot(): LogIndex {
    const progress = this.snapshot;
    switch (progress.kind) {
      case 'requested':
        return progress.point.index;
      case 'awaitingCore':
        this.snapshot = { ...progress, then: 'wanted' };
        return this.appliedIndex;
      case 'idle':
      case 'wanted':
        this.snapshot = snapshotWanted;
        return this.appliedIndex;
      default:
        return assertNever(progress, 'snapshot progress');
    }
  }

  private takeSnapshot(): void {
    const point = this.pointNow();
    this.commitSnapshot(point, this.sm.snapshot());
  }

  /** The applied state as of now, as a snapshot's metadata needs it. */
  private pointNow(): SnapshotPoint {
    return {
      index: this.appliedIndex,
      term: this.appliedTerm,
      conf: this.conf,
      logTimeMs: this.appliedLogTimeMs,
      bytes: this.bytesSinceSnapshot,
      installs: this.installs,
    };
  }

  /** Deferred mode, at the end of a drain: ask for a snapshot when one is due and none is pending. */
  private maybeRequestSnapshot(): void {
    const progress = this.snapshot;
    switch (progress.kind) {
      case 'requested':
      case 'awaitingCore':
        return;
      case 'idle':
      case 'wanted': {
        const wanted = progress.kind === 'wanted' || this.policyDue();
        this.snapshot = snapshotIdle;
        if (!wanted || this.appliedIndex <= this.lastSnapshotIndex) return;
        this.snapshot = { kind: 'requested', point: this.pointNow() };
        this.snapshotRequests.push({ index: this.appliedIndex });
        return;
      }
      default:
        return assertNever(progress, 'snapshot progress');
    }
  }

  /** Deferred mode: whether a request is waiting for `snapshotTaken` or `snapshotFailed`. */
  get snapshotPending(): LogIndex | null {
    return this.snapshot.kind === 'requested' ? this.snapshot.point.index : null;
  }

  /**
   * Deferred mode: the state machine's canonical bytes at the requested `index`. The host wraps
   * them with the log time it recorded, compacts the core and queues the snapshot's write (in the
   * next drain). Returns false, and does nothing, when the completion is stale: the node stopped,
   * the request is not the outstanding one, or a newer snapshot arrived from the leader since
   * (its write must not be followed by an older one). A stale completion is normal, not an error.
   */
  snapshotTaken(index: LogIndex, payload: Uint8Array): boolean {
    if (this.stopped || this.snapshot.kind !== 'requested' || this.snapshot.point.index !== index) return false;
    const { point } = this.snapshot;
    this.snapshot = snapshotIdle;
    if (point.installs !== this.installs || index <= this.lastSnapshotIndex) return false;
    // The core learns of a leader's snapshot (and moves its compaction point) before the host
    // installs it after its write: such a snapshot is newer than ours, and ours must not follow it.
    const core = this.raft.status();
    if (core.snapshotIndex >= index) return false;
    // Entries applied early (before their Ready's write finished) are not yet advanced in the
    // core, which compacts only what it has advanced: finish when that Ready is.
    if (core.applied < index) this.snapshot = { kind: 'awaitingCore', point, payload, then: 'idle' };
    else this.commitSnapshot(point, payload);
    return true;
  }

  /** After an advance: a completed snapshot that waited for the core to catch up is written now. */
  private commitAdvancedSnapshot(): void {
    const waiting = this.snapshot;
    if (waiting.kind !== 'awaitingCore') return;
    const { point, payload } = waiting;
    const next = waiting.then === 'wanted' ? snapshotWanted : snapshotIdle;
    if (point.installs !== this.installs || point.index <= this.lastSnapshotIndex) {
      this.snapshot = next;
      return;
    }
    if (this.raft.status().applied < point.index) return;
    this.snapshot = next;
    this.commitSnapshot(point, payload);
  }

  /**
   * Deferred mode: the snapshot at `index` could not be produced. The request is cleared, so the
   * policy asks again at a later drain; the log keeps growing meanwhile.
   */
  snapshotFailed(index: LogIndex): void {
    if (this.snapshot.kind === 'requested' && this.snapshot.point.index === index) this.snapshot = snapshotIdle;
  }

  /** Compact the core through `point` and queue the snapshot's write. */
  private commitSnapshot(point: SnapshotPoint, payload: Uint8Array): void {
    const data = encodeEnvelope(point.logTimeMs, payload);
    this.raft.compact(point.index, data);
    this.lastSnapshotIndex = point.index;
    // Bytes applied after the point still count toward the next snapshot.
    this.bytesSinceSnapshot = Math.max(0, this.bytesSinceSnapshot - point.bytes);
    this.writes.push({
      seq: this.nextSeq++,
      hardState: this.withUnsaved(null),
      entries: [],
      snapshot: { meta: { index: point.index, term: point.term, conf: point.conf }, data },
      sync: false,
    });
    this.observer.taken?.(point.index);
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** The hard state a write should carry: its own, else a commit-only change not yet written. */
  private withUnsaved(hardState: HardState | null): HardState | null {
    const out = hardState ?? this.unsavedHardState;
    this.unsavedHardState = null;
    return out;
  }

  private observeEntryTime(entry: Entry): void {
    if (entry.kind !== 'command') return;
    const envelope = decodeEnvelope(entry.data);
    if (envelope.ok) this.logTime.observe(envelope.value.logTimeMs);
  }

  private observeSnapshotTime(snapshot: Snapshot): void {
    const envelope = decodeEnvelope(snapshot.data);
    if (envelope.ok) this.logTime.observe(envelope.value.logTimeMs);
  }

  private onRole(isLeader: boolean): void {
    if (isLeader && !this.logTime.isLeading) {
      this.logTime.becomeLeader(this.nowMs);
      this.lastStampMs = this.nowMs;
    } else if (!isLeader && this.logTime.isLeading) {
      this.logTime.stepDown();
      this.proposals.failAll('leadership lost', this.replies);
    }
  }

  /** The core may have become leader (or stepped down) since the last Ready: catch up first. */
  private syncLeadership(): boolean {
    const role = this.raft.status().role;
    this.onRole(role === 'leader');
    return role === 'leader';
  }

  private proposeStamped(payload: Uint8Array): ReturnType<RaftCore['propose']> | null {
    if (!this.logTime.isLeading) return null;
    const stamp = this.logTime.stamp(this.nowMs);
    this.lastStampMs = this.nowMs;
    if (stamp.logTimeMs < stamp.wantedMs) {
      const { wantedMs, previousMs, logTimeMs: stampedMs } = stamp;
      this.logTimeEvents.push({ kind: 'clamped', wantedMs, stampedMs, previousMs, jumpMaxMs: this.logTime.jumpMaxMs });
    }
    return this.raft.propose(encodeEnvelope(stamp.logTimeMs, payload));
  }

  private notLeader(requestId: RequestId, hint?: NodeId | null): void {
    const leader = hint === undefined ? this.raft.status().leader : hint;
    this.replies.push({ requestId, code: 'NOT_LEADER', leader: leader === this.id ? null : leader });
  }

  private replyProposeError(
    requestId: RequestId,
    error:
      | { readonly code: 'NOT_LEADER'; readonly leader: NodeId | null }
      | { readonly code: 'DROPPED'; readonly reason: string; readonly message: string },
  ): void {
    switch (error.code) {
      case 'NOT_LEADER':
        return this.notLeader(requestId, error.leader);
      case 'DROPPED':
        this.replies.push({ requestId, code: 'DROPPED', reason: error.reason });
        return;
      default:
        return assertNever(error, 'propose error');
    }
  }

  private assertRunning(): void {
    assert(!this.stopped, () => `node ${this.id} is stopped`);
  }
}
