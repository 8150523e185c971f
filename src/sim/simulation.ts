import type { RaftConfig } from '../raft/config.js';
import { defaultRaftLimits } from '../raft/config.js';
import type { Message } from '../raft/messages.js';
import type { CreateRaftCore } from '../raft/node-api.js';
import { createRaftNode } from '../raft/node.js';
import type { RaftStatus } from '../raft/status.js';
import type { ConfChange, NodeId, PersistentState } from '../raft/types.js';
import { emptyPersistentState, nodeId } from '../raft/types.js';
import { decodeEnvelope } from '../server/envelope.js';
import type { HostReply } from '../server/host-reply.js';
import { NodeHost } from '../server/host.js';
import { assert, assertNever } from '../util/assert.js';
import type { Rng } from '../util/rng.js';
import { createRng } from '../util/rng.js';
import { RaftSafetyChecker } from './checkers/raft-safety.js';
import { StateMachineSafetyChecker } from './checkers/state-machine-safety.js';
import { Violation } from './checkers/violation.js';
import { SimClock } from './clock.js';
import type { DiskCompletion } from './disk.js';
import { SimDisk } from './disk.js';
import type { FaultEvent, Profile, WorldKnobs } from './faults.js';
import { drawWorld } from './faults.js';
import type { HashResult } from './hash-machine.js';
import { HashMachine } from './hash-machine.js';
import { TimeHeap } from './heap.js';
import { SimNetwork } from './network.js';
import { Trace } from './trace.js';
import { Workload } from './workload.js';

export interface SimulationOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly profile?: Profile;
  /** Overrides the world the seed would draw (noise, request rate). */
  readonly world?: WorldKnobs;
  /** The Raft core to run (default: this package's `createRaftNode`). */
  readonly createRaft?: CreateRaftCore;
  /** Random client traffic (default on). Scripts that drive requests themselves turn it off. */
  readonly workload?: boolean;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly snapshotEntries?: number;
  readonly logTimeTickMs?: number;
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'initialVoters'>>;
  readonly traceRing?: number;
  readonly onTrace?: (line: string) => void;
}

type NodeState = 'up' | 'down' | 'stopped' | 'refused';

type Backlogged =
  | { readonly kind: 'message'; readonly message: Message }
  | { readonly kind: 'propose'; readonly requestId: string; readonly payload: Uint8Array }
  | { readonly kind: 'read'; readonly requestId: string };

/**
 * The operator's answer to a node whose data directory is corrupt: remove it from the cluster,
 * wipe it, start it empty as a new member (a learner), and promote it once it has caught up.
 * Rejoining with an empty disk under its old membership would be unsafe: it could vote twice in a
 * term and forget entries it helped commit.
 */
interface Replacement {
  readonly node: SimNode;
  stage: 'remove' | 'add' | 'promote';
  requestId: string | null;
  sentAtMs: number;
}

interface SimNode {
  readonly name: string;
  readonly id: NodeId;
  readonly clock: SimClock;
  readonly disk: SimDisk;
  readonly rng: Rng;
  host: NodeHost<HashResult> | null;
  machine: HashMachine | null;
  state: NodeState;
  pausedUntilMs: number;
  backlog: Backlogged[];
  nextTickMs: number;
  incarnation: number;
  role: string;
  term: number;
  lastApplied: number;
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
  messagesSent: number;
  messagesDelivered: number;
  messagesLost: number;
  diskWrites: number;
  diskSyncs: number;
  requests: number;
  acknowledged: number;
  unknownOutcome: number;
  lost: number;
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
  messagesSent: 0,
  messagesDelivered: 0,
  messagesLost: 0,
  diskWrites: 0,
  diskSyncs: 0,
  requests: 0,
  acknowledged: 0,
  unknownOutcome: 0,
  lost: 0,
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
  private readonly byId = new Map<string, SimNode>();
  private readonly network: SimNetwork<Message>;
  private readonly faults = new TimeHeap<FaultEvent>();
  private readonly workload: Workload | null;
  private readonly raftSafety: RaftSafetyChecker;
  private readonly smSafety = new StateMachineSafetyChecker();
  private readonly replies = new Map<string, HostReply<HashResult>>();
  private readonly tickMs: number;
  private readonly electionTicks: number;
  private readonly snapshotEntries: number;
  private readonly logTimeTickMs: number;
  private readonly createRaft: CreateRaftCore;
  private readonly raftOverrides: Partial<Omit<RaftConfig, 'id' | 'initialVoters'>>;
  private readonly replacements: Replacement[] = [];
  private workloadOn: boolean;
  private scriptCounter = 0;
  private now = 0;
  readonly stats: SimulationStats = emptySimulationStats();

