import type { RaftConfig } from '../raft/config.js';
import { defaultRaftLimits } from '../raft/config.js';
import type { Message } from '../raft/messages.js';
import type { CreateRaftCore } from '../raft/node-api.js';
import { createRaftNode } from '../raft/node.js';
import type { RaftStatus } from '../raft/status.js';
import type { Entry, LogIndex, NodeId, PersistentState } from '../raft/types.js';
import { emptyPersistentState, nodeId } from '../raft/types.js';
import { decodeEnvelope } from '../node/envelope.js';
import type { HostReply } from '../node/host-reply.js';
import { NodeHost } from '../node/host.js';
import type { SnapshotMode } from '../node/host.js';
import type { CoreOutput, CoreReply } from '../node/server-core.js';
import { ServerCore } from '../node/server-core.js';
import type { LockMachineConfig } from '../statemachine/config.js';
import { defaultLockMachineConfig } from '../statemachine/config.js';
import { decodeCommand } from '../statemachine/commands.js';
import { encodeSnapshot } from '../statemachine/snapshot.js';
import type { ClientCommand, Query, WireResult } from '../protocol/client-protocol.js';
import type { SessionId } from '../statemachine/ids.js';
import type { Notification } from '../statemachine/results.js';
import { assert, assertNever } from '../util/assert.js';
import type { Rng } from '../util/rng.js';
import { createRng } from '../util/rng.js';
import { RaftSafetyChecker } from './checkers/raft-safety.js';
import { StateMachineSafetyChecker } from './checkers/state-machine-safety.js';
import type { LivenessView } from './checkers/liveness.js';
import { LivenessChecker } from './checkers/liveness.js';
import { LockSafetyChecker } from './checkers/lock-safety.js';
import { Violation, hashBytes } from './checkers/violation.js';
import { SimClock } from './clock.js';
import type { DiskCompletion } from './disk.js';
import { SimDisk } from './disk.js';
import type { FaultEvent, Profile, WorldKnobs } from './faults.js';
import { describeFault, drawWorld } from './faults.js';
import { HashMachine } from './hash-machine.js';
import type { SimStateMachine } from './sim-machine.js';
import { TimeHeap } from './heap.js';
import { SimNetwork } from './network.js';
import type { OperatorCluster } from './operator.js';
import { Operator } from './operator.js';
import { Trace } from './trace.js';
import { Workload } from './workload.js';
import type { MutantName, MutantSetup } from './mutants.js';
import { mutantSetup, noMutant } from './mutants.js';
import type { LockRequest, LockRequestOp, LockWorkloadOptions } from './lock-workload.js';
import { LockWorkload, defaultLockWorkload } from './lock-workload.js';

/** What the nodes run: the hash machine on a bare NodeHost, or the lock service's ServerCore. */
export type SimMachineKind = 'hash' | 'locks';

export interface SimulationOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly profile?: Profile;
  /** Overrides the world the seed would draw (noise, request rate). */
  readonly world?: WorldKnobs;
  /** The Raft core to run (default: this package's `createRaftNode`). */
  readonly createRaft?: CreateRaftCore;
  /** A seeded bug to run with (src/sim/mutants.ts): the mutation tests of the simulator itself. */
  readonly mutant?: MutantName;
  /**
   * `locks`: every node runs the production ServerCore (NodeHost + LockStateMachine, batched
   * keepalives, ReadIndex queries, notifications), clients run the lock workload and the lock
   * checkers watch every replica. Default `hash`.
   */
  readonly machineKind?: SimMachineKind;
  readonly lockWorkload?: LockWorkloadOptions;
  readonly lockMachine?: LockMachineConfig;
  /** Leader's keepalive batching interval in lock mode (default 50 ms). */
  readonly keepaliveIntervalMs?: number;
  /** Lock mode: called for every entry a node applies, after the checkers saw it (for tests). */
  readonly onLockApplied?: (node: string, entry: Entry) => void;
  /** Lock mode: the notifications a node's applies emitted (what it would push to its clients). */
  readonly onNotifications?: (node: string, notifications: readonly Notification[]) => void;
  /** The replicated state machine under test in hash mode (default: `HashMachine`). */
  readonly createMachine?: () => SimStateMachine<unknown>;
  /** Client command bytes for the random workload (default: 1–32 random bytes). */
  readonly payload?: (rng: Rng) => Uint8Array;
  /** Random client traffic (default on). Scripts that drive requests themselves turn it off. */
  readonly workload?: boolean;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly snapshotEntries?: number;
  /**
   * `deferred` (default, as the production node's background mode): a node's snapshot request is
   * answered with the state machine's bytes after a seeded random virtual delay, while entries
   * keep applying, InstallSnapshots arrive and the node may crash. `inline`: taken on the spot.
   */
  readonly snapshotMode?: SnapshotMode;
  readonly logTimeTickMs?: number;
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'initialVoters'>>;
  readonly traceRing?: number;
  readonly onTrace?: (line: string) => void;
}

type NodeState = 'up' | 'down' | 'stopped' | 'refused';

/** A crash the simulator makes on the spot, inside a node's drain. */
interface CrashNow {
  readonly losePageCache: boolean;
  readonly downMs: number;
}

/** A fault aimed at the next node to win an election (see FaultEvent). */
type LeaderArm = Extract<FaultEvent, { kind: 'crashNextLeader' | 'crashWhenCaughtUp' | 'isolateNextLeader' }>;

/** A deferred snapshot on its way back to the node incarnation that asked for it. */
interface SnapshotCompletion {
  readonly node: SimNode;
  readonly incarnation: number;
  readonly index: LogIndex;
  readonly bytes: Uint8Array;
}

type Backlogged =
  | { readonly kind: 'message'; readonly message: Message }
  | { readonly kind: 'propose'; readonly requestId: string; readonly payload: Uint8Array }
  | { readonly kind: 'read'; readonly requestId: string }
  | { readonly kind: 'lock'; readonly request: LockRequest };

interface SimNode {
  readonly name: string;
  /** The Raft id: the name, until an operator replacement gives the node a new identity. */
  id: NodeId;
  /** Founding members bootstrap the cluster; a replacement joins it and learns the membership. */
  founding: boolean;
  readonly clock: SimClock;
  readonly disk: SimDisk;
  readonly rng: Rng;
  host: NodeHost<unknown> | null;
  /** Lock mode: the ServerCore wrapping `host`. */
  core: ServerCore | null;
  /** Lock mode: entries this incarnation stored and has not applied yet (fed to the checkers). */
  entries: Map<number, Entry>;
  machine: SimStateMachine<unknown> | null;
  state: NodeState;
  pausedUntilMs: number;
  backlog: Backlogged[];
  nextTickMs: number;
  incarnation: number;
  role: string;
  term: number;
  lastApplied: number;
  /**
   * An armed `crashWhenCaughtUp`: the leader's term, its commit index when it won, and the last
   * entry it held then (before its first entry of the term).
   */
  crashWhenCommitReaches: { readonly term: number; readonly commit: number; readonly index: number; readonly losePageCache: boolean; readonly downMs: number } | null;
}

