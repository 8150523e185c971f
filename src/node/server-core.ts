/**
 * The lock service as the server drives it: NodeHost + LockStateMachine, with the parts of the
 * client protocol that are not I/O (commands, batched keepalives, ReadIndex queries, membership,
 * notifications of every applied entry). Synchronous; the driver feeds it and drains it.
 *
 * Keepalives are batched by the leader (docs/statemachine.md, "Sessions"): every keepalive received during one
 * `keepaliveIntervalMs` becomes one keepAliveBatch entry, and each is answered when it commits.
 */
import type { ConfChange, ConfState, NodeId } from '../raft/types.js';
import type { AdminCommand } from '../statemachine/auth-types.js';
import type { ClientCommand } from '../statemachine/commands.js';
import { encodeCommand } from '../statemachine/commands.js';
import type { SessionId } from '../statemachine/ids.js';
import { sessionId } from '../statemachine/ids.js';
import { LockStateMachine } from '../statemachine/machine.js';
import {
  checkFence,
  getKey,
  listKeys,
  listLocks,
  listRoles,
  listUsers,
  observe,
  sessionInfo,
} from '../statemachine/queries.js';
import type { ApplyOutput, Notification } from '../statemachine/results.js';
import { holdsEndedByRestore } from '../statemachine/restore-diff.js';
import type { Query, WireResult } from '../protocol/client-protocol.js';
import { permissionDenied, unavailable, wireResultOf } from '../protocol/client-protocol.js';
import { readDenial, sessionDenial } from './edge-access.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import type { DrainedOutput } from './driven-node.js';
import type { PeerInputs } from './peer-inputs.js';
import { PeerInputsForwarder } from './peer-inputs.js';
import type { HostOutput, NodeHostOptions, SnapshotRequest } from './host.js';
import { NodeHost } from './host.js';
import type { LogTimeEvent } from './log-time.js';
import type { HostReply } from './host-reply.js';
import type { RaftStatus } from '../raft/status.js';
import type { LockMachineConfig } from '../statemachine/config.js';
import type { StateMachineMirror } from './mirrored-state-machine.js';
import type { AppliedCommand } from '../raft/state-machine.js';
import { MirroredStateMachine } from './mirrored-state-machine.js';

/** One answer for a request the server made of the core. */
export interface CoreReply {
  readonly requestId: string;
  readonly result: WireResult;
}

export interface CoreOutput extends DrainedOutput {
  readonly replies: readonly CoreReply[];
  /** Notifications of every entry applied since the last drain, in log order. */
  readonly notifications: readonly Notification[];
  /** Snapshots taken here or installed from the leader since the last drain. */
  readonly snapshots: readonly { readonly kind: 'taken' | 'installed'; readonly index: number }[];
  /** Deferred snapshot mode: the host's requests (the machine is at exactly that index now). */
  readonly snapshotRequests: readonly SnapshotRequest[];
  /** Stamps this leader clamped and entries this follower refused under the log-time bound. */
  readonly logTimeEvents: readonly LogTimeEvent[];
}

type HostOptions = Omit<NodeHostOptions<ApplyOutput>, 'stateMachine' | 'observer'>;

export interface ServerCoreOptions extends HostOptions {
  readonly keepaliveIntervalMs: number;
  readonly machine: LockMachineConfig;
  /**
   * Called synchronously after every applied command with the state, what it returned and the
   * command itself, and after every snapshot installed from the leader: the simulator's lock
   * checkers run here, so they see every single applied entry.
   */
  readonly onApplied?: (state: LockStateMachine['state'], output: ApplyOutput, command: AppliedCommand) => void;
  readonly onRestored?: (state: LockStateMachine['state']) => void;
  /** Every configuration entry applied (a member added with its addresses teaches where it is). */
  readonly onConfigApplied?: (change: ConfChange) => void;
  /**
   * Fed every command applied to and every snapshot restored into the lock machine, after it,
   * in order (a copy of the machine on another thread snapshots for the deferred mode).
   */
  readonly mirror?: StateMachineMirror;
}

interface WaitingKeepAlive {
  readonly requestId: string;
  readonly session: SessionId;
}

type Pending =
  | { readonly kind: 'write' }
  | { readonly kind: 'read'; readonly query: Query; readonly principal: string | null }
  | { readonly kind: 'batch'; readonly waiting: readonly WaitingKeepAlive[] }
  | { readonly kind: 'config' }
  | { readonly kind: 'transfer' }
  | { readonly kind: 'barrier' };

