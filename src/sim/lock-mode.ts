/**
 * Lock mode (`machineKind: 'locks'`): every node runs the production ServerCore (NodeHost +
 * LockStateMachine, batched keepalives, ReadIndex queries, notifications of every applied entry),
 * the random clients are lock clients (src/sim/lock-workload.ts), and the lock checkers
 * (src/sim/checkers/lock-safety.ts) see every replica apply every entry.
 *
 * Client requests go through each node's request router (src/node/request-router.ts), as on the
 * node server: a follower forwards a random client's request to the leader over the simulated
 * client links (src/sim/forward-wire.ts), or answers NOT_LEADER with the leader when the client
 * asked for redirects (one in four requests, and every scripted one); with no leader the request
 * is parked, and a request still waiting at its deadline is answered UNAVAILABLE. Elections,
 * partitions and crashes thus exercise forwarding, parking, retries and deadlines.
 */
import type { RaftStatus } from '../raft/status.js';
import type { ConfChange, Entry, LogIndex, NodeId } from '../raft/types.js';
import { decodeEnvelope } from '../node/envelope.js';
import type { CoreOutput, CoreReply } from '../node/server-core.js';
import { ServerCore } from '../node/server-core.js';
import type { PeerInputs } from '../node/peer-inputs.js';
import { PeerInputsForwarder } from '../node/peer-inputs.js';
import type { RouterLinks, RouterStats, RouteTicket } from '../node/request-router.js';
import { defaultRetryDelayMs, RequestRouter } from '../node/request-router.js';
import type { WireResult } from '../protocol/client-protocol.js';
import { decodeCommand } from '../statemachine/commands.js';
import type { LockMachineConfig } from '../statemachine/config.js';
import type { Notification } from '../statemachine/results.js';
import { encodeSnapshot } from '../statemachine/snapshot.js';
import { AssertionError, assert, assertNever } from '../util/assert.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import type { Rng } from '../util/rng.js';
import type { LockSafetyChecker } from './checkers/lock-safety.js';
import { hashBytes } from './checkers/violation.js';
import type { Forward } from './forward-wire.js';
import { ForwardWire } from './forward-wire.js';
import type { LockRequest, LockRequestOp, LockWorkload } from './lock-workload.js';
import type {
  AddressedRequest,
  ClientAnswer,
  ClientRequest,
  HostSettings,
  NodeBoot,
  NodeDriver,
  SimContext,
  SimMode,
} from './node-driver.js';
import { bootHostOptions, isScriptedRequest } from './node-driver.js';
import { ModeClients } from './mode-clients.js';
import type { SimulationStats } from './sim-stats.js';

function lockRequest(request: ClientRequest): LockRequest {
  switch (request.kind) {
    case 'lock':
      return request.request;
    case 'propose':
      throw new AssertionError('raw writes are for the hash machine: lock nodes take lockRequest');
    case 'read':
      throw new AssertionError('raw reads are for the hash machine: lock nodes take lockQuery');
    default:
      return assertNever(request, 'client request');
  }
}

/** The replica's whole state, hashed: what the state checker compares across replicas. */
function lockStateHash(core: ServerCore): number {
  return hashBytes(encodeSnapshot(core.state));
}

export interface LockModeOptions {
  readonly host: HostSettings;
  readonly machine: LockMachineConfig;
  /** The leader's keepalive batching interval. */
  readonly keepaliveIntervalMs: number;
  readonly checker: LockSafetyChecker;
  /** The lock clients; null when a script sends every request. */
  readonly workload: LockWorkload | null;
  /** Called for every entry a node applies, after the checkers saw it (for tests). */
  readonly onApplied: ((node: string, entry: Entry) => void) | null;
  /** The notifications a node's applies emitted (what it would push to its clients). */
  readonly onNotifications: ((node: string, notifications: readonly Notification[]) => void) | null;
  /** The routing's own stream: link delays and which clients' requests ask for redirects. */
  readonly routingRng: Rng;
}

/** The routing's counters, summed over every incarnation. */
type RoutingCounts = Pick<RouterStats, 'parked' | 'expired'>;

export class LockMode extends ModeClients<CoreReply> implements SimMode {
  /** The running incarnation of each node: forwarded answers reach only the one that asked. */
  private readonly drivers = new Map<string, LockNodeDriver>();
  private readonly wire: ForwardWire;
  /** Counters of incarnations that ended. */
  private readonly ended: RoutingCounts = { parked: 0, expired: 0 };

  constructor(
    private readonly ctx: SimContext,
    private readonly options: LockModeOptions,
  ) {
    super();
    this.wire = new ForwardWire(options.routingRng.fork('links'), (from, to) => ctx.linkCut(from, to));
  }