export interface SimulationStats {
  simulatedMs: number;
  events: number;
  faults: number;
  crashes: number;
  restarts: number;
  writeErrors: number;
  refusedStarts: number;
  replacements: number;
  pauses: number;
  elections: number;
  committed: number;
  snapshotsInstalled: number;
  /** Deferred snapshots: asked for, completed into a compaction, and dropped (stale or crashed). */
  snapshotsRequested: number;
  snapshotsTaken: number;
  snapshotsDropped: number;
  messagesSent: number;
  messagesDelivered: number;
  messagesLost: number;
  diskWrites: number;
  diskSyncs: number;
  requests: number;
  acknowledged: number;
  unknownOutcome: number;
  lost: number;
  /** Lock mode: grants acknowledged to clients, same-seq retries, fenced writes refused, sessions clients gave up. */
  lockGrants: number;
  lockRetries: number;
  staleTokens: number;
  sessionsLost: number;
  /** Lock mode: grants clients believed in, each checked against every other client's belief. */
  beliefsChecked: number;
  /** Lock mode: overlapping beliefs after a clock jump turned the belief check off (not failures). */
  beliefOverlapsOutsideBound: number;
}

export function emptySimulationStats(): SimulationStats {
  return {
  simulatedMs: 0,
  events: 0,
  faults: 0,
  crashes: 0,
  restarts: 0,
  writeErrors: 0,
  refusedStarts: 0,
  replacements: 0,
  pauses: 0,
  elections: 0,
  committed: 0,
  snapshotsInstalled: 0,
  snapshotsRequested: 0,
  snapshotsTaken: 0,
  snapshotsDropped: 0,
  messagesSent: 0,
  messagesDelivered: 0,
  messagesLost: 0,
  diskWrites: 0,
  diskSyncs: 0,
  requests: 0,
  acknowledged: 0,
  unknownOutcome: 0,
  lost: 0,
  lockGrants: 0,
  lockRetries: 0,
  staleTokens: 0,
  sessionsLost: 0,
  beliefsChecked: 0,
  beliefOverlapsOutsideBound: 0,
  };
}

/**
 * A simulated cluster running the production NodeHost (and the real Raft core) over a simulated
 * network, disks and clocks, all driven by one seed in virtual time. The checkers run after every
 * event; a broken invariant throws a `Violation`, a node's own assertion throws its AssertionError.
 *
 * This is also the scripted API: build one, `inject` faults or `schedule` them, `propose`/`read`,
 * `runFor`, then `settle` (the liveness phase) and inspect `reply`, `leader`, `status`.
 */
export class Simulation {
  readonly names: readonly string[];
  readonly world: WorldKnobs;
  readonly trace: Trace;
  private readonly nodes: SimNode[];
  private readonly byName = new Map<string, SimNode>();
  /** Current Raft id → node: a replaced node rejoins under a new id, as a new member. */
  private readonly byAddress = new Map<string, SimNode>();
  private readonly network: SimNetwork<Message>;
  private readonly faults = new TimeHeap<FaultEvent>();
  private readonly workload: Workload | null;
  private readonly lockWorkload: LockWorkload | null;
  readonly machineKind: SimMachineKind;
  readonly lockChecker = new LockSafetyChecker();
  private readonly lockMachine: LockMachineConfig;
  private readonly keepaliveIntervalMs: number;
  private readonly coreReplies = new Map<string, WireResult>();
  private readonly onLockApplied: ((node: string, entry: Entry) => void) | null;
  private readonly onNotifications: ((node: string, notifications: readonly Notification[]) => void) | null;
  private readonly raftSafety: RaftSafetyChecker;
  private readonly smSafety = new StateMachineSafetyChecker();
  private readonly replies = new Map<string, HostReply<unknown>>();
  private readonly tickMs: number;
  private readonly electionTicks: number;
  private readonly snapshotEntries: number;
  private readonly snapshotMode: SnapshotMode;
  private readonly snapshotRng: Rng;
  private readonly snapshotCompletions = new TimeHeap<SnapshotCompletion>();
  private readonly logTimeTickMs: number;
  private readonly createRaft: CreateRaftCore;
  private readonly mutant: MutantSetup;
  private readonly createMachine: () => SimStateMachine<unknown>;
  private readonly raftOverrides: Partial<Omit<RaftConfig, 'id' | 'initialVoters'>>;
  private readonly operator = new Operator();
  private readonly operatorView: OperatorCluster;
  private workloadOn: boolean;
  /** Armed faults aimed at the next leaders, oldest first: each election won takes the first. */
  private leaderArms: LeaderArm[] = [];
  private scriptCounter = 0;
  private now = 0;
  readonly stats: SimulationStats = emptySimulationStats();

