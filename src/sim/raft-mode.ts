/**
 * Raft mode (the default, `machineKind: 'hash'`): every node is a bare NodeHost over a
 * `SimStateMachine` (the rolling-hash `HashMachine` unless the caller plugs in another), and the
 * random clients (src/sim/workload.ts) send raw writes and linearizable reads.
 */
import type { RaftStatus } from '../raft/status.js';
import type { ConfChange, LogIndex, NodeId } from '../raft/types.js';
import { decodeEnvelope } from '../node/envelope.js';
import type { HostReply } from '../node/host-reply.js';
import type { HostOutput } from '../node/host.js';
import { NodeHost } from '../node/host.js';
import type { PeerInputs } from '../node/peer-inputs.js';
import { PeerInputsForwarder } from '../node/peer-inputs.js';
import { AssertionError, assertNever } from '../util/assert.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import { Violation } from './checkers/violation.js';
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
import { bootHostOptions } from './node-driver.js';
import { ModeClients } from './mode-clients.js';
import type { SimStateMachine } from './sim-machine.js';
import type { SimulationStats } from './sim-stats.js';
import type { Workload } from './workload.js';

/** The requests a raft-mode node takes. */
type HashRequest = Extract<ClientRequest, { readonly kind: 'propose' | 'read' }>;

function hashRequest(request: ClientRequest): HashRequest {
  if (request.kind === 'lock') throw new AssertionError('lock requests need machineKind: locks');
  return request;
}

export interface RaftModeOptions {
  readonly host: HostSettings;
  readonly createMachine: () => SimStateMachine<unknown>;
  /** The random clients; null when a script sends every request. */
  readonly workload: Workload | null;
}

export class RaftMode extends ModeClients<HostReply<unknown>> implements SimMode {
  constructor(
    private readonly ctx: SimContext,
    private readonly options: RaftModeOptions,
  ) {
    super();
  }

  protected get workload(): Workload | null {
    return this.options.workload;
  }

  protected clientAnswer(reply: HostReply<unknown>): ClientAnswer {
    return { kind: 'host', reply };
  }

  boot(node: NodeBoot): Result<NodeDriver, string> {
    const ctx = this.ctx;
    const machine = this.options.createMachine();
    // Restores while booting come from the node's own disk; later ones are InstallSnapshots.
    let booted = false;
    const created = NodeHost.create<unknown>({
      ...bootHostOptions(this.options.host, node),
      stateMachine: machine,
      observer: {
        applied: (entry, logTimeMs) => {
          ctx.stateChecker.onApplied(node.name, entry, logTimeMs, machine.stateHash);
          const broken = machine.invariants?.() ?? [];
          if (broken.length > 0) {
            throw new Violation('state-machine-invariants', `${node.name} after ${entry.index}: ${broken.join('; ')}`);
          }
        },
        restored: (snapshot) => {
          if (booted) ctx.stats.snapshotsInstalled += 1;
          const env = decodeEnvelope(snapshot.data);
          const logTimeMs = env.ok ? env.value.logTimeMs : 0;
          ctx.stateChecker.onRestored(node.name, snapshot.meta.index, logTimeMs, machine.stateHash);
        },
      },
    });
    if (!created.ok) return err(created.error);
    if (node.persisted.snapshot === null) ctx.stateChecker.onRestored(node.name, 0, 0, null);
    booted = true;
    return ok(new RaftNodeDriver(created.value, machine, (reply) => this.answer(node.name, reply)));
  }

  nodeLost(name: string): void {
    this.options.workload?.nodeLost(this.ctx.nowMs(), name);
  }

  checkScripted(request: ClientRequest): void {
    hashRequest(request);
  }

  refuse(node: string, request: ClientRequest): void {
    this.answer(node, { requestId: hashRequest(request).requestId, code: 'NOT_LEADER', leader: null });
  }

  /** Raft mode's clients talk to nodes only; nodes never forward. */
  nextForwardAtMs(): number | null {
    return null;
  }

  dueForwards(): readonly AddressedRequest[] {
    return [];
  }

  dueRequests(nowMs: number): readonly AddressedRequest[] {
    const workload = this.options.workload;
    if (workload === null || workload.nextAtMs > nowMs) return [];
    const op = workload.next(nowMs);
    if (op === null) return [];
    const { requestId, payload } = op;
    const request: HashRequest =
      op.kind === 'write' ? { kind: 'propose', requestId, payload } : { kind: 'read', requestId };
    return [{ node: op.node, request }];
  }

  get maxAcknowledgedIndex(): number {
    return (this.options.workload?.acknowledged ?? []).reduce((m, a) => Math.max(m, a.index), 0);
  }

  collectStats(stats: SimulationStats): void {
    if (this.options.workload !== null) stats.lost = this.options.workload.stats.lost;
  }

  private answer(node: string, reply: HostReply<unknown>): void {
    const ctx = this.ctx;
    // Clients know nodes by name; a leader hint carries the Raft id.
    const r: HostReply<unknown> =
      reply.code === 'NOT_LEADER' && reply.leader !== null
        ? { ...reply, leader: ctx.nameOf(reply.leader) as NodeId | null }
        : reply;
    if (r.code === 'OK' && r.kind === 'write') ctx.stats.acknowledged += 1;
    if (r.code === 'UNKNOWN') ctx.stats.unknownOutcome += 1;
    this.deliver(ctx.nowMs(), r);
    ctx.trace(`${node} reply ${r.requestId} ${r.code}${r.code === 'OK' ? ` ${r.index}` : ''}`);
  }
}

/** One incarnation of a raft-mode node: the NodeHost and its state machine. */
class RaftNodeDriver extends PeerInputsForwarder implements NodeDriver {
  private replies: readonly HostReply<unknown>[] = [];

  constructor(
    private readonly host: NodeHost<unknown>,
    private readonly machine: SimStateMachine<unknown>,
    private readonly answer: (reply: HostReply<unknown>) => void,
  ) {
    super();
  }

  protected get peerInputs(): PeerInputs {
    return this.host;
  }

  status(): RaftStatus {
    return this.host.status();
  }

  get applied(): LogIndex {
    return this.host.applied;
  }

  get pendingCount(): number {
    return this.host.pendingCount;
  }

  tick(localMs: number): void {
    this.host.tick(localMs);
  }

  request(request: ClientRequest): void {
    const r = hashRequest(request);
    switch (r.kind) {
      case 'propose':
        return this.host.propose(r.requestId, r.payload);
      case 'read':
        return this.host.read(r.requestId);
      default:
        return assertNever(r, 'hash request');
    }
  }

  proposeConfChange(requestId: string, change: ConfChange): void {
    this.host.proposeConfChange(requestId, change);
  }

  transferLeadership(requestId: string, to: NodeId): void {
    this.host.transferLeadership(requestId, to);
  }

  drain(): HostOutput<unknown> {
    const out = this.host.drain();
    this.replies = out.replies;
    return out;
  }

  reportApplied(): void {
    // Nothing left to do: the host's observer showed the checkers each entry as it was applied.
  }

  answerClients(): void {
    const replies = this.replies;
    this.replies = [];
    for (const r of replies) this.answer(r);
  }

  stop(reason: string): void {
    for (const r of this.host.stop(reason)) this.answer(r);
  }

  snapshot(): Uint8Array {
    return this.host.stateMachine.snapshot();
  }

  snapshotTaken(index: LogIndex, bytes: Uint8Array): boolean {
    return this.host.snapshotTaken(index, bytes);
  }

  stateHash(): number {
    return this.machine.stateHash;
  }
}