  constructor(options: SimulationOptions) {
    assert(options.nodes >= 1, 'a cluster needs at least one node');
    const root = createRng(options.seed);
    this.world = options.world ?? drawWorld(root.fork('world'), options.profile ?? 'swarm');
    this.createRaft = options.createRaft ?? createRaftNode;
    this.tickMs = options.tickMs ?? 10;
    this.electionTicks = options.electionTicks ?? 10;
    this.snapshotEntries = options.snapshotEntries ?? 200;
    this.logTimeTickMs = options.logTimeTickMs ?? 100;
    this.raftOverrides = options.raft ?? {};
    this.trace = new Trace(options.traceRing ?? 200, options.onTrace ?? null);
    this.network = new SimNetwork<Message>(root.fork('network'), this.world.network);
    this.names = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
    this.nodes = this.names.map((name, i) => ({
      name,
      id: nodeId(name),
      clock: new SimClock(1_000_000 * (i + 1), 0),
      disk: new SimDisk(root.fork(`disk:${name}`), this.world.disk),
      rng: root.fork(`node:${name}`),
      host: null,
      machine: null,
      state: 'down',
      pausedUntilMs: 0,
      backlog: [],
      nextTickMs: 0,
      incarnation: 0,
      role: 'follower',
      term: 0,
      lastApplied: 0,
    }));
    for (const n of this.nodes) this.byId.set(n.name, n);
    this.raftSafety = new RaftSafetyChecker(this.smSafety);
    this.workloadOn = options.workload ?? true;
    this.workload = this.workloadOn ? new Workload(root.fork('workload'), this.names, this.world.requestMeanGapMs) : null;
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
    const requestId = `s${++this.scriptCounter}`;
    this.clientRequest(this.node(node), { kind: 'propose', requestId, payload });
    return requestId;
  }

  read(node: string): string {
    const requestId = `s${++this.scriptCounter}`;
    this.clientRequest(this.node(node), { kind: 'read', requestId });
    return requestId;
  }

  reply(requestId: string): HostReply<HashResult> | undefined {
    return this.replies.get(requestId);
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
    if (n.host === null || n.machine === null) return null;
    return { hash: n.machine.hash, applied: n.host.applied };
  }

  runFor(ms: number): void {
    this.runUntil(this.now + ms);
  }