  constructor(options: SimulationOptions) {
    assert(options.nodes >= 1, 'a cluster needs at least one node');
    const root = createRng(options.seed);
    this.world = options.world ?? drawWorld(root.fork('world'), options.profile ?? 'swarm');
    this.mutant = options.mutant === undefined ? noMutant : mutantSetup(options.mutant);
    this.createRaft = this.mutant.wrapCore(options.createRaft ?? createRaftNode);
    this.createMachine = options.createMachine ?? (() => new HashMachine());
    this.tickMs = options.tickMs ?? 10;
    this.electionTicks = options.electionTicks ?? 10;
    this.snapshotEntries = options.snapshotEntries ?? 200;
    this.snapshotMode = options.snapshotMode ?? 'deferred';
    this.snapshotRng = root.fork('snapshots');
    this.logTimeTickMs = options.logTimeTickMs ?? 100;
    // The world's Raft settings (the elections profile draws some), then the caller's.
    this.raftOverrides = { ...this.world.raft, ...options.raft };
    this.trace = new Trace(options.traceRing ?? 200, options.onTrace ?? null);
    this.network = new SimNetwork<Message>(root.fork('network'), this.world.network);
    this.names = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
    this.nodes = this.names.map((name, i) => ({
      name,
      id: nodeId(name),
      founding: true,
      clock: new SimClock(1_000_000 * (i + 1), 0),
      disk: new SimDisk(root.fork(`disk:${name}`), this.world.disk),
      rng: root.fork(`node:${name}`),
      host: null,
      core: null,
      entries: new Map(),
      machine: null,
      state: 'down',
      pausedUntilMs: 0,
      backlog: [],
      nextTickMs: 0,
      incarnation: 0,
      role: 'follower',
      term: 0,
      lastApplied: 0,
      crashWhenCommitReaches: null,
    }));
    for (const n of this.nodes) {
      this.byName.set(n.name, n);
      this.byAddress.set(n.id, n);
    }
    this.raftSafety = new RaftSafetyChecker(this.smSafety);
    this.workloadOn = options.workload ?? true;
    this.operatorView = this.makeOperatorView();
    this.machineKind = options.machineKind ?? 'hash';
    // A short watch history keeps each replica's snapshot (hashed after every drain) small.
    this.lockMachine = options.lockMachine ?? { ...defaultLockMachineConfig, eventHistoryMax: 256 };
    this.keepaliveIntervalMs = options.keepaliveIntervalMs ?? 50;
    this.onLockApplied = options.onLockApplied ?? null;
    this.onNotifications = options.onNotifications ?? null;
    const locks = this.machineKind === 'locks';
    this.lockWorkload = this.workloadOn && locks ? new LockWorkload(root.fork('locks'), this.names, this.lockChecker, options.lockWorkload ?? defaultLockWorkload) : null;
    this.workload = this.workloadOn && !locks ? new Workload(root.fork('workload'), this.names, this.world.requestMeanGapMs, options.payload) : null;
    for (const n of this.nodes) this.start(n);
  }

  get nowMs(): number {
    return this.now;
  }

  // ---- the scripted API -----------------------------------------------------------------------

  /** Apply a fault now. */
  inject(event: FaultEvent): void {
    this.applyFault(event);
  }

  /** Apply a fault at `event.atMs` (which must not be in the past). */
  schedule(event: FaultEvent): void {
    assert(event.atMs >= this.now, () => `cannot schedule a fault in the past (${event.atMs} < ${this.now})`);
    this.faults.push(event.atMs, event);
  }

  /** Send a client write to `node`; the reply shows up in `reply(id)`. */
  propose(node: string, payload: Uint8Array): string {
    assert(this.machineKind === 'hash', 'raw writes are for the hash machine: lock nodes take lockRequest');
    const requestId = `s${++this.scriptCounter}`;
    this.clientRequest(this.node(node), { kind: 'propose', requestId, payload });
    return requestId;
  }

  read(node: string): string {
    assert(this.machineKind === 'hash', 'raw reads are for the hash machine: lock nodes take lockQuery');
    const requestId = `s${++this.scriptCounter}`;
    this.clientRequest(this.node(node), { kind: 'read', requestId });
    return requestId;
  }

  reply(requestId: string): HostReply<unknown> | undefined {
    return this.replies.get(requestId);
  }

  /** Lock mode: send a client request (command, keepalive, query) to `node`; see `lockReply`. */
  lockRequest(node: string, op: LockRequestOp): string {
    assert(this.machineKind === 'locks', 'lock requests need machineKind: locks');
    const requestId = `s${++this.scriptCounter}`;
    this.clientRequest(this.node(node), { kind: 'lock', request: { requestId, node, op } });
    return requestId;
  }

  /** Lock mode shorthands. */
  lockCommand(node: string, command: ClientCommand): string {
    return this.lockRequest(node, { kind: 'command', command });
  }

  lockKeepAlive(node: string, session: SessionId): string {
    return this.lockRequest(node, { kind: 'keepAlive', session });
  }

  lockQuery(node: string, query: Query): string {
    return this.lockRequest(node, { kind: 'read', query });
  }

  lockReply(requestId: string): WireResult | undefined {
    return this.coreReplies.get(requestId);
  }

  /** The running leader with the highest term, if any. */
  leader(): string | null {
    let best: SimNode | null = null;
    for (const n of this.nodes) {
      if (n.host === null || n.state !== 'up') continue;
      const s = n.host.status();
      if (s.role === 'leader' && (best === null || s.term > best.term)) best = n;
    }
    return best?.name ?? null;
  }

  status(node: string): RaftStatus | null {
    const n = this.node(node);
    return n.host === null ? null : n.host.status();
  }

  nodeState(node: string): NodeState {
    return this.node(node).state;
  }

  /** The node's state machine hash and applied index (null while it is down). */
  machine(node: string): { readonly hash: number; readonly applied: number } | null {
    const n = this.node(node);
    if (n.core !== null) return { hash: this.lockHash(n.core), applied: n.core.host.applied };
    if (n.host === null || n.machine === null) return null;
    return { hash: n.machine.stateHash, applied: n.host.applied };
  }

  runFor(ms: number): void {
    this.runUntil(this.now + ms);
  }

  /** Run the event loop through `endMs` (virtual time). */
  runUntil(endMs: number): void {
    let sameMs = 0;
    for (;;) {
      const t = this.nextEventAt();
      if (t === null || t > endMs) break;
      sameMs = t <= this.now ? sameMs + 1 : 0;
      // A cluster that keeps producing work without time passing would hang the run instead of failing it.
      if (sameMs > 100_000) throw new Violation('runaway', `more than 100000 steps at ${this.now}ms without time passing`);
      if (this.network.inFlight > 50_000) throw new Violation('runaway', `${this.network.inFlight} messages in flight`);
      this.now = Math.max(this.now, t);
      this.step();
    }
    this.now = Math.max(this.now, endMs);
    this.stats.simulatedMs = this.now;
  }

  /**
   * The liveness phase: end every fault (heal the network, resume paused nodes, withdraw disk
   * faults, restart crashed nodes), stop new client traffic, and require within `budgetMs` that
   * one leader is known to every running node, that every open request completed and that every
   * running node applied everything the leader had committed and every acknowledged write.
   * Returns null on success, else what was still missing.
   */
  settle(budgetMs: number): string | null {
    this.trace.add(this.now, 'liveness phase');
    this.workloadOn = false;
    this.faults.clear();
    this.leaderArms = [];
    this.network.heal();
    for (const n of this.nodes) {
      n.disk.disarm();
      if (n.state === 'up' && n.pausedUntilMs > this.now) n.pausedUntilMs = this.now;
    }
    for (const n of this.nodes) if (n.state === 'down' || n.state === 'stopped') this.restart(n);
    const deadline = this.now + budgetMs;
    const liveness = new LivenessChecker();
    let missing: string | null = 'no leader';
    while (this.now < deadline) {
      this.runFor(this.tickMs);
      missing = liveness.gap(this.livenessView());
      if (missing === null) {
        this.trace.add(this.now, `settled leader=${this.leader() ?? '-'} applied=${liveness.settledAt ?? 0}`);
        return null;
      }
    }
    return missing;
  }

