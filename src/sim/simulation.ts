import type { RaftConfig } from '../raft/config.js';
import { defaultRaftLimits } from '../raft/config.js';
import type { Message } from '../raft/messages.js';
import { createRaftNode } from '../raft/node.js';
import type { RaftStatus } from '../raft/status.js';
import type { LogIndex, NodeId, PersistentState } from '../raft/types.js';
import { emptyPersistentState, nodeId } from '../raft/types.js';
import type { HostReply } from '../node/host-reply.js';
import type { ClientCommand, Query, WireResult } from '../protocol/client-protocol.js';
import type { SessionId } from '../statemachine/ids.js';
import { assert, assertNever } from '../util/assert.js';
import type { Rng } from '../util/rng.js';
import { createRng } from '../util/rng.js';
import { RaftSafetyChecker } from './checkers/raft-safety.js';
import { StateMachineSafetyChecker } from './checkers/state-machine-safety.js';
import type { LivenessView } from './checkers/liveness.js';
import { LivenessChecker } from './checkers/liveness.js';
import { LockSafetyChecker } from './checkers/lock-safety.js';
import { Violation } from './checkers/violation.js';
import { SimClock } from './clock.js';
import type { DiskCompletion } from './disk.js';
import { SimDisk } from './disk.js';
import type { FaultEvent, WorldKnobs } from './faults.js';
import { describeFault, drawWorld } from './faults.js';
import { TimeHeap } from './heap.js';
import { SimNetwork } from './network.js';
import type { OperatorCluster } from './operator.js';
import { Operator } from './operator.js';
import { Trace } from './trace.js';
import type { MutantSetup } from './mutants.js';
import { mutantSetup, noMutant } from './mutants.js';
import type { CrashNow } from './leader-arms.js';
import { LeaderArms } from './leader-arms.js';
import type { LockRequestOp } from './lock-workload.js';
import type { ClientRequest, HostSettings, NodeDriver, SimContext, SimMode } from './node-driver.js';
import { scriptedRequestId } from './node-driver.js';
import { createSimMode } from './sim-mode.js';
import type { SimMachineKind, SimulationOptions } from './simulation-options.js';
import type { SimulationStats } from './sim-stats.js';
import { emptySimulationStats } from './sim-stats.js';

export type { SimMachineKind, SimulationOptions } from './simulation-options.js';
export type { SimulationStats } from './sim-stats.js';
export { emptySimulationStats } from './sim-stats.js';

type NodeState = 'up' | 'down' | 'stopped' | 'refused';

/** A deferred snapshot on its way back to the node incarnation that asked for it. */
interface SnapshotCompletion {
  readonly node: SimNode;
  readonly incarnation: number;
  readonly index: LogIndex;
  readonly bytes: Uint8Array;
}

/** What a paused node receives, queued until it resumes. */
type Backlogged =
  | { readonly kind: 'message'; readonly message: Message }
  | { readonly kind: 'request'; readonly request: ClientRequest };

interface SimNode {
  readonly name: string;
  /** The Raft id: the name, until an operator replacement gives the node a new identity. */
  id: NodeId;
  /** Founding members bootstrap the cluster; a replacement joins it and learns the membership. */
  founding: boolean;
  readonly clock: SimClock;
  readonly disk: SimDisk;
  readonly rng: Rng;
  /** The running incarnation (null while the process is down). */
  driver: NodeDriver | null;
  state: NodeState;
  pausedUntilMs: number;
  backlog: Backlogged[];
  nextTickMs: number;
  incarnation: number;
  role: string;
  term: number;
  lastApplied: number;
}