  /** Run the event loop through `endMs` (virtual time). */
  runUntil(endMs: number): void {
    for (;;) {
      const t = this.nextEventAt();
      if (t === null || t > endMs) break;
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
    this.network.heal();
    for (const n of this.nodes) {
      n.disk.disarm();
      if (n.state === 'up' && n.pausedUntilMs > this.now) n.pausedUntilMs = this.now;
    }
    for (const n of this.nodes) if (n.state === 'down' || n.state === 'stopped') this.restart(n);
    const deadline = this.now + budgetMs;
    let target: number | null = null;
    let missing = 'no leader';
    while (this.now < deadline) {
      this.runFor(this.tickMs);
      const leader = this.leader();
      const live = this.nodes.filter((n) => n.state === 'up' && n.host !== null);
      if (this.replacements.length > 0) {
        missing = `replacing ${this.replacements.map((r) => `${r.node.name} (${r.stage})`).join(', ')}`;
        continue;
      }
      if (leader === null) {
        missing = 'no leader';
        target = null;
        continue;
      }
      const leaderStatus = this.node(leader).host?.status();
      if (leaderStatus === undefined) continue;
      const unaware = live.filter((n) => n.host?.status().leader !== leader);
      if (unaware.length > 0) {
        missing = `${unaware.map((n) => n.name).join(',')} do not follow leader ${leader}`;
        continue;
      }
      const open = (this.workload?.openCount ?? 0) + live.reduce((s, n) => s + (n.host?.pendingCount ?? 0), 0);
      if (open > 0) {
        missing = `${open} requests still open`;
        continue;
      }
      const acked = this.workload?.acknowledged ?? [];
      const maxAcked = acked.reduce((m, a) => Math.max(m, a.index), 0);
      target ??= Math.max(leaderStatus.commit, maxAcked);
      const behind = live.filter((n) => (n.host?.applied ?? 0) < (target ?? 0));
      if (behind.length > 0) {
        missing = `${behind.map((n) => `${n.name}@${n.host?.applied ?? 0}`).join(',')} have not applied ${target}`;
        continue;
      }
      this.trace.add(this.now, `settled leader=${leader} applied=${target}`);
      return null;
    }
    return missing;
  }

  // ---- the event loop -------------------------------------------------------------------------

  private nextEventAt(): number | null {
    let t: number | null = null;
    const consider = (at: number | null): void => {
      if (at !== null && (t === null || at < t)) t = at;
    };
    consider(this.faults.peekAt());
    consider(this.network.nextAt());
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
      const m = this.network.popDue(now);
      if (m === undefined) break;
      const n = this.byId.get(m.to);
      if (n === undefined || n.state !== 'up' || n.host === null) continue;
      if (n.pausedUntilMs > now) n.backlog.push({ kind: 'message', message: m });
      else this.deliver(n, m);
    }
    for (const n of this.nodes) {
      if (n.state !== 'up' || n.host === null || n.pausedUntilMs > now || n.nextTickMs > now) continue;
      n.nextTickMs = now + this.tickMs;
      n.host.tick(n.clock.read(now));
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
    if (this.replacements.length > 0) this.operate();
  }

  /** Drive each node replacement one step, through whichever node leads now. */
  private operate(): void {
    const leaderName = this.leader();
    if (leaderName === null) return;
    const leader = this.node(leaderName);
    const host = leader.host;
    if (host === null) return;
    const status = host.status();
    const settled = status.pendingConfIndex === 0;
    for (const r of [...this.replacements]) {
      const reply = r.requestId === null ? undefined : this.replies.get(r.requestId);
      const waiting = r.requestId !== null && reply === undefined && this.now - r.sentAtMs < 2000;
      if (waiting || !settled) continue;
      const id = r.node.id;
      const member = status.conf.voters.includes(id) || status.conf.learners.includes(id);
      switch (r.stage) {
        case 'remove':
          if (!member) {
            this.trace.add(this.now, `operator: ${r.node.name} removed; wiping it and starting it empty`);
            r.node.disk.wipe();
            this.raftSafety.onRestart(r.node.name, true);
            this.boot(r.node, emptyPersistentState(), []);
            r.stage = 'add';
            r.requestId = null;
          } else this.operatorPropose(r, leader, { type: 'removeNode', node: id });
          break;
        case 'add':
          if (member) {
            r.stage = 'promote';
            r.requestId = null;
          } else this.operatorPropose(r, leader, { type: 'addLearner', node: id });
          break;
        case 'promote': {
          if (status.conf.voters.includes(id)) {
            this.trace.add(this.now, `operator: ${r.node.name} is a voter again`);
            this.replacements.splice(this.replacements.indexOf(r), 1);
            break;
          }
          const progress = status.progress.find((p) => p.id === id);
          if (progress !== undefined && progress.match >= status.commit) this.operatorPropose(r, leader, { type: 'promoteLearner', node: id });
          break;
        }
        default:
          assertNever(r.stage, 'replacement stage');
      }
    }
  }

  private operatorPropose(r: Replacement, leader: SimNode, change: ConfChange): void {
    const requestId = `s${++this.scriptCounter}`;
    r.requestId = requestId;
    r.sentAtMs = this.now;
    this.trace.add(this.now, `operator: ${change.type} ${change.node} via ${leader.name}`);
    leader.host?.proposeConfChange(requestId, change);
    this.pump(leader);
  }

  private deliver(n: SimNode, m: Message): void {
    n.host?.receive(m);
    this.pump(n);
  }

  private clientRequest(n: SimNode, request: Extract<Backlogged, { kind: 'propose' | 'read' }>): void {
    if (n.state !== 'up' || n.host === null) {
      // Connection refused: the client learns at once that nothing happened.
      this.onReply(n, { requestId: request.requestId, code: 'NOT_LEADER', leader: null });
      return;
    }
    if (n.pausedUntilMs > this.now) {
      n.backlog.push(request);
      return;
    }
    this.handleRequest(n, request);
  }

  private handleRequest(n: SimNode, request: Extract<Backlogged, { kind: 'propose' | 'read' }>): void {
    if (request.kind === 'propose') n.host?.propose(request.requestId, request.payload);
    else n.host?.read(request.requestId);
    this.pump(n);
  }

  private diskDone(n: SimNode, c: DiskCompletion): void {
    const host = n.host;
    if (host === null) return;
    switch (c.kind) {
      case 'failed': {
        this.stats.writeErrors += 1;
        this.trace.add(this.now, `${n.name} write ${c.request.seq} failed: fail-stop`);
        const replies = host.stop('write failed');
        for (const r of replies) this.onReply(n, r);
        this.kill(n, true, 'stopped');
        return;
      }
      case 'done':
        this.stats.diskWrites += 1;
        if (c.request.sync && c.request.hardState !== null) this.raftSafety.onDurableHardState(n.name, c.request.hardState);
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
    const out = host.drain();
    const status = host.status();
    if (status.role !== n.role || status.term !== n.term) {
      if (status.role === 'leader') this.stats.elections += 1;
      this.trace.add(this.now, `${n.name} ${status.role} t${status.term}`);
      n.role = status.role;
      n.term = status.term;
    }
    this.raftSafety.onStatus(n.name, status);
    for (const w of out.writes) {
      this.raftSafety.onWrite(n.name, w, status.term);
      n.disk.submit(w, this.now);
    }
    for (const m of out.earlyMessages) this.network.send(m, this.now);
    for (const m of out.messages) this.network.send(m, this.now);
    for (const r of out.replies) this.onReply(n, r);
    if (host.applied !== n.lastApplied) {
      n.lastApplied = host.applied;
      if (host.applied > this.stats.committed) this.stats.committed = host.applied;
    }
  }

  private onReply(n: SimNode, r: HostReply<HashResult>): void {
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
      if (!this.replacements.some((r) => r.node === n)) {
        this.stats.replacements += 1;
        this.replacements.push({ node: n, stage: 'remove', requestId: null, sentAtMs: 0 });
      }
      return;
    }
    this.boot(n, loaded.value, this.nodes.map((x) => x.id));
  }

  private boot(n: SimNode, persisted: PersistentState, initialVoters: readonly NodeId[]): void {
    n.incarnation += 1;
    const machine = new HashMachine();
    const raftConfig: RaftConfig = {
      ...defaultRaftLimits,
      electionTicks: this.electionTicks,
      ...this.raftOverrides,
      id: n.id,
      initialVoters,
    };
    this.raftSafety.onRestart(n.name, false);
    this.raftSafety.onLoaded(n.name, persisted.snapshot, persisted.entries);
    const created = NodeHost.create<HashResult>({
      raft: raftConfig,
      persisted,
      rng: n.rng.fork(`incarnation:${n.incarnation}`),
      createRaft: this.createRaft,
      stateMachine: machine,
      tickMs: this.tickMs,
      logTimeTickMs: this.logTimeTickMs,
      snapshotEntries: this.snapshotEntries,
      nowMs: n.clock.read(this.now),
      observer: {
        applied: (entry, logTimeMs) => this.smSafety.onApplied(n.name, entry, logTimeMs, machine.hash),
        restored: (snapshot) => {
          this.stats.snapshotsInstalled += 1;
          const env = decodeEnvelope(snapshot.data);
          this.smSafety.onRestored(n.name, snapshot.meta.index, env.ok ? env.value.logTimeMs : 0, machine.hash);
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
    n.state = 'up';
    n.pausedUntilMs = 0;
    n.backlog = [];
    n.nextTickMs = this.now + this.tickMs;
    n.role = 'follower';
    n.term = created.value.status().term;
    n.lastApplied = created.value.applied;
    this.trace.add(this.now, `${n.name} up (incarnation ${n.incarnation}, term ${n.term}, applied ${n.lastApplied})`);
    this.pump(n);
  }

  private kill(n: SimNode, losePageCache: boolean, state: NodeState): void {
    n.host = null;
    n.machine = null;
    n.state = state;
    n.backlog = [];
    n.pausedUntilMs = 0;
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
    host.tick(n.clock.read(this.now));
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
        this.network.partition(ids, event.groups.map((g) => g.filter((x) => this.byId.has(x)).map((x) => nodeId(x))));
        return;
      case 'isolate':
        if (this.byId.has(event.node)) this.network.isolate(ids, nodeId(event.node));
        return;
      case 'isolateLeader': {
        const leader = this.leader();
        if (leader !== null) this.network.isolate(ids, nodeId(leader));
        return;
      }
      case 'bridge':
        if (this.byId.has(event.node)) this.network.bridge(ids, nodeId(event.node));
        return;
      case 'oneWay':
        if (this.byId.has(event.from) && this.byId.has(event.to)) this.network.cutOneWay(nodeId(event.from), nodeId(event.to));
        return;
      case 'clog':
        if (this.byId.has(event.from) && this.byId.has(event.to)) this.network.clog(nodeId(event.from), nodeId(event.to), this.now + event.forMs);
        return;
      case 'heal':
        this.network.heal();
        return;
      case 'crash': {
        const n = this.byId.get(event.node);
        if (n === undefined || n.state !== 'up') return;
        this.stats.crashes += 1;
        this.kill(n, event.losePageCache, 'down');
        return;
      }
      case 'restart': {
        const n = this.byId.get(event.node);
        if (n !== undefined) this.restart(n);
        return;
      }
      case 'pause': {
        const n = this.byId.get(event.node);
        if (n === undefined || n.state !== 'up') return;
        this.stats.pauses += 1;
        n.pausedUntilMs = Math.max(n.pausedUntilMs, this.now + Math.max(1, event.forMs));
        return;
      }
      case 'drift':
        this.byId.get(event.node)?.clock.setDrift(this.now, event.ppm);
        return;
      case 'clockJump':
        this.byId.get(event.node)?.clock.jumpForward(this.now, event.jumpMs);
        return;
      case 'diskWriteError':
        this.byId.get(event.node)?.disk.armWriteError();
        return;
      case 'diskCorruptRead':
        this.byId.get(event.node)?.disk.armReadCorruption();
        return;
      case 'transfer': {
        const leader = this.leader();
        const target = this.byId.get(event.to);
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

  private node(name: string): SimNode {
    const n = this.byId.get(name);
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
    this.stats.simulatedMs = this.now;
    return this.stats;
  }
}

/** The canonical one-line text of a fault event (traces, CLI output). */
export function describeFault(event: FaultEvent): string {
  switch (event.kind) {
    case 'partition':
      return `partition ${event.groups.map((g) => `[${g.join(',')}]`).join(' ')}`;
    case 'isolate':
      return `isolate ${event.node}`;
    case 'isolateLeader':
      return 'isolate the leader';
    case 'bridge':
      return `bridge via ${event.node}`;
    case 'oneWay':
      return `cut ${event.from}->${event.to}`;
    case 'clog':
      return `clog ${event.from}->${event.to} for ${event.forMs}ms`;
    case 'heal':
      return 'heal';
    case 'crash':
      return `crash ${event.node}${event.losePageCache ? ' (power loss)' : ''}`;
    case 'restart':
      return `restart ${event.node}`;
    case 'pause':
      return `pause ${event.node} for ${event.forMs}ms`;
    case 'drift':
      return `drift ${event.node} ${event.ppm}ppm`;
    case 'clockJump':
      return `clock jump ${event.node} +${event.jumpMs}ms`;
    case 'diskWriteError':
      return `disk write error armed on ${event.node}`;
    case 'diskCorruptRead':
      return `disk corruption armed on ${event.node}`;
    case 'transfer':
      return `transfer leadership to ${event.to}`;
    default:
      return assertNever(event, 'fault event');
  }
}