  private livenessView(): LivenessView {
    const leaderName = this.leader();
    const leaderNode = leaderName === null ? null : this.node(leaderName);
    const leaderStatus = leaderNode?.host?.status() ?? null;
    const live = this.nodes.filter((n) => n.state === 'up' && n.host !== null);
    const acked = this.workload?.acknowledged ?? [];
    return {
      pendingReplacements: this.operator.pending,
      leader: leaderNode === null || leaderStatus === null ? null : { name: leaderNode.name, id: leaderNode.id, commit: leaderStatus.commit },
      live: live.map((n) => ({
        name: n.name,
        leader: n.host?.status().leader ?? null,
        applied: n.host?.applied ?? 0,
        pending: n.host?.pendingCount ?? 0,
      })),
      openClientRequests: (this.workload?.openCount ?? 0) + (this.lockWorkload?.openCount ?? 0),
      maxAcknowledgedIndex: Math.max(acked.reduce((m, a) => Math.max(m, a.index), 0), this.lockWorkload?.acknowledgedIndexMax ?? 0),
    };
  }

  // ---- the event loop -------------------------------------------------------------------------

  private nextEventAt(): number | null {
    let t: number | null = null;
    const consider = (at: number | null): void => {
      if (at !== null && (t === null || at < t)) t = at;
    };
    consider(this.faults.peekAt());
    consider(this.network.nextAt());
    consider(this.snapshotCompletions.peekAt());
    for (const n of this.nodes) {
      if (n.state !== 'up') continue;
      if (n.pausedUntilMs > this.now) {
        consider(n.pausedUntilMs);
        continue;
      }
      consider(n.disk.nextAt());
      consider(n.nextTickMs);
    }
    if (this.workload !== null && this.workloadOn) consider(this.workload.nextAtMs);
    if (this.lockWorkload !== null && this.workloadOn) consider(this.lockWorkload.nextAtMs);
    return t;
  }

  private step(): void {
    const now = this.now;
    this.stats.events += 1;
    for (;;) {
      const at = this.faults.peekAt();
      if (at === null || at > now) break;
      const item = this.faults.pop();
      if (item !== undefined) this.applyFault(item.value);
    }
    for (const n of this.nodes) {
      if (n.state === 'up' && n.pausedUntilMs > 0 && n.pausedUntilMs <= now) this.resume(n);
    }
    for (const n of this.nodes) {
      if (n.state !== 'up' || n.pausedUntilMs > now) continue;
      for (;;) {
        const c = n.disk.completeNext(now);
        if (c === undefined) break;
        this.diskDone(n, c);
        if (n.state !== 'up') break;
      }
    }
    for (;;) {
      const at = this.snapshotCompletions.peekAt();
      if (at === null || at > now) break;
      const item = this.snapshotCompletions.pop();
      if (item !== undefined) this.snapshotDone(item.value);
    }
    let deliveries = 0;
    for (;;) {
      const m = this.network.popDue(now);
      if (m === undefined) break;
      // Messages that breed messages due at once (an amplification loop) would never let time pass.
      if (++deliveries > 200_000) throw new Violation('runaway', `more than 200000 messages delivered at ${now}ms`);
      const n = this.byAddress.get(m.to);
      if (n !== undefined && n.state !== 'up') this.refuse(m);
      if (n === undefined || n.state !== 'up' || n.host === null) continue;
      if (n.pausedUntilMs > now) n.backlog.push({ kind: 'message', message: m });
      else this.deliver(n, m);
    }
    for (const n of this.nodes) {
      if (n.state !== 'up' || n.host === null || n.pausedUntilMs > now || n.nextTickMs > now) continue;
      n.nextTickMs = now + this.tickMs;
      this.tickNode(n, n.clock.read(now));
      this.pump(n);
    }
    if (this.workload !== null && this.workloadOn && this.workload.nextAtMs <= now) {
      const op = this.workload.next(now);
      if (op !== null) {
        this.stats.requests += 1;
        const n = this.node(op.node);
        if (op.kind === 'write') this.clientRequest(n, { kind: 'propose', requestId: op.requestId, payload: op.payload });
        else this.clientRequest(n, { kind: 'read', requestId: op.requestId });
      }
    }
    if (this.lockWorkload !== null && this.workloadOn && this.lockWorkload.nextAtMs <= now) {
      for (const request of this.lockWorkload.due(now)) {
        this.stats.requests += 1;
        this.clientRequest(this.node(request.node), { kind: 'lock', request });
      }
    }
    this.operator.step(this.operatorView);
  }

  private makeOperatorView(): OperatorCluster {
    return {
      nowMs: () => this.now,
      leaderStatus: () => {
        const name = this.leader();
        return name === null ? null : (this.node(name).host?.status() ?? null);
      },
      proposeConfChange: (change) => {
        const name = this.leader();
        if (name === null) return null;
        const leader = this.node(name);
        const requestId = `s${++this.scriptCounter}`;
        this.trace.add(this.now, `operator: ${change.type} ${change.node} via ${leader.name}`);
        if (leader.core !== null) leader.core.confChange(requestId, change);
        else leader.host?.proposeConfChange(requestId, change);
        this.pump(leader);
        return requestId;
      },
      answered: (requestId) => this.replies.has(requestId) || this.coreReplies.has(requestId),
      idOf: (name) => this.node(name).id,
      rejoinEmpty: (name) => {
        const n = this.node(name);
        // A new identity: the old one's in-flight messages must not reach the empty node.
        this.byAddress.delete(n.id);
        n.id = nodeId(`${n.name}.${n.incarnation + 1}`);
        this.byAddress.set(n.id, n);
        this.trace.add(this.now, `operator: ${n.name} removed; wiping it and starting it empty as ${n.id}`);
        n.disk.wipe();
        n.founding = false;
        this.raftSafety.onRestart(n.name, true);
        this.boot(n, emptyPersistentState(), []);
      },
      trace: (text) => this.trace.add(this.now, text),
    };
  }