  protected get workload(): LockWorkload | null {
    return this.options.workload;
  }

  protected clientAnswer(reply: CoreReply): ClientAnswer {
    return { kind: 'lock', result: reply.result };
  }

  boot(node: NodeBoot): Result<NodeDriver, string> {
    const { checker, machine } = this.options;
    checker.onReset(node.name);
    const created = ServerCore.create({
      ...bootHostOptions(this.options.host, node),
      keepaliveIntervalMs: this.options.keepaliveIntervalMs,
      machine,
      // The lock checkers see every applied entry, not only the state at the end of a drain.
      onApplied: (state, output, command) => {
        checker.afterApply(node.name, state, output.notifications);
        const decoded = command.payload.length === 0 ? null : decodeCommand(command.payload, machine);
        if (decoded?.ok === true && decoded.value.type === 'client') {
          checker.onCommandResult(node.name, state, decoded.value.clientId, decoded.value.seq, output.result);
        }
      },
      onRestored: () => checker.onReset(node.name),
    });
    if (!created.ok) return err(created.error);
    const core = created.value;
    const driver = new LockNodeDriver(node.name, core, node.persisted.entries, this.ctx, this.options, (reply) =>
      this.answer(node.name, reply),
    );
    // As the node server's default, without its 5 s floor: six election timeouts.
    const requestTimeoutMs = 6 * node.raft.electionTicks * this.options.host.tickMs;
    driver.route(this.wire, node.nowMs, requestTimeoutMs);
    this.retire(node.name);
    this.drivers.set(node.name, driver);
    const restoredAt = core.host.applied;
    const hash = restoredAt === 0 ? null : lockStateHash(core);
    this.ctx.stateChecker.onRestored(node.name, restoredAt, core.host.appliedLogTime, hash);
    return ok(driver);
  }

  nodeLost(name: string): void {
    this.retire(name);
    this.wire.nodeLost(this.ctx.nowMs(), name);
    this.options.checker.onReset(name);
    this.options.workload?.nodeLost(this.ctx.nowMs(), name);
  }

  checkScripted(request: ClientRequest): void {
    lockRequest(request);
  }

  refuse(node: string, request: ClientRequest): void {
    const { requestId } = lockRequest(request);
    if (this.wire.isForward(requestId)) return this.wire.refused(this.ctx.nowMs(), requestId);
    const result: WireResult = { code: 'NOT_LEADER', message: 'connection refused', leader: null, leaderClient: null };
    this.answer(node, { requestId: lockRequest(request).requestId, result });
  }

  dueRequests(nowMs: number): readonly AddressedRequest[] {
    const workload = this.options.workload;
    if (workload === null || workload.nextAtMs > nowMs) return [];
    return workload.due(nowMs).map((request) => ({ node: request.node, request: { kind: 'lock', request } }));
  }

  nextForwardAtMs(): number | null {
    return this.wire.nextAtMs();
  }

  dueForwards(nowMs: number): readonly AddressedRequest[] {
    const due = this.wire.due(nowMs);
    for (const { forward, result } of due.answers) this.forwardAnswered(forward, result);
    return due.requests.map((r) => ({ node: r.node, request: { kind: 'lock', request: r.request } }));
  }

  get maxAcknowledgedIndex(): number {
    return this.options.workload?.acknowledgedIndexMax ?? 0;
  }

  collectStats(stats: SimulationStats): void {
    const workload = this.options.workload;
    if (workload !== null) {
      stats.lockGrants = workload.stats.grants;
      stats.lockRetries = workload.stats.retries;
      stats.staleTokens = workload.stats.staleTokens;
      stats.sessionsLost = workload.stats.sessionsLost;
    }
    stats.forwarded = this.wire.forwarded;
    stats.parked = this.ended.parked;
    stats.requestsExpired = this.ended.expired;
    for (const driver of this.drivers.values()) {
      stats.parked += driver.routing.parked;
      stats.requestsExpired += driver.routing.expired;
    }
    stats.beliefsChecked = this.options.checker.beliefsChecked;
    stats.beliefOverlapsOutsideBound = this.options.checker.overlapsOutsideBound;
  }

  /** A forwarded request's answer reached its forwarder's node. */
  private forwardAnswered(forward: Forward, result: WireResult): void {
    const driver = this.drivers.get(forward.from);
    // Another incarnation (or none) runs there now: the connection that asked is gone.
    if (driver === undefined || driver !== forward.incarnation) return;
    // A paused process reads its sockets when it resumes.
    if (!this.ctx.running(forward.from)) return this.wire.retryAnswer(this.ctx.nowMs() + 5, forward, result);
    driver.forwardAnswered(forward.ticket, result);
  }