/**
 * A simulated cluster running the production NodeHost (and the real Raft core) over a simulated
 * network, disks and clocks, all driven by one seed in virtual time. The checkers run after every
 * event; a broken invariant throws a `Violation`, a node's own assertion throws its AssertionError.
 * What the nodes run and what their clients do is the mode's (src/sim/node-driver.ts): the hash
 * machine on a bare NodeHost, or the lock service's ServerCore; the Simulation itself keeps time,
 * faults, the network, the disks, the clocks and the checkers, and drives each node through its
 * NodeDriver.
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
  private readonly mode: SimMode;
  readonly machineKind: SimMachineKind;
  /** Lock mode's checker; a clock jump turns its belief check off (outside the bound clients assume). */
  readonly lockChecker = new LockSafetyChecker();
  private readonly raftSafety: RaftSafetyChecker;
  private readonly smSafety = new StateMachineSafetyChecker();
  private readonly tickMs: number;
  private readonly electionTicks: number;
  private readonly snapshotRng: Rng;
  private readonly snapshotCompletions = new TimeHeap<SnapshotCompletion>();
  private readonly mutant: MutantSetup;
  private readonly raftOverrides: Partial<Omit<RaftConfig, 'id' | 'initialVoters'>>;
  private readonly operator = new Operator();
  private readonly operatorView: OperatorCluster;
  private workloadOn: boolean;
  private readonly leaderArms = new LeaderArms();
  private scriptCounter = 0;
  private now = 0;
  readonly stats: SimulationStats = emptySimulationStats();

  constructor(options: SimulationOptions) {
    assert(options.nodes >= 1, 'a cluster needs at least one node');
    const root = createRng(options.seed);
    this.world = options.world ?? drawWorld(root.fork('world'), options.profile ?? 'swarm');
    this.mutant = options.mutant === undefined ? noMutant : mutantSetup(options.mutant);
    this.tickMs = options.tickMs ?? 10;
    this.electionTicks = options.electionTicks ?? 10;
    const host: HostSettings = {
      createRaft: this.mutant.wrapCore(options.createRaft ?? createRaftNode),
      tickMs: this.tickMs,
      logTimeTickMs: options.logTimeTickMs ?? 100,
      snapshotEntries: options.snapshotEntries ?? 200,
      snapshotMode: options.snapshotMode ?? 'deferred',
      mutations: this.mutant.mutations,
    };
    this.snapshotRng = root.fork('snapshots');
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
      driver: null,
      state: 'down',
      pausedUntilMs: 0,
      backlog: [],
      nextTickMs: 0,
      incarnation: 0,
      role: 'follower',
      term: 0,
      lastApplied: 0,
    }));
    for (const n of this.nodes) {
      this.byName.set(n.name, n);
      this.byAddress.set(n.id, n);
    }
    this.raftSafety = new RaftSafetyChecker(this.smSafety);
    this.workloadOn = options.workload ?? true;
    this.operatorView = this.makeOperatorView();
    this.machineKind = options.machineKind ?? 'hash';
    const setup = { options, host, root, names: this.names, world: this.world, lockChecker: this.lockChecker };
    this.mode = createSimMode(this.modeContext(), { ...setup, clients: this.workloadOn });
    for (const n of this.nodes) this.start(n);
  }

  private modeContext(): SimContext {
    return {
      nowMs: () => this.now,
      trace: (text) => this.trace.add(this.now, text),
      stats: this.stats,
      stateChecker: this.smSafety,
      nameOf: (address) => this.byAddress.get(address)?.name ?? null,
      linkCut: (from, to) => this.network.isCut(this.node(from).id, this.node(to).id),
      running: (name) => {
        const n = this.node(name);
        return n.state === 'up' && n.driver !== null && n.pausedUntilMs <= this.now;
      },
    };
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

  /** Send a client write to `node` (raft mode); the reply shows up in `reply(id)`. */
  propose(node: string, payload: Uint8Array): string {
    const requestId = scriptedRequestId(++this.scriptCounter);
    this.scripted(node, { kind: 'propose', requestId, payload });
    return requestId;
  }

  /** A linearizable read at `node` (raft mode); the reply shows up in `reply(id)`. */
  read(node: string): string {
    const requestId = scriptedRequestId(++this.scriptCounter);
    this.scripted(node, { kind: 'read', requestId });
    return requestId;
  }

  reply(requestId: string): HostReply<unknown> | undefined {
    const answer = this.mode.answerOf(requestId);
    return answer?.kind === 'host' ? answer.reply : undefined;
  }

  /** Lock mode: send a client request (command, keepalive, query) to `node`; see `lockReply`. */
  lockRequest(node: string, op: LockRequestOp): string {
    const requestId = scriptedRequestId(++this.scriptCounter);
    this.scripted(node, { kind: 'lock', request: { requestId, node, op } });
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
    const answer = this.mode.answerOf(requestId);
    return answer?.kind === 'lock' ? answer.result : undefined;
  }

  private scripted(node: string, request: ClientRequest): void {
    this.mode.checkScripted(request);
    this.clientRequest(this.node(node), request);
  }

  /** The running leader with the highest term, if any. */
  leader(): string | null {
    let best: SimNode | null = null;
    for (const n of this.nodes) {
      if (n.driver === null || n.state !== 'up') continue;
      const s = n.driver.status();
      if (s.role === 'leader' && (best === null || s.term > best.term)) best = n;
    }
    return best?.name ?? null;
  }

  status(node: string): RaftStatus | null {
    return this.node(node).driver?.status() ?? null;
  }

  nodeState(node: string): NodeState {
    return this.node(node).state;
  }

  /** The node's state machine hash and applied index (null while it is down). */
  machine(node: string): { readonly hash: number; readonly applied: number } | null {
    const driver = this.node(node).driver;
    return driver === null ? null : { hash: driver.stateHash(), applied: driver.applied };
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
      if (sameMs > 100_000) {
        throw new Violation('runaway', `more than 100000 steps at ${this.now}ms without time passing`);
      }
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
    this.leaderArms.disarm();
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
    const leaderStatus = leaderNode?.driver?.status() ?? null;
    const live = this.nodes.filter((n) => n.state === 'up' && n.driver !== null);
    return {
      pendingReplacements: this.operator.pending,
      leader:
        leaderNode === null || leaderStatus === null
          ? null
          : { name: leaderNode.name, id: leaderNode.id, commit: leaderStatus.commit },
      live: live.map((n) => ({
        name: n.name,
        leader: n.driver?.status().leader ?? null,
        applied: n.driver?.applied ?? 0,
        pending: n.driver?.pendingCount ?? 0,
      })),
      openClientRequests: this.mode.openRequests,
      maxAcknowledgedIndex: this.mode.maxAcknowledgedIndex,
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
    if (this.workloadOn) consider(this.mode.nextRequestAtMs());
    consider(this.mode.nextForwardAtMs());
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
      if (n === undefined || n.state !== 'up' || n.driver === null) continue;
      if (n.pausedUntilMs > now) n.backlog.push({ kind: 'message', message: m });
      else this.deliver(n, m);
    }
    for (const n of this.nodes) {
      if (n.state !== 'up' || n.driver === null || n.pausedUntilMs > now || n.nextTickMs > now) continue;
      n.nextTickMs = now + this.tickMs;
      this.tickNode(n, n.clock.read(now));
      this.pump(n);
    }
    if (this.workloadOn) {
      for (const { node, request } of this.mode.dueRequests(now)) {
        this.stats.requests += 1;
        this.clientRequest(this.node(node), request);
      }
    }
    for (const { node, request } of this.mode.dueForwards(now)) this.clientRequest(this.node(node), request);
    this.operator.step(this.operatorView);
  }

  private makeOperatorView(): OperatorCluster {
    return {
      nowMs: () => this.now,
      leaderStatus: () => {
        const name = this.leader();
        return name === null ? null : (this.node(name).driver?.status() ?? null);
      },
      proposeConfChange: (change) => {
        const name = this.leader();
        if (name === null) return null;
        const leader = this.node(name);
        const requestId = scriptedRequestId(++this.scriptCounter);
        this.trace.add(this.now, `operator: ${change.type} ${change.node} via ${leader.name}`);
        leader.driver?.proposeConfChange(requestId, change);
        this.pump(leader);
        return requestId;
      },
      answered: (requestId) => this.mode.answerOf(requestId) !== undefined,
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
    const driver = sender?.driver ?? null;
    if (sender === undefined || sender.state !== 'up' || driver === null || sender.pausedUntilMs > this.now) return;
    driver.reportUnreachable(m.to, 'refused');
    this.pump(sender);
  }

  private deliver(n: SimNode, m: Message): void {
    n.driver?.receive(m);
    this.pump(n);
  }

  private tickNode(n: SimNode, localMs: number): void {
    n.driver?.tick(localMs);
  }

  private clientRequest(n: SimNode, request: ClientRequest): void {
    if (n.state !== 'up' || n.driver === null) {
      // Connection refused: the client learns at once that nothing happened.
      this.mode.refuse(n.name, request);
      return;
    }
    if (n.pausedUntilMs > this.now) {
      n.backlog.push({ kind: 'request', request });
      return;
    }
    this.handleRequest(n, request);
  }

  private handleRequest(n: SimNode, request: ClientRequest): void {
    n.driver?.request(request);
    this.pump(n);
  }

  private diskDone(n: SimNode, c: DiskCompletion): void {
    const driver = n.driver;
    if (driver === null) return;
    switch (c.kind) {
      case 'failed': {
        this.stats.writeErrors += 1;
        this.trace.add(this.now, `${n.name} write ${c.request.seq} failed: fail-stop`);
        driver.stop('write failed');
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
        driver.persisted(c.request.seq);
        this.pump(n);
        return;
      default:
        return assertNever(c, 'disk completion');
    }
  }

  /** Collect the node's output, hand it to disk, network and clients, then check invariants. */
  private pump(n: SimNode): void {
    const driver = n.driver;
    if (driver === null) return;
    const out = driver.drain();
    const status = driver.status();
    let crashNow: CrashNow | null = null;
    if (status.role !== n.role || status.term !== n.term) {
      if (status.role === 'leader') this.stats.elections += 1;
      this.trace.add(this.now, `${n.name} ${status.role} t${status.term}`);
      n.role = status.role;
      n.term = status.term;
      if (status.role === 'leader') crashNow = this.leaderWon(n, status);
    }
    crashNow ??= this.leaderArms.crashAtCommit(n.name, status);
    this.raftSafety.onStatus(n.name, status);
    if (crashNow !== null && this.mayCrash(n)) {
      // What this drain applied is checked; what it asked for (writes, messages, replies) never happens.
      driver.reportApplied();
      this.crashFor(n, crashNow.losePageCache, crashNow.downMs);
      return;
    }
    for (const w of out.writes) {
      this.raftSafety.onWrite(n.name, w, status.term);
      n.disk.submit(this.mutant.driver === 'skip-fsync' ? { ...w, sync: false } : w, this.now);
    }
    for (const m of out.earlyMessages) this.send(n, m);
    for (const m of out.messages) this.send(n, m);
    for (const request of out.snapshotRequests) this.snapshotRequested(n, driver, request.index);
    driver.reportApplied();
    driver.answerClients();
    if (driver.applied !== n.lastApplied) {
      n.lastApplied = driver.applied;
      if (driver.applied > this.stats.committed) this.stats.committed = driver.applied;
    }
    if (this.mutant.driver === 'ack-before-durable' && out.writes.length > 0 && n.driver === driver) {
      // The seeded driver bug: every write counts as done the moment it is handed to the disk.
      for (const w of out.writes) driver.persisted(w.seq);
      this.pump(n);
    }
  }

  private send(n: SimNode, m: Message): void {
    this.raftSafety.onMessage(n.name, m);
    this.network.send(m, this.now);
  }

  /**
   * Deferred mode: the node's machine is at exactly `index` now (the host asks only at the end of
   * a drain). Its bytes are encoded now, as the production worker's copy would at that point in
   * its stream, and handed back after a seeded delay: short mostly, sometimes several election
   * timeouts, so that applies, InstallSnapshots, crashes and restarts happen in between.
   */
  private snapshotRequested(n: SimNode, driver: NodeDriver, index: LogIndex): void {
    const at = driver.applied;
    assert(at === index, () => `${n.name} asked for a snapshot at ${index} with its machine at ${at}`);
    this.stats.snapshotsRequested += 1;
    const bytes = driver.snapshot();
    const electionMs = this.electionTicks * this.tickMs;
    const rng = this.snapshotRng;
    const delayMs = rng.chance(1, 4) ? rng.int(electionMs, electionMs * 10) : rng.int(0, electionMs);
    this.snapshotCompletions.push(this.now + delayMs, { node: n, incarnation: n.incarnation, index, bytes });
    this.trace.add(this.now, `${n.name} snapshot requested at ${index} (back in ${delayMs}ms)`);
  }

  private snapshotDone(c: SnapshotCompletion): void {
    const n = c.node;
    const driver = n.driver;
    if (n.state !== 'up' || driver === null || n.incarnation !== c.incarnation) {
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
    const taken = driver.snapshotTaken(c.index, c.bytes);
    if (taken) this.stats.snapshotsTaken += 1;
    else this.stats.snapshotsDropped += 1;
    this.trace.add(this.now, `${n.name} snapshot at ${c.index} ${taken ? 'taken' : 'stale, dropped'}`);
    this.pump(n);
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
    n.driver = null;
    this.raftSafety.onRestart(n.name, false);
    this.raftSafety.onLoaded(n.name, persisted.snapshot, persisted.entries);
    const raft: RaftConfig = {
      ...defaultRaftLimits,
      electionTicks: this.electionTicks,
      ...this.raftOverrides,
      id: n.id,
      initialVoters,
      mutations: this.mutant.mutations,
    };
    const rng = n.rng.fork(`incarnation:${n.incarnation}`);
    const booted = this.mode.boot({ name: n.name, raft, persisted, rng, nowMs: n.clock.read(this.now) });
    if (!booted.ok) {
      this.stats.refusedStarts += 1;
      this.trace.add(this.now, `${n.name} refuses to start: ${booted.error}`);
      n.state = 'refused';
      return;
    }
    n.driver = booted.value;
    this.markUp(n, booted.value.status().term, booted.value.applied);
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

  private kill(n: SimNode, losePageCache: boolean, state: NodeState): void {
    n.driver = null;
    this.mode.nodeLost(n.name);
    n.state = state;
    n.backlog = [];
    n.pausedUntilMs = 0;
    this.leaderArms.forget(n.name);
    n.disk.crash(losePageCache);
  }

  private restart(n: SimNode): void {
    if (n.state !== 'down' && n.state !== 'stopped') return;
    this.stats.restarts += 1;
    this.start(n);
  }

  private resume(n: SimNode): void {
    n.pausedUntilMs = 0;
    if (n.driver === null) return;
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
        case 'request':
          this.handleRequest(n, item.request);
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
        this.network.partition(
          ids,
          event.groups.map((g) => g.flatMap((x) => this.addressOf(x))),
        );
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
        for (const from of this.addressOf(event.from)) {
          for (const to of this.addressOf(event.to)) this.network.cutOneWay(from, to);
        }
        return;
      case 'clog':
        for (const from of this.addressOf(event.from)) {
          for (const to of this.addressOf(event.to)) this.network.clog(from, to, this.now + event.forMs);
        }
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
        this.leaderArms.arm(event);
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
        const driver = this.node(leader).driver;
        if (driver === null) return;
        driver.transferLeadership(scriptedRequestId(++this.scriptCounter), target.id);
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

  /** `n` just won an election: the first armed leader fault takes effect. Returns a crash to make on the spot. */
  private leaderWon(n: SimNode, status: RaftStatus): CrashNow | null {
    const effect = this.leaderArms.won(n.name, status);
    switch (effect.kind) {
      case 'none':
        return null;
      case 'isolate':
        this.trace.add(this.now, `${n.name} is cut off as it wins`);
        for (const a of this.addressOf(n.name))
          this.network.isolate(
            this.nodes.map((x) => x.id),
            a,
          );
        return null;
      case 'crashNow':
        return effect.crash;
      case 'crashAfter': {
        const atMs = this.now + effect.afterMs;
        this.faults.push(atMs, { atMs, kind: 'crash', node: n.name, losePageCache: effect.losePageCache });
        this.faults.push(atMs + effect.downMs, { atMs: atMs + effect.downMs, kind: 'restart', node: n.name });
        return null;
      }
      default:
        return assertNever(effect, 'leader arm effect');
    }
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
    this.mode.collectStats(this.stats);
    this.stats.simulatedMs = this.now;
    return this.stats;
  }
}