  /**
   * A message reached a node whose process is not running: the sender's transport sees the
   * connection refused (as TCP reports a closed port), which lets followers of a crashed leader
   * elect a new one early. Partitioned or paused nodes never refuse; their messages just vanish.
   */
  private refuse(m: Message): void {
    const sender = this.byAddress.get(m.from);
    if (sender === undefined || sender.state !== 'up' || sender.host === null || sender.pausedUntilMs > this.now) return;
    if (sender.core !== null) sender.core.reportUnreachable(m.to, 'refused');
    else sender.host.reportUnreachable(m.to, 'refused');
    this.pump(sender);
  }

  private deliver(n: SimNode, m: Message): void {
    n.host?.receive(m);
    this.pump(n);
  }

  private tickNode(n: SimNode, localMs: number): void {
    if (n.core !== null) n.core.tick(localMs);
    else n.host?.tick(localMs);
  }

  private clientRequest(n: SimNode, request: Extract<Backlogged, { kind: 'propose' | 'read' | 'lock' }>): void {
    if (n.state !== 'up' || n.host === null) {
      // Connection refused: the client learns at once that nothing happened.
      if (request.kind === 'lock') {
        this.onCoreReply(n, { requestId: request.request.requestId, result: { code: 'NOT_LEADER', message: 'connection refused', leader: null, leaderClient: null } });
      } else {
        this.onReply(n, { requestId: request.requestId, code: 'NOT_LEADER', leader: null });
      }
      return;
    }
    if (n.pausedUntilMs > this.now) {
      n.backlog.push(request);
      return;
    }
    this.handleRequest(n, request);
  }

  private handleRequest(n: SimNode, request: Extract<Backlogged, { kind: 'propose' | 'read' | 'lock' }>): void {
    if (request.kind === 'lock') this.handleLockRequest(n, request.request);
    else if (request.kind === 'propose') n.host?.propose(request.requestId, request.payload);
    else n.host?.read(request.requestId);
    this.pump(n);
  }

  private handleLockRequest(n: SimNode, request: LockRequest): void {
    const core = n.core;
    assert(core !== null, 'lock requests reach lock nodes only');
    const op = request.op;
    switch (op.kind) {
      case 'command':
        return core.command(request.requestId, op.command);
      case 'keepAlive':
        return core.keepAlive(request.requestId, op.session);
      case 'read':
        return core.read(request.requestId, op.query);
      default:
        return assertNever(op, 'lock request');
    }
  }

  private diskDone(n: SimNode, c: DiskCompletion): void {
    const host = n.host;
    if (host === null) return;
    switch (c.kind) {
      case 'failed': {
        this.stats.writeErrors += 1;
        this.trace.add(this.now, `${n.name} write ${c.request.seq} failed: fail-stop`);
        if (n.core !== null) for (const r of n.core.stopSafely('write failed')) this.onCoreReply(n, r);
        else for (const r of host.stop('write failed')) this.onReply(n, r);
        this.kill(n, true, 'stopped');
        return;
      }
      case 'done':
        this.stats.diskWrites += 1;
        // Once a write completes the node acts on it (votes go out), so from here on its term and
        // vote are promises: a core that forgot to ask for a sync loses them in a power cut.
        if (c.request.hardState !== null) this.raftSafety.onDurableHardState(n.name, c.request.hardState);
        // The 'ack-before-durable' driver reported this write done when it submitted it.
        if (this.mutant.driver === 'ack-before-durable') return;
        host.persisted(c.request.seq);
        this.pump(n);
        return;
      default:
        return assertNever(c, 'disk completion');
    }
  }

  /** Collect the host's output, hand it to disk, network and clients, then check invariants. */
  private pump(n: SimNode): void {
    const host = n.host;
    if (host === null) return;
    const core = n.core;
    const out = core !== null ? core.drain() : host.drain();
    const status = host.status();
    let crashNow: CrashNow | null = null;
    if (status.role !== n.role || status.term !== n.term) {
      if (status.role === 'leader') this.stats.elections += 1;
      this.trace.add(this.now, `${n.name} ${status.role} t${status.term}`);
      n.role = status.role;
      n.term = status.term;
      if (status.role === 'leader') crashNow = this.leaderWon(n, status.commit, status.lastIndex);
    }
    crashNow ??= this.crashAtCommit(n, status);
    this.raftSafety.onStatus(n.name, status);
    if (crashNow !== null && this.mayCrash(n)) {
      // What this drain applied is checked; what it asked for (writes, messages, replies) never happens.
      if (core !== null && 'notifications' in out) this.checkLockApply(n, core, out);
      this.crashFor(n, crashNow.losePageCache, crashNow.downMs);
      return;
    }
    for (const w of out.writes) {
      this.raftSafety.onWrite(n.name, w, status.term);
      n.disk.submit(this.mutant.driver === 'skip-fsync' ? { ...w, sync: false } : w, this.now);
    }
    for (const m of out.earlyMessages) this.send(n, m);
    for (const m of out.messages) this.send(n, m);
    for (const request of out.snapshotRequests) this.snapshotRequested(n, host, request.index);
    if (core !== null && 'notifications' in out) {
      this.checkLockApply(n, core, out);
      for (const r of out.replies) this.onCoreReply(n, r);
    } else if (!('notifications' in out)) {
      for (const r of out.replies) this.onReply(n, r);
    }
    if (host.applied !== n.lastApplied) {
      n.lastApplied = host.applied;
      if (host.applied > this.stats.committed) this.stats.committed = host.applied;
    }
    if (this.mutant.driver === 'ack-before-durable' && out.writes.length > 0 && n.host === host) {
      // The seeded driver bug: every write counts as done the moment it is handed to the disk.
      for (const w of out.writes) host.persisted(w.seq);
      this.pump(n);
    }
  }

  private send(n: SimNode, m: Message): void {
    this.raftSafety.onMessage(n.name, m);
    this.network.send(m, this.now);
  }