/**
 * Records what every applied entry notifies, for the server to push to its own clients, and what
 * a snapshot installed from the leader ended without an entry applied here to say so (the holds
 * and sessions it no longer has), so those holders hear of it too.
 */
class NotifyingMachine extends LockStateMachine {
  notifications: Notification[] = [];
  onApplied: ServerCoreOptions['onApplied'] = undefined;
  override apply(command: Parameters<LockStateMachine['apply']>[0]): ApplyOutput {
    const output = super.apply(command);
    for (const n of output.notifications) this.notifications.push(n);
    this.onApplied?.(this.state, output, command);
    return output;
  }

  override restore(snapshot: Uint8Array): ReturnType<LockStateMachine['restore']> {
    const before = this.state;
    const restored = super.restore(snapshot);
    if (restored.ok) for (const n of holdsEndedByRestore(before, this.state)) this.notifications.push(n);
    return restored;
  }
}

export class ServerCore extends PeerInputsForwarder {
  readonly host: NodeHost<ApplyOutput>;
  private readonly machine: NotifyingMachine;
  private readonly keepaliveIntervalMs: number;
  private readonly pending = new Map<string, Pending>();
  private replies: CoreReply[] = [];
  private keepalives: { readonly requestId: string; readonly session: SessionId }[] = [];
  private lastBatchMs: number;
  private nowMs: number;
  private counter = 0;
  private snapshots: { readonly kind: 'taken' | 'installed'; readonly index: number }[] = [];

  private constructor(host: NodeHost<ApplyOutput>, machine: NotifyingMachine, options: ServerCoreOptions) {
    super();
    this.host = host;
    this.machine = machine;
    this.keepaliveIntervalMs = options.keepaliveIntervalMs;
    this.lastBatchMs = options.nowMs;
    this.nowMs = options.nowMs;
  }

  static create(options: ServerCoreOptions): Result<ServerCore, string> {
    const machine = new NotifyingMachine(options.machine, options.mutations);
    machine.onApplied = options.onApplied;
    let core: ServerCore | null = null;
    const host = NodeHost.create<ApplyOutput>({
      ...options,
      stateMachine: options.mirror === undefined ? machine : new MirroredStateMachine(machine, options.mirror),
      observer: {
        applied: (entry) => {
          if (entry.kind === 'config') options.onConfigApplied?.(entry.change);
        },
        restored: (snapshot) => {
          if (core !== null) core.snapshots.push({ kind: 'installed', index: snapshot.meta.index });
          options.onRestored?.(machine.state);
        },
        // Told by the host itself: a write's shape cannot tell a taken snapshot from an installed
        // one when it also carries a commit-only hard state.
        taken: (index) => {
          if (core !== null) core.snapshots.push({ kind: 'taken', index });
        },
      },
    });
    if (!host.ok) return err(host.error);
    core = new ServerCore(host.value, machine, options);
    return ok(core);
  }

  get id(): NodeId {
    return this.host.id;
  }

  /** Messages, unreachable peers and finished writes go straight to the host. */
  protected get peerInputs(): PeerInputs {
    return this.host;
  }

  get state(): LockStateMachine['state'] {
    return this.machine.state;
  }

  status(): RaftStatus {
    return this.host.status();
  }

  get isLeading(): boolean {
    return this.host.isLeading;
  }

  // ---- driven ------------------------------------------------------------------------------

  tick(nowMs: number): void {
    this.nowMs = nowMs;
    this.host.tick(nowMs);
    if (nowMs - this.lastBatchMs >= this.keepaliveIntervalMs) this.flushKeepalives();
  }

  drain(): CoreOutput {
    const out: HostOutput<ApplyOutput> = this.host.drain();
    for (const reply of out.replies) this.onHostReply(reply);
    const result: CoreOutput = {
      writes: out.writes,
      earlyMessages: out.earlyMessages,
      messages: out.messages,
      replies: this.replies,
      notifications: this.machine.notifications,
      snapshots: this.snapshots,
      snapshotRequests: out.snapshotRequests,
      logTimeEvents: out.logTimeEvents,
    };
    this.replies = [];
    this.machine.notifications = [];
    this.snapshots = [];
    return result;
  }

  /** The node stops: every waiting request is answered UNAVAILABLE (outcome unknown). */
  stopSafely(reason: string): readonly CoreReply[] {
    if (this.host.isStopped) return [];
    for (const reply of this.host.stop(reason)) this.onHostReply(reply);
    for (const k of this.keepalives) {
      this.replies.push({ requestId: k.requestId, result: unavailable(reason) });
    }
    this.keepalives = [];
    const out = this.replies;
    this.replies = [];
    return out;
  }