  /** An incarnation ended: its routing counters join the totals. */
  private retire(name: string): void {
    const driver = this.drivers.get(name);
    if (driver === undefined) return;
    this.drivers.delete(name);
    this.ended.parked += driver.routing.parked;
    this.ended.expired += driver.routing.expired;
  }

  private answer(node: string, reply: CoreReply): void {
    const ctx = this.ctx;
    const result = reply.result;
    // A forwarded request's answer goes back to the node that forwarded it.
    if (this.wire.isForward(reply.requestId)) return this.wire.answer(ctx.nowMs(), reply.requestId, result);
    // Clients know nodes by name; a leader hint carries the Raft id.
    const r: CoreReply =
      result.code === 'NOT_LEADER' && result.leader !== null
        ? { requestId: reply.requestId, result: { ...result, leader: ctx.nameOf(result.leader) as NodeId | null } }
        : reply;
    if (r.result.code === 'UNAVAILABLE') ctx.stats.unknownOutcome += 1;
    if (r.result.code === 'OK') ctx.stats.acknowledged += 1;
    this.deliver(ctx.nowMs(), r);
    ctx.trace(`${node} reply ${r.requestId} ${r.result.code}`);
  }
}

/** One incarnation of a lock-mode node: the ServerCore, and what its applies still owe the checkers. */
class LockNodeDriver extends PeerInputsForwarder implements NodeDriver {
  /** Entries this incarnation stored and has not applied yet (fed to the checkers as it applies them). */
  private readonly entries = new Map<number, Entry>();
  /** The last index the checkers saw this incarnation apply. */
  private reportedThrough: number;
  private out: CoreOutput | null = null;
  private router: RequestRouter<LockRequest> | null = null;
  private wire: ForwardWire | null = null;
  /** Requests at the core, by the core's request id, with their router tickets. */
  private readonly atCore = new Map<string, RouteTicket>();
  private submissions = 0;
  /** This node's clock at its last tick: the router's time. */
  private localMs = 0;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly core: ServerCore,
    stored: readonly Entry[],
    private readonly ctx: SimContext,
    private readonly options: LockModeOptions,
    private readonly answer: (reply: CoreReply) => void,
  ) {
    super();
    for (const e of stored) this.entries.set(e.index, e);
    this.reportedThrough = core.host.applied;
  }

  protected get peerInputs(): PeerInputs {
    return this.core;
  }

  /** Route this incarnation's client requests (set once, right after boot). */
  route(wire: ForwardWire, nowMs: number, requestTimeoutMs: number): void {
    const { ctx, name } = this;
    this.localMs = nowMs;
    this.wire = wire;
    const links: RouterLinks<LockRequest> = {
      leader: () => this.core.status().leader,
      canForwardTo: (node) => {
        const to = ctx.nameOf(node);
        return to !== null && to !== name;
      },
      clientAddress: (node) => ctx.nameOf(node),
      // A client's connection lives as long as this incarnation; a forwarder's while it waits.
      isOpen: (request) => !wire.isForward(request.requestId) || wire.waiting(request.requestId),
      submitLocal: (ticket, request) => this.submitLocal(ticket, request.requestId, request.op),
      forward: (ticket, leader, request) => {
        const to = ctx.nameOf(leader);
        assert(to !== null, () => `${name} forwards to ${leader}, a node it does not know`);
        wire.send(ctx.nowMs(), { from: name, incarnation: this, ticket, to, op: request.op });
        ctx.trace(`${name} forwards ${request.requestId} to ${to}`);
      },
      answer: (request, result) => this.answer({ requestId: request.requestId, result }),
      isStopped: () => this.stopped,
    };
    const self = this.core.status().id;
    this.router = new RequestRouter({ self, requestTimeoutMs, retryDelayMs: defaultRetryDelayMs }, links);
  }

  /** The router's counters. */
  get routing(): RouterStats {
    return this.routed.stats;
  }

  private get routed(): RequestRouter<LockRequest> {
    assert(this.router !== null, () => `${this.name} takes requests before its routing is set`);
    return this.router;
  }

  forwardAnswered(ticket: RouteTicket, result: WireResult): void {
    this.routed.forwardAnswered(ticket, result, this.localMs);
  }

  status(): RaftStatus {
    return this.core.status();
  }

  get applied(): LogIndex {
    return this.core.host.applied;
  }

  get pendingCount(): number {
    return this.core.host.pendingCount + this.routed.pending;
  }

  tick(localMs: number): void {
    this.localMs = localMs;
    this.core.tick(localMs);
    this.routed.tick(localMs);
  }

  request(request: ClientRequest): void {
    const routed = lockRequest(request);
    const { requestId, op } = routed;
    // Forwarding nodes and scripts ask for redirects; so does one random client request in four.
    const asks = isScriptedRequest(requestId) || this.wire?.isForward(requestId) === true;
    const redirect = asks || this.options.routingRng.chance(1, 4);
    this.routed.admit(routed, { redirect, localOnly: op.kind === 'read' }, this.localMs);
  }

  private submitLocal(ticket: RouteTicket, requestId: string, op: LockRequestOp): void {
    if (this.stopped) return this.routed.abort(ticket, { code: 'UNAVAILABLE', message: 'this node has stopped' });
    this.submissions += 1;
    // Each submission its own id at the core: a parked request is submitted again under a new one.
    const coreId = `${requestId}.${this.submissions}`;
    this.atCore.set(coreId, ticket);
    switch (op.kind) {
      case 'command':
        return this.core.command(coreId, op.command);
      case 'keepAlive':
        return this.core.keepAlive(coreId, op.session);
      case 'read':
        return this.core.read(coreId, op.query);
      default:
        return assertNever(op, 'lock request');
    }
  }

  proposeConfChange(requestId: string, change: ConfChange): void {
    this.core.confChange(requestId, change);
  }

  transferLeadership(requestId: string, to: NodeId): void {
    // Straight to the host: the core would track the transfer and answer it, and nobody asks.
    this.core.host.transferLeadership(requestId, to);
  }

  drain(): CoreOutput {
    const out = this.core.drain();
    this.out = out;
    return out;
  }

  /**
   * Feed what the last drain applied to the log and state checkers (entry by entry, the replica's
   * snapshot hash at the last one), then the lock checkers, then push notifications to the
   * clients connected here.
   */
  reportApplied(): void {
    const out = this.out;
    if (out === null) return;
    const core = this.core;
    const checker = this.ctx.stateChecker;
    for (const w of out.writes) for (const e of w.entries) this.entries.set(e.index, e);
    let cursor = this.reportedThrough;
    for (const s of out.snapshots) {
      if (s.kind !== 'installed') continue;
      this.ctx.stats.snapshotsInstalled += 1;
      cursor = Math.max(cursor, s.index);
      // The core reports the snapshot's index only: its state and log time are known here only
      // if nothing was applied after it in the same drain (else the next entries are checked
      // from there on, without a floor).
      const atSnapshot = core.host.applied === s.index;
      const logTimeMs = atSnapshot ? core.host.appliedLogTime : 0;
      checker.onRestored(this.name, s.index, logTimeMs, atSnapshot ? lockStateHash(core) : null);
    }
    const applied = core.host.applied;
    for (let i = cursor + 1; i <= applied; i++) {
      const entry = this.entries.get(i);
      assert(entry !== undefined, () => `${this.name} applied ${i} without storing it`);
      const env = entry.kind === 'command' ? decodeEnvelope(entry.data) : null;
      const logTimeMs = env !== null && env.ok ? env.value.logTimeMs : null;
      // Encoding the whole state is most of a lock run's cost: every replica hashes it at the
      // same sample of indexes (multiples of 4 that end a drain), which still compares replicas
      // byte for byte all along the log.
      const hash = i === applied && i % 4 === 0 ? lockStateHash(core) : null;
      checker.onApplied(this.name, entry, logTimeMs, hash);
      this.options.onApplied?.(this.name, entry);
    }
    for (const i of [...this.entries.keys()]) if (i <= applied) this.entries.delete(i);
    this.reportedThrough = applied;
    if (out.notifications.length > 0) {
      this.options.workload?.notify(this.ctx.nowMs(), this.name, out.notifications);
      this.options.onNotifications?.(this.name, out.notifications);
    }
  }

  answerClients(): void {
    const out = this.out;
    this.out = null;
    if (out !== null) for (const r of out.replies) this.replied(r);
  }

  /** The core's answer: to the router when it routed the request, else (scripted changes) to the client. */
  private replied(reply: CoreReply): void {
    const ticket = this.atCore.get(reply.requestId);
    if (ticket === undefined) return this.answer(reply);
    this.atCore.delete(reply.requestId);
    this.routed.localAnswered(ticket, reply.result, this.localMs);
  }

  stop(reason: string): void {
    this.stopped = true;
    for (const r of this.core.stopSafely(reason)) {
      const ticket = this.atCore.get(r.requestId);
      if (ticket === undefined) this.answer(r);
      else this.routed.abort(ticket, r.result);
    }
    this.atCore.clear();
    this.routed.stop(reason);
  }

  snapshot(): Uint8Array {
    return this.core.host.stateMachine.snapshot();
  }

  snapshotTaken(index: LogIndex, bytes: Uint8Array): boolean {
    return this.core.host.snapshotTaken(index, bytes);
  }

  stateHash(): number {
    return lockStateHash(this.core);
  }
}