  /**
   * Lock mode: feed what this drain applied to the log and state checkers (entry by entry, the
   * replica's snapshot hash at the last one), then the lock checkers, then push notifications to
   * the clients connected here.
   */
  private checkLockApply(n: SimNode, core: ServerCore, out: CoreOutput): void {
    for (const w of out.writes) for (const e of w.entries) n.entries.set(e.index, e);
    let cursor = n.lastApplied;
    for (const s of out.snapshots) {
      if (s.kind !== 'installed') continue;
      this.stats.snapshotsInstalled += 1;
      cursor = Math.max(cursor, s.index);
      // The core reports the snapshot's index only: its state and log time are known here only
      // if nothing was applied after it in the same drain (else the next entries are checked
      // from there on, without a floor).
      const atSnapshot = core.host.applied === s.index;
      this.smSafety.onRestored(n.name, s.index, atSnapshot ? core.host.appliedLogTime : 0, atSnapshot ? this.lockHash(core) : null);
    }
    const applied = core.host.applied;
    for (let i = cursor + 1; i <= applied; i++) {
      const entry = n.entries.get(i);
      assert(entry !== undefined, () => `${n.name} applied ${i} without storing it`);
      const env = entry.kind === 'command' ? decodeEnvelope(entry.data) : null;
      const logTimeMs = env !== null && env.ok ? env.value.logTimeMs : null;
      // Encoding the whole state is most of a lock run's cost: every replica hashes it at the
      // same sample of indexes (multiples of 4 that end a drain), which still compares replicas
      // byte for byte all along the log.
      const hash = i === applied && i % 4 === 0 ? this.lockHash(core) : null;
      this.smSafety.onApplied(n.name, entry, logTimeMs, hash);
      this.onLockApplied?.(n.name, entry);
    }
    for (const i of [...n.entries.keys()]) if (i <= applied) n.entries.delete(i);
    if (out.notifications.length > 0) {
      this.lockWorkload?.notify(this.now, n.name, out.notifications);
      this.onNotifications?.(n.name, out.notifications);
    }
  }

  /**
   * Deferred mode: the node's machine is at exactly `index` now (the host asks only at the end of
   * a drain). Its bytes are encoded now, as the production worker's copy would at that point in
   * its stream, and handed back after a seeded delay: short mostly, sometimes several election
   * timeouts, so that applies, InstallSnapshots, crashes and restarts happen in between.
   */
  private snapshotRequested(n: SimNode, host: NodeHost<unknown>, index: LogIndex): void {
    assert(host.applied === index, () => `${n.name} asked for a snapshot at ${index} with its machine at ${host.applied}`);
    this.stats.snapshotsRequested += 1;
    const bytes = host.stateMachine.snapshot();
    const electionMs = this.electionTicks * this.tickMs;
    const rng = this.snapshotRng;
    const delayMs = rng.chance(1, 4) ? rng.int(electionMs, electionMs * 10) : rng.int(0, electionMs);
    this.snapshotCompletions.push(this.now + delayMs, { node: n, incarnation: n.incarnation, index, bytes });
    this.trace.add(this.now, `${n.name} snapshot requested at ${index} (back in ${delayMs}ms)`);
  }

  private snapshotDone(c: SnapshotCompletion): void {
    const n = c.node;
    const host = n.host;
    if (n.state !== 'up' || host === null || n.incarnation !== c.incarnation) {
      // The incarnation that asked is gone (crash, failed write, replacement): nothing to hand to.
      this.stats.snapshotsDropped += 1;
      this.trace.add(this.now, `${n.name} snapshot at ${c.index} dropped: its incarnation is gone`);
      return;
    }
    if (n.pausedUntilMs > this.now) {
      // A paused process runs nothing: the completion is handled when it resumes.
      this.snapshotCompletions.push(n.pausedUntilMs, c);
      return;
    }
    const taken = host.snapshotTaken(c.index, c.bytes);
    if (taken) this.stats.snapshotsTaken += 1;
    else this.stats.snapshotsDropped += 1;
    this.trace.add(this.now, `${n.name} snapshot at ${c.index} ${taken ? 'taken' : 'stale, dropped'}`);
    this.pump(n);
  }

  private lockHash(core: ServerCore): number {
    return hashBytes(encodeSnapshot(core.state));
  }

  private onCoreReply(n: SimNode, reply: CoreReply): void {
    const result = reply.result;
    const r: CoreReply =
      result.code === 'NOT_LEADER' && result.leader !== null
        ? { requestId: reply.requestId, result: { ...result, leader: (this.byAddress.get(result.leader)?.name ?? null) as NodeId | null } }
        : reply;
    if (r.result.code === 'UNAVAILABLE') this.stats.unknownOutcome += 1;
    if (r.result.code === 'OK') this.stats.acknowledged += 1;
    if (r.requestId.startsWith('s')) this.coreReplies.set(r.requestId, r.result);
    else this.lockWorkload?.complete(this.now, r);
    this.trace.add(this.now, `${n.name} reply ${r.requestId} ${r.result.code}`);
  }

  private onReply(n: SimNode, reply: HostReply<unknown>): void {
    // Clients know nodes by name; a leader hint carries the Raft id.
    const r: HostReply<unknown> =
      reply.code === 'NOT_LEADER' && reply.leader !== null
        ? { ...reply, leader: (this.byAddress.get(reply.leader)?.name ?? null) as NodeId | null }
        : reply;
    if (r.code === 'OK' && r.kind === 'write') this.stats.acknowledged += 1;
    if (r.code === 'UNKNOWN') this.stats.unknownOutcome += 1;
    if (r.requestId.startsWith('s')) this.replies.set(r.requestId, r);
    else this.workload?.complete(this.now, r);
    this.trace.add(this.now, `${n.name} reply ${r.requestId} ${r.code}${r.code === 'OK' ? ` ${r.index}` : ''}`);
  }

  // ---- node lifecycle ---------------------------------------------------------------------------

  private start(n: SimNode): void {
    const loaded = n.disk.load();
    if (!loaded.ok) {
      // The node refuses to start on a corrupt data directory; the operator wipes it.
      this.stats.refusedStarts += 1;
      this.trace.add(this.now, `${n.name} refuses to start: ${loaded.error}`);
      n.state = 'refused';
      this.stats.replacements += 1;
      this.operator.replace(n.name);
      return;
    }
    this.boot(n, loaded.value, n.founding ? this.nodes.map((x) => nodeId(x.name)) : []);
  }