  // ---- requests ----------------------------------------------------------------------------

  /** A client command, already stamped with its principal (or none, on an insecure node). */
  command(requestId: string, command: ClientCommand): void {
    this.track(requestId, { kind: 'write' });
    this.host.propose(requestId, encodeCommand(command));
  }

  /** A change to the auth store; the state machine checks `principal` when it applies. */
  admin(requestId: string, principal: string | null, action: AdminCommand): void {
    this.track(requestId, { kind: 'write' });
    this.host.propose(requestId, encodeCommand({ type: 'admin', principal, action }));
  }

  /**
   * Keepalives enter the log without a principal (one batch for everybody), so the leader checks
   * here, against its applied state, that `principal` may keep `session` alive. A null principal
   * (an insecure node; the simulator) is unrestricted.
   */
  keepAlive(requestId: string, session: SessionId, principal: string | null = null): void {
    if (this.host.status().role !== 'leader') {
      this.replies.push({ requestId, result: this.notLeader() });
      return;
    }
    const denied = sessionDenial(this.state, principal, session);
    if (denied !== null) {
      this.replies.push({ requestId, result: permissionDenied(denied) });
      return;
    }
    this.keepalives.push({ requestId, session });
  }

  /**
   * A linearizable read, authorized for `principal` against the state it is answered from (null:
   * an insecure node, unrestricted).
   */
  read(requestId: string, query: Query, principal: string | null = null): void {
    this.track(requestId, { kind: 'read', query, principal });
    this.host.read(requestId);
  }

  /**
   * A read barrier: answered OK (`accepted`) once this node has confirmed with a quorum that it
   * still leads (a ReadIndex round) and has applied everything committed before the call, so what
   * it reads next holds every write acknowledged before the call (a backup is encoded then).
   */
  barrier(requestId: string): void {
    this.track(requestId, { kind: 'barrier' });
    this.host.read(requestId);
  }

  /**
   * A membership change. A change that is already in effect on the leader, with no change pending,
   * is answered OK at once: a client that lost the answer to its first try (the leader it asked
   * stepped down, or removed itself) retries and must get a definite answer, not a refusal.
   */
  confChange(requestId: string, change: ConfChange): void {
    const status = this.host.status();
    if (status.role === 'leader' && status.pendingConfIndex === 0 && inEffect(status.conf, change)) {
      this.replies.push({ requestId, result: { code: 'OK', value: { kind: 'accepted' } } });
      return;
    }
    this.track(requestId, { kind: 'config' });
    this.host.proposeConfChange(requestId, change);
  }

  transferLeadership(requestId: string, to: NodeId): void {
    this.track(requestId, { kind: 'transfer' });
    this.host.transferLeadership(requestId, to);
  }

  campaign(): void {
    this.host.campaign();
  }

  /** Voters and learners as of the last applied or appended configuration. */
  conf(): ConfState {
    return this.host.status().conf;
  }

  // ---- internals ---------------------------------------------------------------------------

  private track(requestId: string, pending: Pending): void {
    this.pending.set(requestId, pending);
  }

  private flushKeepalives(): void {
    this.lastBatchMs = this.nowMs;
    if (this.keepalives.length === 0) return;
    const waiting = this.keepalives;
    this.keepalives = [];
    if (this.host.status().role !== 'leader') {
      const refusal = this.notLeader();
      for (const k of waiting) this.replies.push({ requestId: k.requestId, result: refusal });
      return;
    }
    const sessions = [...new Set(waiting.map((k) => k.session))];
    this.counter += 1;
    const requestId = `kab/${this.counter}`;
    this.track(requestId, { kind: 'batch', waiting });
    this.host.propose(requestId, encodeCommand({ type: 'keepAliveBatch', sessions }));
  }

  private notLeader(): WireResult {
    const leader = this.host.status().leader;
    const hint = leader === this.id ? null : leader;
    return { code: 'NOT_LEADER', message: 'not the leader', leader: hint, leaderClient: null };
  }

  private onHostReply(reply: HostReply<ApplyOutput>): void {
    const pending = this.pending.get(reply.requestId);
    if (pending === undefined) return;
    this.pending.delete(reply.requestId);
    const answer = (requestId: string, result: WireResult): void => {
      this.replies.push({ requestId, result });
    };
    const fanOut = (result: WireResult): void => {
      if (pending.kind === 'batch') for (const k of pending.waiting) answer(k.requestId, result);
      else answer(reply.requestId, result);
    };
    switch (reply.code) {
      case 'NOT_LEADER':
        return fanOut({
          code: 'NOT_LEADER',
          message: 'not the leader',
          leader: reply.leader,
          leaderClient: null,
        });
      case 'DROPPED':
        if (pending.kind === 'config' && reply.reason === 'invalid-config-change') {
          // Retrying cannot help: say so, definitely.
          const message = 'this membership change does not apply to the current configuration';
          return fanOut({ code: 'INVALID_ARGUMENT', message });
        }
        if (pending.kind === 'transfer') {
          // Raft drops a transfer only for its target (the leader itself, a learner, an unknown
          // node): a retry would meet the same refusal until the timeout.
          return fanOut({ code: 'INVALID_ARGUMENT', message: `cannot transfer leadership: ${reply.reason}` });
        }
        return fanOut(unavailable(`refused before entering the log: ${reply.reason}; retry`));
      case 'UNKNOWN':
        return fanOut(unavailable(`outcome unknown: ${reply.reason}; retry with the same (clientId, seq)`));
      case 'OK':
        break;
    }
    if (reply.kind === 'write') {
      const result = wireResultOf(reply.result.result);
      if (pending.kind === 'batch') return this.answerBatch(pending.waiting, result);
      return answer(reply.requestId, result);
    }
    if (pending.kind === 'read') return answer(reply.requestId, this.runQuery(pending.query, pending.principal));
    return answer(reply.requestId, { code: 'OK', value: { kind: 'accepted' } });
  }

  private answerBatch(waiting: readonly WaitingKeepAlive[], result: WireResult): void {
    if (result.code !== 'OK' || result.value.kind !== 'keptBatch') {
      for (const k of waiting) this.replies.push({ requestId: k.requestId, result });
      return;
    }
    const expired = new Set<number>(result.value.expired);
    for (const k of waiting) {
      const info = sessionInfo(this.state, k.session);
      if (expired.has(k.session) || info === null) {
        const message = `session ${k.session} has expired`;
        this.replies.push({ requestId: k.requestId, result: { code: 'SESSION_EXPIRED', message } });
      } else {
        const session = sessionId(k.session);
        const value = { kind: 'kept' as const, session, deadlineMs: info.deadlineMs };
        this.replies.push({ requestId: k.requestId, result: { code: 'OK', value } });
      }
    }
  }

  private runQuery(query: Query, principal: string | null): WireResult {
    const state = this.state;
    const denied = readDenial(state, principal, query);
    if (denied !== null) return permissionDenied(denied);
    switch (query.kind) {
      case 'get':
        return { code: 'OK', value: { kind: 'key', key: getKey(state, query.key) } };
      case 'checkFence': {
        const answer = checkFence(state, query.lock, query.token);
        if (answer.code === 'OK') {
          return { code: 'OK', value: { kind: 'fence', lock: query.lock, token: query.token } };
        }
        const message = `token ${query.token} is not a current grant of ${query.lock}`;
        return { code: 'STALE_TOKEN', message };
      }
      case 'observe': {
        const leader = observe(state, query.name);
        return { code: 'OK', value: { kind: 'leader', name: query.name, leader } };
      }
      case 'locks': {
        const locks = listLocks(state, query.prefix, query.limit);
        return { code: 'OK', value: { kind: 'locks', locks } };
      }
      case 'keys': {
        const page = listKeys(state, query.prefix, query.after, query.limit);
        return { code: 'OK', value: { kind: 'keys', keys: page.keys, next: page.next } };
      }
      case 'session': {
        const session = sessionInfo(state, query.session);
        return { code: 'OK', value: { kind: 'sessionInfo', session } };
      }
      case 'users':
        return { code: 'OK', value: { kind: 'users', users: listUsers(state) } };
      case 'roles':
        return { code: 'OK', value: { kind: 'roles', roles: listRoles(state) } };
    }
  }
}

/** Whether `change` describes the configuration as it already is. */
function inEffect(conf: ConfState, change: ConfChange): boolean {
  const voter = conf.voters.includes(change.node);
  const learner = conf.learners.includes(change.node);
  switch (change.type) {
    case 'addLearner':
    case 'addMember':
      return learner || voter;
    case 'promoteLearner':
      return voter;
    case 'removeNode':
      return !voter && !learner;
  }
}