  private boot(n: SimNode, persisted: PersistentState, initialVoters: readonly NodeId[]): void {
    n.incarnation += 1;
    n.host = null;
    n.core = null;
    n.entries = new Map();
    if (this.machineKind === 'locks') {
      this.bootLockNode(n, persisted, initialVoters);
      return;
    }
    const machine = this.createMachine();
    const raftConfig: RaftConfig = {
      ...defaultRaftLimits,
      electionTicks: this.electionTicks,
      ...this.raftOverrides,
      id: n.id,
      initialVoters,
      mutations: this.mutant.mutations,
    };
    this.raftSafety.onRestart(n.name, false);
    this.raftSafety.onLoaded(n.name, persisted.snapshot, persisted.entries);
    const created = NodeHost.create<unknown>({
      raft: raftConfig,
      persisted,
      rng: n.rng.fork(`incarnation:${n.incarnation}`),
      createRaft: this.createRaft,
      stateMachine: machine,
      tickMs: this.tickMs,
      logTimeTickMs: this.logTimeTickMs,
      snapshotEntries: this.snapshotEntries,
      snapshotMode: this.snapshotMode,
      nowMs: n.clock.read(this.now),
      mutations: this.mutant.mutations,
      observer: {
        applied: (entry, logTimeMs) => {
          this.smSafety.onApplied(n.name, entry, logTimeMs, machine.stateHash);
          const broken = machine.invariants?.() ?? [];
          if (broken.length > 0) throw new Violation('state-machine-invariants', `${n.name} after ${entry.index}: ${broken.join('; ')}`);
        },
        restored: (snapshot) => {
          // Restores while booting come from the node's own disk; later ones are InstallSnapshots.
          if (n.host !== null) this.stats.snapshotsInstalled += 1;
          const env = decodeEnvelope(snapshot.data);
          this.smSafety.onRestored(n.name, snapshot.meta.index, env.ok ? env.value.logTimeMs : 0, machine.stateHash);
        },
      },
    });
    if (!created.ok) {
      this.stats.refusedStarts += 1;
      this.trace.add(this.now, `${n.name} refuses to start: ${created.error}`);
      n.state = 'refused';
      return;
    }
    if (persisted.snapshot === null) this.smSafety.onRestored(n.name, 0, 0, null);
    n.host = created.value;
    n.machine = machine;
    this.markUp(n, created.value.status().term, created.value.applied);
  }

  /** A node that just booted: running, a follower, with nothing queued, ticking from now. */
  private markUp(n: SimNode, term: number, applied: number): void {
    n.state = 'up';
    n.pausedUntilMs = 0;
    n.backlog = [];
    n.nextTickMs = this.now + this.tickMs;
    n.role = 'follower';
    n.term = term;
    n.lastApplied = applied;
    this.trace.add(this.now, `${n.name} up (incarnation ${n.incarnation}, term ${n.term}, applied ${n.lastApplied})`);
    this.pump(n);
  }

  /** Lock mode: the node runs the production ServerCore on the state it loaded. */
  private bootLockNode(n: SimNode, persisted: PersistentState, initialVoters: readonly NodeId[]): void {
    this.raftSafety.onRestart(n.name, false);
    this.raftSafety.onLoaded(n.name, persisted.snapshot, persisted.entries);
    this.lockChecker.onReset(n.name);
    const created = ServerCore.create({
      raft: { ...defaultRaftLimits, electionTicks: this.electionTicks, ...this.raftOverrides, id: n.id, initialVoters, mutations: this.mutant.mutations },
      persisted,
      rng: n.rng.fork(`incarnation:${n.incarnation}`),
      createRaft: this.createRaft,
      tickMs: this.tickMs,
      logTimeTickMs: this.logTimeTickMs,
      snapshotEntries: this.snapshotEntries,
      snapshotMode: this.snapshotMode,
      nowMs: n.clock.read(this.now),
      keepaliveIntervalMs: this.keepaliveIntervalMs,
      machine: this.lockMachine,
      mutations: this.mutant.mutations,
      // The lock checkers see every applied entry, not only the state at the end of a drain.
      onApplied: (state, output, command) => {
        this.lockChecker.afterApply(n.name, state, output.notifications);
        const decoded = command.payload.length === 0 ? null : decodeCommand(command.payload, this.lockMachine);
        if (decoded?.ok === true && decoded.value.type === 'client') {
          this.lockChecker.onCommandResult(n.name, state, decoded.value.clientId, decoded.value.seq, output.result);
        }
      },
      onRestored: () => this.lockChecker.onReset(n.name),
    });
    if (!created.ok) {
      this.stats.refusedStarts += 1;
      this.trace.add(this.now, `${n.name} refuses to start: ${created.error}`);
      n.state = 'refused';
      return;
    }
    const core = created.value;
    for (const e of persisted.entries) n.entries.set(e.index, e);
    const restoredAt = core.host.applied;
    this.smSafety.onRestored(n.name, restoredAt, core.host.appliedLogTime, restoredAt === 0 ? null : this.lockHash(core));
    n.core = core;
    n.host = core.host;
    n.machine = null;
    this.markUp(n, core.status().term, restoredAt);
  }

  private kill(n: SimNode, losePageCache: boolean, state: NodeState): void {
    n.host = null;
    n.core = null;
    n.entries = new Map();
    this.lockChecker.onReset(n.name);
    this.lockWorkload?.nodeLost(this.now, n.name);
    n.machine = null;
    n.state = state;
    n.backlog = [];
    n.pausedUntilMs = 0;
    n.crashWhenCommitReaches = null;
    n.disk.crash(losePageCache);
    this.workload?.nodeLost(this.now, n.name);
  }

  private restart(n: SimNode): void {
    if (n.state !== 'down' && n.state !== 'stopped') return;
    this.stats.restarts += 1;
    this.start(n);
  }

  private resume(n: SimNode): void {
    n.pausedUntilMs = 0;
    const host = n.host;
    if (host === null) return;
    this.trace.add(this.now, `${n.name} resumes (${n.backlog.length} queued)`);
    this.tickNode(n, n.clock.read(this.now));
    n.nextTickMs = this.now + this.tickMs;
    this.pump(n);
    const backlog = n.backlog;
    n.backlog = [];
    for (const item of backlog) {
      if (n.state !== 'up') break;
      switch (item.kind) {
        case 'message':
          this.deliver(n, item.message);
          break;
        case 'propose':
        case 'read':
        case 'lock':
          this.handleRequest(n, item);
          break;
        default:
          assertNever(item, 'backlog item');
      }
    }
  }

  // ---- faults ------------------------------------------------------------------------------------

  private applyFault(event: FaultEvent): void {
    this.stats.faults += 1;
    this.trace.add(this.now, `fault ${describeFault(event)}`);
    const ids = this.nodes.map((n) => n.id);
    switch (event.kind) {
      case 'partition':
        this.network.partition(ids, event.groups.map((g) => g.flatMap((x) => this.addressOf(x))));
        return;
      case 'isolate':
        for (const a of this.addressOf(event.node)) this.network.isolate(ids, a);
        return;
      case 'isolateLeader': {
        const leader = this.leader();
        if (leader !== null) for (const a of this.addressOf(leader)) this.network.isolate(ids, a);
        return;
      }
      case 'bridge':
        for (const a of this.addressOf(event.node)) this.network.bridge(ids, a);
        return;
      case 'oneWay':
        for (const from of this.addressOf(event.from)) for (const to of this.addressOf(event.to)) this.network.cutOneWay(from, to);
        return;
      case 'clog':
        for (const from of this.addressOf(event.from)) for (const to of this.addressOf(event.to)) this.network.clog(from, to, this.now + event.forMs);
        return;
      case 'heal':
        this.network.heal();
        return;
      case 'crash': {
        const n = this.byName.get(event.node);
        if (n === undefined || n.state !== 'up') return;
        this.stats.crashes += 1;
        this.kill(n, event.losePageCache, 'down');
        return;
      }
      case 'restart': {
        const n = this.byName.get(event.node);
        if (n !== undefined) this.restart(n);
        return;
      }
      case 'crashLeader': {
        const leader = this.leader();
        if (leader !== null) this.crashFor(this.node(leader), event.losePageCache, event.downMs);
        return;
      }
      case 'crashNextLeader':
      case 'crashWhenCaughtUp':
      case 'isolateNextLeader':
        // A few arms at most: faults aimed at elections that never came are dropped, oldest first.
        this.leaderArms = [...this.leaderArms.slice(-2), event];
        return;
      case 'pause': {
        const n = this.byName.get(event.node);
        if (n === undefined || n.state !== 'up') return;
        this.stats.pauses += 1;
        n.pausedUntilMs = Math.max(n.pausedUntilMs, this.now + Math.max(1, event.forMs));
        return;
      }
      case 'drift':
        this.byName.get(event.node)?.clock.setDrift(this.now, event.ppm);
        return;
      case 'clockJump':
        // A jump is outside the clock bound clients' safety margin assumes (docs/statemachine.md).
        if (event.jumpMs > 0) this.lockChecker.beliefChecks = false;
        this.byName.get(event.node)?.clock.jumpForward(this.now, event.jumpMs);
        return;
      case 'diskWriteError':
        this.byName.get(event.node)?.disk.armWriteError();
        return;
      case 'diskCorruptRead':
        this.byName.get(event.node)?.disk.armReadCorruption();
        return;
      case 'transfer': {
        const leader = this.leader();
        const target = this.byName.get(event.to);
        if (leader === null || target === undefined || leader === event.to) return;
        const host = this.node(leader).host;
        if (host === null) return;
        host.transferLeadership(`s${++this.scriptCounter}`, target.id);
        this.pump(this.node(leader));
        return;
      }
      default:
        assertNever(event, 'fault event');
    }
  }

  /**
   * Crash `n` now and restart it `downMs` later, unless that would leave more than a minority
   * down (as the nemesis keeps named crashes). Returns whether it crashed.
   */
  private crashFor(n: SimNode, losePageCache: boolean, downMs: number): boolean {
    if (!this.mayCrash(n)) return false;
    this.stats.crashes += 1;
    this.trace.add(this.now, `${n.name} crashes${losePageCache ? ' (power loss)' : ''}, back in ${downMs}ms`);
    this.kill(n, losePageCache, 'down');
    this.faults.push(this.now + downMs, { atMs: this.now + downMs, kind: 'restart', node: n.name });
    return true;
  }

  /** `n` runs, and crashing it leaves at most a minority of the cluster down. */
  private mayCrash(n: SimNode): boolean {
    const down = this.nodes.filter((x) => x.state !== 'up').length;
    return n.state === 'up' && down + 1 <= Math.floor((this.nodes.length - 1) / 2);
  }

  /**
   * `n` just won an election, its commit index at `commit` and its log ending at `lastIndex` (its
   * first entry of the term): the first
   * armed leader fault takes effect. Returns the crash to make on the spot (before any of its
   * messages leave), if any.
   */
  private leaderWon(n: SimNode, commit: number, lastIndex: number): CrashNow | null {
    const arm = this.leaderArms.shift();
    if (arm === undefined) return null;
    switch (arm.kind) {
      case 'isolateNextLeader':
        this.trace.add(this.now, `${n.name} is cut off as it wins`);
        for (const a of this.addressOf(n.name)) this.network.isolate(this.nodes.map((x) => x.id), a);
        return null;
      case 'crashWhenCaughtUp':
        n.crashWhenCommitReaches = { term: n.term, commit, index: lastIndex - 1, losePageCache: arm.losePageCache, downMs: arm.downMs };
        return null;
      case 'crashNextLeader': {
        if (arm.afterMs === 0) return arm;
        const atMs = this.now + arm.afterMs;
        this.faults.push(atMs, { atMs, kind: 'crash', node: n.name, losePageCache: arm.losePageCache });
        this.faults.push(atMs + arm.downMs, { atMs: atMs + arm.downMs, kind: 'restart', node: n.name });
        return null;
      }
      default:
        return assertNever(arm, 'leader arm');
    }
  }

  /** An armed `crashWhenCaughtUp`: the crash to make now, the leader having committed what it held. */
  private crashAtCommit(n: SimNode, status: RaftStatus): CrashNow | null {
    const arm = n.crashWhenCommitReaches;
    if (arm === null) return null;
    if (status.role !== 'leader' || status.term !== arm.term) {
      n.crashWhenCommitReaches = null;
      return null;
    }
    if (status.commit <= arm.commit || status.commit < arm.index) return null;
    n.crashWhenCommitReaches = null;
    return arm;
  }

  private addressOf(name: string): NodeId[] {
    const n = this.byName.get(name);
    return n === undefined ? [] : [n.id];
  }

  private node(name: string): SimNode {
    const n = this.byName.get(name);
    if (n === undefined) throw new Violation('script', `no node named ${name}`);
    return n;
  }

  /** Counters from the network, disks and clients folded into `stats`. */
  collectStats(): SimulationStats {
    this.stats.messagesSent = this.network.stats.sent;
    this.stats.messagesDelivered = this.network.stats.delivered;
    this.stats.messagesLost = this.network.stats.lost + this.network.stats.blocked;
    this.stats.diskSyncs = this.nodes.reduce((s, n) => s + n.disk.syncs, 0);
    if (this.workload !== null) {
      this.stats.lost = this.workload.stats.lost;
    }
    if (this.lockWorkload !== null) {
      const l = this.lockWorkload.stats;
      this.stats.lockGrants = l.grants;
      this.stats.lockRetries = l.retries;
      this.stats.staleTokens = l.staleTokens;
      this.stats.sessionsLost = l.sessionsLost;
    }
    this.stats.beliefsChecked = this.lockChecker.beliefsChecked;
    this.stats.beliefOverlapsOutsideBound = this.lockChecker.overlapsOutsideBound;
    this.stats.simulatedMs = this.now;
    return this.stats;
  }
}
