import { randomUUID } from 'node:crypto';
import type { NodeId } from '../raft/types.js';
import type { Operation } from '../statemachine/commands.js';
import type { FencingToken, SessionId } from '../statemachine/ids.js';
import { fencingToken, sessionId } from '../statemachine/ids.js';
import type { LockView } from '../statemachine/queries.js';
import type { RevokeReason, WatchEvent } from '../statemachine/results.js';
import type { MemberView } from '../protocol/client-protocol.js';
import { Roles, Users, whoAmIOf } from './admin.js';
import type { AdminAction, WhoAmI } from '../statemachine/auth-types.js';
import { answerOf, errorOf, malformed, okValue } from './answers.js';
import { Channel } from './channel.js';
import { Connection, ConnectionLost } from './connection.js';
import { deferred } from './deferred.js';
import type { CancelTimer } from './clock.js';
import type { Deferred } from './deferred.js';
import { RaftlockError } from './errors.js';
import { KvStore } from './kv.js';
import type { LaneTicket } from './lanes.js';
import { CommandLanes } from './lanes.js';
import type { HoldLink, HoldTurn, LockKindName } from './lock.js';
import { Lock } from './lock.js';
import { abortable, NameQueue } from './name-queue.js';
import type { Turn } from './name-queue.js';
import type { ConnectOptions, ResolvedOptions } from './options.js';
import { resolveOptions } from './options.js';
import type {
  ClientOp,
  MembersAction,
  PushEvent,
  Query,
  WireAnswer,
  Welcome,
  WireResult,
  WireValue,
} from '../protocol/client-protocol.js';
import { assertNever } from '../util/assert.js';
import { Election, RwLock, Semaphore } from './recipes.js';
import { ClientSession } from './session.js';
import type { KeepAliveOutcome } from './session.js';
import type { AcquireOptions, ClientEvents, HoldSpec, Kv, NodeStatus } from './types.js';
import type { Granted } from './turn-run.js';
import { grantedTurns, TurnRun } from './turn-run.js';
import type { WatchLink, WatchOptions } from './watch.js';

/** One piece of a backup file, as `Client.backupChunk` answers it. */
export interface BackupChunkAnswer {
  readonly backup: number;
  readonly offset: number;
  /** The whole file's length. */
  readonly total: number;
  readonly bytes: Uint8Array;
}
import { WatchStream } from './watch.js';

/** Options of one command call. */
interface CommandOptions {
  readonly deadlineMs?: number;
  readonly signal?: AbortSignal | undefined;
  /**
   * For a command sent under a hold (a fenced write, a proclaim): throws when the hold is no
   * longer guaranteed, and the command is then not sent. Run right before the first send.
   */
  readonly holdCheck?: () => void;
}

interface PendingWait {
  readonly session: ClientSession;
  readonly spec: HoldSpec;
  readonly lockDelayMs: number;
  /** Client-clock time the server-side wait ends. */
  readonly waitDeadlineMs: number;
  /**
   * The lane the acquire went out on, and its seq there: a push is for this wait only if it names
   * that lane and no lower seq. Pushes about older acquires of the same session and name (a node
   * catching up replays old grants and pushes them again) are not for this wait. '' until sent.
   */
  laneId: string;
  seqMin: number;
  /** Settle the caller's promise; both move `state` to where the wait ended. */
  readonly resolve: (granted: Granted) => void;
  readonly reject: (error: unknown) => void;
  state: WaitState;
}

/**
 * Where a wait is:
 * - `sending`: the acquire is still being sent under its seq, and its answer (from the
 *   exactly-once table) is the outcome; there is no server-side wait to ask about yet, and a
 *   second acquire would be a new request that may take what the first was refused;
 * - `queued`: answered `queued`: the cluster ends the wait with a push, or a re-check asks;
 * - `abandoned`: queued, and the caller gave up: a later grant is released at once, then `done`
 *   runs (it ends the caller's local turn on the name);
 * - `granted`: ended with a grant (the caller's hold, or one handed back if it was abandoned);
 * - `ended`: ended without a grant (timeout, refusal, lost session, closed client).
 */
type WaitState =
  | { readonly kind: 'sending' }
  | { readonly kind: 'queued' }
  | { readonly kind: 'abandoned'; readonly done: () => void }
  | { readonly kind: 'granted' }
  | { readonly kind: 'ended' };

/** Whether the cluster holds a wait for it: only then can a re-check ask what became of it. */
function waitsOnCluster(state: WaitState): boolean {
  switch (state.kind) {
    case 'queued':
    case 'abandoned':
      return true;
    case 'sending':
    case 'granted':
    case 'ended':
      return false;
    default:
      return assertNever(state, 'wait state');
  }
}

/**
 * A hold's release handed by its Lock to the next caller of this client waiting for the name, to
 * go out with that caller's acquire as one `handoff` command (one commit instead of two in series).
 */
interface CarriedRelease {
  readonly type: 'release';
  readonly session: SessionId;
  readonly name: string;
  readonly kind: LockKindName;
  /** The Lock's release(): settled with the handoff's outcome, or a plain release's. */
  readonly released: Deferred<void>;
}

/** The hold itself, passed within a run of turns to the next caller under the run's next token. */
interface RunPass {
  readonly type: 'pass';
  readonly run: TurnRun;
  readonly token: FencingToken;
}

/** What a hold's turn hands to the next caller of this client waiting for the name. */
type Handover = CarriedRelease | RunPass;

/**
 * A connection to a raftlock cluster. Create it with `connect()`. Every command carries a lane id
 * (the client's id, or the id plus `#k`) and a sequence number. Each lane has one command in flight,
 * so a retried one is always its lane's latest, and the cluster answers it from its exactly-once
 * table instead of re-applying it; concurrent calls take separate lanes (see lanes.ts).
 */
export class RaftlockClient {
  readonly clientId: string;
  private readonly options: ResolvedOptions;
  private readonly channel: Channel;
  private readonly lanes: CommandLanes;
  private readonly sessions = new Map<number, ClientSession>();
  private readonly openingSessions = new Map<number, Promise<ClientSession>>();
  private readonly waits = new Map<string, PendingWait>();
  /** Granted holds by fencing token (unique forever), so a `revoked` push aborts that very hold. */
  private readonly holds = new Map<number, Lock>();
  /**
   * Tokens of holds that ended, with why: those this client released, lost with a session, or was
   * told were revoked — also before it had made their Lock (a push of a later entry may overtake
   * an answer: a node pushes hold endings first). A fenced write naming one is not sent. Bounded,
   * oldest first. The error is made only when something asks (a fenced write, a Lock born
   * ended): every release ends a hold, and an Error captures a stack trace.
   */
  private readonly endedTokens = new Map<number, () => RaftlockError>();
  private readonly watches = new Set<WatchStream>();
  /** Events that arrived before their watch's answer (same data chunk); claimed by the stream. */
  private readonly orphanEvents = new Map<number, WatchEvent[]>();
  private orphanCount = 0;
  private readonly names = new NameQueue<Handover>();
  /** Runs of turns in progress, by the grant's token (the one the cluster's revocations name). */
  private readonly runs = new Map<number, TurnRun>();
  private readonly listeners: { [K in keyof ClientEvents]: Set<ClientEvents[K]> } = {
    sessionLost: new Set(),
    connected: new Set(),
  };
  private closed = false;

  constructor(options: ConnectOptions) {
    this.options = resolveOptions(options, randomUUID);
    this.clientId = this.options.clientId;
    // Seqs start from the wall clock so a restarted client reusing its id never repeats a seq
    // the cluster may still hold a result for.
    this.lanes = new CommandLanes(this.clientId, this.options.commandsInFlightMax, () => Date.now() * 1000);
    this.channel = new Channel({
      endpoints: this.options.endpoints,
      clusterId: this.options.clusterId,
      clientName: this.clientId,
      followLeader: this.options.followLeader,
      frameBytesMax: this.options.frameBytesMax,
      connectTimeoutMs: this.options.connectTimeoutMs,
      attemptTimeoutMs: this.options.attemptTimeoutMs,
      backoff: this.options.backoff,
      random: this.options.random,
      clock: this.options.clock,
      tls: this.options.tls,
      credentials: this.options.credentials,
      onPush: (push) => this.onPush(push),
      onConnected: (welcome) => this.onConnected(welcome),
    });
  }

  /**
   * Lanes opened so far: the most commands this client has had in flight at once (up to
   * `commandsInFlightMax`), and the entries it may hold in the cluster's exactly-once table.
   */
  get lanesOpened(): number {
    return this.lanes.opened;
  }

  /** The node currently connected to and its view of the cluster, if connected. */
  get welcome(): Welcome | null {
    return this.channel.welcome;
  }

  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    const set = this.listeners[event] as Set<ClientEvents[K]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** The live session for `ttlMs` (the client's default when absent), opened on first use. */
  async session(ttlMs: number = this.options.ttlMs): Promise<ClientSession> {
    const live = this.sessions.get(ttlMs);
    if (live !== undefined && !live.isLost) return live;
    const opening = this.openingSessions.get(ttlMs);
    if (opening !== undefined) return opening;
    const promise = this.openSession(ttlMs).finally(() => this.openingSessions.delete(ttlMs));
    this.openingSessions.set(ttlMs, promise);
    return promise;
  }

  // ---- locks ---------------------------------------------------------------------------------

  /** Takes the mutex `name`, waiting up to `waitMs` (default 30 000) in its FIFO queue. */
  lock(name: string, options: AcquireOptions = {}): Promise<Lock> {
    return this.acquireHold(mutexSpec(name), { waitMs: 30_000, ...options });
  }

  /** Takes the mutex only if it is free now; null when it is taken. */
  async tryLock(name: string, options: Omit<AcquireOptions, 'waitMs'> = {}): Promise<Lock | null> {
    try {
      return await this.acquireHold(mutexSpec(name), { ...options, waitMs: 0 });
    } catch (error: unknown) {
      if (error instanceof RaftlockError && error.code === 'BUSY') return null;
      throw error;
    }
  }

  /**
   * Runs `fn` holding `name` and releases it afterwards, whatever `fn` does. `fn` gets the lock,
   * whose `signal` it should pass to anything long-running so work stops if the session is lost.
   */
  async withLock<T>(name: string, fn: (lock: Lock) => Promise<T> | T, options: AcquireOptions = {}): Promise<T> {
    const lock = await this.lock(name, options);
    try {
      return await fn(lock);
    } finally {
      await lock.release().catch(() => undefined);
    }
  }

  /**
   * The generic acquire behind every lock kind: one local turn per name, then the request; a
   * queued request is completed by a `granted` or `timeout` push (or, after a reconnection, by
   * asking again: a session that already holds or waits gets its grant or its place back).
   */
  async acquireHold(spec: HoldSpec, options: AcquireOptions): Promise<Lock> {
    const waitMs = options.waitMs ?? 0;
    const lockDelayMs = options.lockDelayMs ?? 0;
    const signal = options.signal;
    if (!Number.isSafeInteger(waitMs) || waitMs < 0) {
      throw new RaftlockError('INVALID_ARGUMENT', 'waitMs must be an integer ≥ 0');
    }
    const turnStartedMs = this.options.clock.nowMs();
    const accepts = (carry: Handover): boolean => this.takesHandoff(spec, options.ttlMs, carry);
    const turn = await this.localTurn(spec.name, waitMs, signal, accepts);
    const handed = turn.carried;
    if (handed?.type === 'pass') {
      const passed = this.takePass(turn, spec, handed);
      if (passed !== null) return passed;
    }
    const endTurn = (): void => turn.end();
    // waitMs bounds the whole call: the cluster's queue gets what the local turn left.
    const queueMs = Math.max(0, waitMs - Math.ceil(this.options.clock.nowMs() - turnStartedMs));
    let keepTurn = false;
    // The previous caller's release, to send with this acquire; settled (and null) once sent.
    let carried = handed?.type === 'release' ? handed : null;
    try {
      const session = await this.session(options.ttlMs);
      const request = spec.request(session.id, queueMs, lockDelayMs);
      if (carried !== null && (carried.session !== session.id || request.type !== 'acquire')) {
        // The session was lost meanwhile (or this is no mutex acquire): the release goes alone, first.
        await this.releaseCarried(carried);
        carried = null;
      }
      // A handoff asks for a turn for each caller of this client queued behind this one by now.
      const arrivedBy = this.names.arrivals;
      const turns = Math.min(this.options.turnsPerGrant, 1 + this.names.waiting(spec.name));
      const op: Operation =
        carried !== null && request.type === 'acquire' ? { ...request, type: 'handoff', turns } : request;
      const key = waitKey(session.id, spec.name);
      const grant = deferred<Granted>();
      let grantedToken: FencingToken | null = null;
      const wait: PendingWait = {
        session,
        spec,
        lockDelayMs,
        waitDeadlineMs: this.options.clock.nowMs() + queueMs,
        laneId: '',
        seqMin: 0,
        resolve: (granted) => {
          grantedToken = granted.token;
          wait.state = { kind: 'granted' };
          grant.resolve(granted);
        },
        reject: (error) => {
          wait.state = { kind: 'ended' };
          grant.reject(error);
        },
        state: { kind: 'sending' },
      };
      const granted = grant.promise;
      // Registered before sending: the grant can be pushed before the answer arrives.
      this.waits.set(key, wait);
      let result: WireResult;
      const sendOnce = (what: Operation): Promise<WireResult> =>
        this.lanes.run((ticket) => {
          wait.laneId = ticket.laneId;
          wait.seqMin = ticket.seq;
          return this.send(what, {}, ticket);
        });
      try {
        // Not abortable: once sent it may be applied, and only its answer says what to undo.
        if (this.closed) throw new RaftlockError('CLOSED', 'the client is closed');
        result = await sendOnce(op);
        if (carried !== null && result.code !== 'OK') {
          // Any answer but OK may come from before the release part ran: release alone to be sure.
          await this.releaseCarried(carried);
          carried = null;
          // A node that predates the handoff command refuses it unread: ask as a plain acquire.
          if (result.code === 'INVALID_ARGUMENT') result = await sendOnce(request);
        }
      } catch (error: unknown) {
        this.waits.delete(key);
        throw error;
      }
      if (carried !== null) {
        carried.released.resolve();
        carried = null;
      }
      if (result.code !== 'OK') {
        this.waits.delete(key);
        throw errorOf(result);
      }
      const value = result.value;
      if (value.kind === 'queued') {
        // Unless a push already ended it (a grant or timeout may overtake this answer).
        if (wait.state.kind === 'sending') wait.state = { kind: 'queued' };
      } else {
        this.waits.delete(key);
        if (value.kind !== 'granted') throw malformed('granted or queued', value);
        wait.resolve({ token: fencingToken(value.token), turns: grantedTurns(value) });
      }
      const stop = signal === undefined ? session.signal : AbortSignal.any([signal, session.signal]);
      // The cluster ends a queued wait with a push; should that push be lost without the
      // connection dropping, ask again a little after the wait's end.
      // Cancelled when the grant settles, and also when the caller stops waiting on a wait no
      // longer tracked (close() or a lost session): its grant never settles, and an armed timer
      // (wait + attempt timeout, minutes by default) would keep the process alive.
      let cancelCheck: CancelTimer = () => undefined;
      if (wait.state.kind === 'queued') {
        cancelCheck = this.options.clock.setTimer(
          () => void this.recheck(wait),
          wait.waitDeadlineMs - this.options.clock.nowMs() + this.options.attemptTimeoutMs,
        );
        granted.finally(cancelCheck).catch(() => undefined);
      }
      let got: Granted;
      try {
        got = await abortable(granted, stop);
      } catch (error: unknown) {
        if (this.waits.get(key) === wait && !session.isLost) {
          // Still queued on the server: whatever comes later is released; the turn ends then.
          wait.state = { kind: 'abandoned', done: endTurn };
          keepTurn = true;
        } else {
          this.waits.delete(key);
          cancelCheck();
          if (grantedToken !== null && !session.isLost) {
            // Granted just as the caller gave up: hand the grant back before the next turn.
            keepTurn = true;
            this.holdLink
              .release(spec.name, session.id, spec.kind)
              .finally(endTurn)
              .catch(() => undefined);
          }
        }
        throw error;
      }
      const run = got.turns > 1 ? new TurnRun(session, spec.name, got.token, got.turns, arrivedBy) : null;
      if (run !== null) this.runs.set(got.token, run);
      return this.holdFor(turn, spec, session, got.token, run);
    } catch (error: unknown) {
      // Unsent, or its outcome unknown: released alone, before the next caller of this client asks.
      if (carried !== null) await this.releaseCarried(carried);
      if (!keepTurn) endTurn();
      throw error;
    }
  }

  /**
   * The Lock of a caller granted `token` (the first of a run's, when `run` is given), holding the
   * name's local turn until it ends.
   */
  private holdFor(
    turn: Turn<Handover>,
    spec: HoldSpec,
    session: ClientSession,
    token: FencingToken,
    run: TurnRun | null,
  ): Lock {
    const holdTurn: HoldTurn = {
      end: () => {
        turn.end();
        // Ended without a pass (released alone, revoked, session lost): the run is over.
        if (run !== null && run.current === lock) this.endRun(run);
      },
      handOff: () => this.handOff(turn, spec, session.id, token, run),
    };
    const lock = new Lock(spec.name, spec.kind, token, session.id, session, this.holdLink, holdTurn);
    if (run !== null) run.current = lock;
    // Told of its end before its grant's answer arrived: born ended.
    const ended = this.endedTokens.get(token);
    if (ended === undefined) this.holds.set(token, lock);
    else lock.revoke(ended());
    return lock;
  }

  /**
   * A caller handed the hold within a run: its Lock under the run's next token, at once, without a
   * command. null when the run ended meanwhile (revoked, or its session lost): the caller then
   * asks the cluster as any caller would.
   */
  private takePass(turn: Turn<Handover>, spec: HoldSpec, pass: RunPass): Lock | null {
    const { run, token } = pass;
    if (run.revokedBy !== null || run.session.isLost) {
      this.endRun(run);
      return null;
    }
    return this.holdFor(turn, spec, run.session, token, run);
  }

  private endRun(run: TurnRun): void {
    if (this.runs.get(run.holdToken) === run) this.runs.delete(run.holdToken);
  }

  /**
   * Whether a caller about to acquire `spec` takes what the previous caller hands over: a mutex of
   * the same name, in the very session that holds it (the handoff command and a run act in one
   * session).
   */
  private takesHandoff(spec: HoldSpec, ttlMs: number | undefined, carry: Handover): boolean {
    if (spec.kind !== 'mutex') return false;
    const name = carry.type === 'pass' ? carry.run.name : carry.name;
    if (name !== spec.name || (carry.type === 'release' && carry.kind !== 'mutex')) return false;
    const session = carry.type === 'pass' ? carry.run.session.id : carry.session;
    const live = this.sessions.get(ttlMs ?? this.options.ttlMs);
    return live !== undefined && !live.isLost && live.id === session;
  }

  /**
   * Releases a hold by handing its turn to the next caller of this client waiting for the name:
   * within a run, the hold itself under the run's next token, if that caller was in line when the
   * run was asked for; otherwise the release, which that caller sends with its acquire as one
   * `handoff` command. null when no caller waiting can take it (then the Lock releases alone).
   */
  private handOff(
    turn: Turn<Handover>,
    spec: HoldSpec,
    session: SessionId,
    token: FencingToken,
    run: TurnRun | null,
  ): Promise<void> | null {
    if (spec.kind !== 'mutex' || this.closed) return null;
    const next = run?.nextToken() ?? null;
    if (run !== null && next !== null && turn.handOver({ type: 'pass', run, token: next }, run.arrivedBy)) {
      run.passed();
      this.forgetHold(spec.name, token);
      return Promise.resolve();
    }
    const released = deferred<void>();
    if (!turn.handOver({ type: 'release', session, name: spec.name, kind: spec.kind, released })) return null;
    if (run !== null) this.endRun(run);
    this.forgetHold(spec.name, token);
    return released.promise;
  }

  /** A carried release that will not go out with an acquire: sent alone; never throws. */
  private async releaseCarried(carried: CarriedRelease): Promise<void> {
    await this.holdLink
      .release(carried.name, carried.session, carried.kind)
      .then(carried.released.resolve, carried.released.reject);
  }

  /**
   * This client's turn on `name`, waited for at most `waitMs`: a caller already holding or
   * awaiting the name would otherwise make a tryLock wait, and a bounded wait wait for ever. Both
   * end as the cluster's queue would end them: BUSY for no wait, TIMEOUT after the wait.
   */
  private async localTurn(
    name: string,
    waitMs: number,
    signal: AbortSignal | undefined,
    accepts: (carry: Handover) => boolean,
  ): Promise<Turn<Handover>> {
    // Free here: the turn is this caller's at once, and neither signal nor deadline is looked at.
    if (!this.names.busy(name)) return this.names.turn(name, undefined, accepts);
    const why = `${name} is held or awaited by another call of this client`;
    if (waitMs === 0) throw new RaftlockError('BUSY', why);
    const deadline = new AbortController();
    const cancel = this.options.clock.setTimer(
      () => deadline.abort(new RaftlockError('TIMEOUT', `${why}, for longer than waitMs (${waitMs} ms)`)),
      waitMs,
    );
    try {
      const stop = signal === undefined ? deadline.signal : AbortSignal.any([signal, deadline.signal]);
      return await this.names.turn(name, stop, accepts);
    } finally {
      cancel();
    }
  }

  /** A counting semaphore of `permits` on `name`. */
  semaphore(name: string, permits: number): Semaphore {
    return new Semaphore(this, name, permits);
  }

  /** A read/write lock on `name`. */
  rwlock(name: string): RwLock {
    return new RwLock(this, name);
  }

  /** Leader election on `name`: campaign, observe, resign, proclaim. */
  election(name: string): Election {
    return new Election(this, name);
  }

  /** The versioned key/value store: get, put (ifVersion, fence, ephemeral), cas, delete. */
  readonly kv: Kv = new KvStore({
    session: () => this.session(),
    checkHold: (fence) => this.checkHold(fence),
    command: (op, holdCheck) => this.command(op, holdCheck === undefined ? {} : { holdCheck }),
    read: (query) => this.readResult(query),
  });

  // ---- keys and fences ----------------------------------------------------------------------

  /** True when `token` is a current grant of `lock` (for resources checking tokens themselves). */
  async checkFence(lock: string, token: number): Promise<boolean> {
    const result = await this.readResult({ kind: 'checkFence', lock, token });
    if (result.code === 'STALE_TOKEN') return false;
    answerOf(result, 'fence');
    return true;
  }

  /** Locks whose name starts with `prefix`, with holders and waiters. */
  async locks(prefix = '', limit = 1000): Promise<LockView[]> {
    return [...answerOf(await this.readResult({ kind: 'locks', prefix, limit }), 'locks').locks];
  }

  /**
   * Events on names starting with `prefix`, as an async iterator; `fromIndex` resumes after a log
   * index. Survives reconnections without gaps, or throws COMPACTED.
   */
  watch(prefix: string, options: WatchOptions = {}): WatchStream {
    const stream = new WatchStream(prefix, this.watchLink, options);
    this.watches.add(stream);
    void stream.subscribe();
    return stream;
  }

  // ---- users, roles and who this client is -----------------------------------------------------

  /** User management (admins; a user may change its own password): add, delete, passwd, grant, revoke, list. */
  readonly users: Users = new Users({
    admin: (action) => this.adminResult(action),
    read: (query) => this.readResult(query),
  });

  /** Role management (admins): add, delete, grant rights on a prefix, revoke, list. */
  readonly roles: Roles = new Roles({
    admin: (action) => this.adminResult(action),
    read: (query) => this.readResult(query),
  });

  /** The principal the connected node authenticated, its roles, and whether it is an admin. */
  async whoami(): Promise<WhoAmI> {
    return whoAmIOf(await this.adminAnswer({ kind: 'whoami' }, 'whoami'));
  }

  // ---- operator calls ------------------------------------------------------------------------

  /** Status of the node this client is connected to. */
  async status(): Promise<NodeStatus> {
    return (await this.adminAnswer({ kind: 'status' }, 'status')).status;
  }

  /** Status of one node by its client address, without leader following. */
  async statusOf(address: string): Promise<NodeStatus> {
    const clock = this.options.clock;
    const connection = await Connection.open(address, {
      clusterId: this.options.clusterId,
      clientName: this.clientId,
      frameBytesMax: this.options.frameBytesMax,
      connectTimeoutMs: this.options.connectTimeoutMs,
      clock,
      tls: this.options.tls,
      // A one-off connection: the password itself (a token of that node may have expired).
      auth: this.options.credentials,
      onPush: () => undefined,
      onClose: () => undefined,
    }).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      const definite = error instanceof ConnectionLost && error.unauthenticated;
      throw new RaftlockError(definite ? 'UNAUTHENTICATED' : 'UNAVAILABLE', message);
    });
    try {
      const result = await connection.request({ kind: 'status' }).catch((error: unknown) => {
        const message = error instanceof ConnectionLost ? error.message : String(error);
        throw new RaftlockError('UNAVAILABLE', message);
      });
      return answerOf(result, 'status').status;
    } finally {
      connection.close();
    }
  }

  /** Membership: list, or add a learner / promote / remove a node (leader only). */
  async members(
    action: MembersAction,
    args: { readonly node?: NodeId; readonly peer?: string; readonly client?: string } = {},
  ): Promise<readonly MemberView[]> {
    const value = await this.adminValue({ kind: 'members', action, ...args });
    if (value.kind === 'accepted') return action === 'list' ? [] : this.members('list');
    if (value.kind !== 'members') throw malformed('a member list', value);
    return value.members;
  }

  /** Asks the leader to hand leadership to `to`; resolves when the request is accepted. */
  async transferLeader(to: NodeId): Promise<void> {
    await this.adminAnswer({ kind: 'transferLeader', to }, 'accepted');
  }

  /** Asks the connected node to take a snapshot now; resolves with the snapshot's index. */
  async snapshot(): Promise<number> {
    return (await this.adminAnswer({ kind: 'snapshot' }, 'snapshotTaken')).index;
  }

  /**
   * One chunk of a backup file (`raftlock backup`; admin only, through the leader): `backup` 0
   * makes the node encode a new backup and answers its first chunk; pass the answer's `backup`
   * and the next offset for the rest.
   */
  async backupChunk(backup: number, offset: number): Promise<BackupChunkAnswer> {
    const chunk = await this.adminAnswer({ kind: 'backup', backup, offset }, 'backupChunk');
    return { backup: chunk.backup, offset: chunk.offset, total: chunk.total, bytes: chunk.bytes };
  }

  /** Closes the sessions (releasing their holds at once) and the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    const deadlineMs = this.options.clock.nowMs() + Math.min(this.options.requestTimeoutMs, 5_000);
    const sessions = [...this.sessions.values()].filter((session) => !session.isLost);
    this.sessions.clear();
    for (const session of sessions) session.stop();
    for (const session of sessions) {
      const op = { type: 'closeSession', session: session.id } as const;
      await this.command(op, { deadlineMs }).catch(() => undefined);
    }
    this.closed = true;
    const closed = new RaftlockError('CLOSED', 'the client is closed');
    for (const wait of this.waits.values()) wait.reject(closed);
    this.waits.clear();
    for (const stream of [...this.watches]) stream.fail(closed);
    this.channel.close();
  }

  /**
   * Drops the current connection and connects again (to the leader when one is known). Calls in
   * flight are re-sent under their seq, watches resume, waits re-check; sessions are unaffected.
   */
  reconnect(): void {
    this.channel.dropConnection();
  }

  /**
   * Drops the connection without closing sessions, as a crashed process would (tests and chaos
   * drills). The sessions stop keeping alive and expire on the cluster after their TTL.
   */
  abandon(): void {
    this.closed = true;
    const abandoned = new RaftlockError('CLOSED', 'the client was abandoned');
    for (const wait of this.waits.values()) wait.reject(abandoned);
    this.waits.clear();
    for (const session of this.sessions.values()) session.stop();
    this.sessions.clear();
    this.channel.close();
  }

  // ---- internals -----------------------------------------------------------------------------

  /**
   * Sends one command under the next seq of a free lane, and re-sends that same (lane, seq) until
   * a definite answer. Calls that do not wait for each other run concurrently, on separate lanes,
   * and the cluster may apply them in either order; a call made after another's answer is applied
   * after it.
   */
  command(op: Operation, options: CommandOptions = {}): Promise<WireResult> {
    if (this.closed) return Promise.reject(new RaftlockError('CLOSED', 'the client is closed'));
    const { holdCheck, ...callOptions } = options;
    return this.lanes.run((ticket) => {
      // Check, then act: the hold is checked on the clock right before the command goes out.
      if (holdCheck !== undefined) {
        try {
          holdCheck();
        } catch (error: unknown) {
          return Promise.reject(error);
        }
      }
      return this.send(op, callOptions, ticket);
    });
  }

  /** Sends `op` under `ticket`; only ever called inside `lanes.run`, which owns the lane meanwhile. */
  private send(
    op: Operation,
    options: { readonly deadlineMs?: number; readonly signal?: AbortSignal | undefined },
    ticket: LaneTicket,
  ): Promise<WireResult> {
    const command = { type: 'client', clientId: ticket.laneId, seq: ticket.seq, op } as const;
    const call: ClientOp = { kind: 'command', command };
    return this.channel.call(call, { ...this.callOptions(), ...options });
  }

  private callOptions(): { deadlineMs: number } {
    return { deadlineMs: this.options.clock.nowMs() + this.options.requestTimeoutMs };
  }

  /** A linearizable read's raw result (for recipes): the state machine's query answer. */
  channelRead(query: Query): Promise<WireResult> {
    return this.readResult(query);
  }

  private async readResult(query: Query): Promise<WireResult> {
    if (this.closed) throw new RaftlockError('CLOSED', 'the client is closed');
    return this.channel.call({ kind: 'read', query }, this.callOptions());
  }

  /**
   * One admin operation. Not exactly-once like commands: a retry after an unknown outcome may
   * find it done (adding a user twice is refused with INVALID_ARGUMENT).
   */
  private adminResult(action: AdminAction): Promise<WireResult> {
    if (this.closed) return Promise.reject(new RaftlockError('CLOSED', 'the client is closed'));
    return this.channel.call({ kind: 'admin', action }, this.callOptions());
  }

  /** An operator call's OK value, or throws its refusal. */
  private async adminValue(op: ClientOp): Promise<WireValue> {
    if (this.closed) throw new RaftlockError('CLOSED', 'the client is closed');
    return okValue(await this.channel.call(op, this.callOptions()));
  }

  /** An operator call's OK value of the one `kind` it answers with. */
  private async adminAnswer<K extends WireValue['kind']>(op: ClientOp, kind: K): Promise<WireAnswer<K>> {
    if (this.closed) throw new RaftlockError('CLOSED', 'the client is closed');
    return answerOf(await this.channel.call(op, this.callOptions()), kind);
  }

  private async openSession(ttlMs: number): Promise<ClientSession> {
    const clock = this.options.clock;
    const sentAtMs = clock.nowMs();
    const result = await this.command({ type: 'openSession', ttlMs });
    const id = sessionId(answerOf(result, 'session').session);
    const session = new ClientSession(
      id,
      {
        ttlMs,
        keepAliveIntervalMs: Math.min(this.options.keepAliveIntervalMs, Math.max(1, Math.floor(ttlMs / 3))),
        driftMax: this.options.driftMax,
      },
      sentAtMs,
      {
        clock,
        sendKeepAlive: (sid, deadlineMs) => this.sendKeepAlive(sid, deadlineMs),
        onLost: (lost, error) => this.onSessionLost(lost, error),
      },
    );
    if (this.closed) {
      session.stop();
      throw new RaftlockError('CLOSED', 'the client is closed');
    }
    this.sessions.set(ttlMs, session);
    return session;
  }

  private async sendKeepAlive(session: SessionId, deadlineMs: number): Promise<KeepAliveOutcome> {
    try {
      const op = { kind: 'keepAlive', session, clientId: this.clientId } as const;
      const result = await this.channel.call(op, { deadlineMs });
      if (result.code === 'OK') return 'kept';
      return result.code === 'SESSION_EXPIRED' ? 'expired' : 'unknown';
    } catch {
      return 'unknown';
    }
  }

  private onSessionLost(session: ClientSession, error: RaftlockError): void {
    for (const [ttlMs, live] of this.sessions) if (live === session) this.sessions.delete(ttlMs);
    for (const run of [...this.runs.values()]) if (run.session === session) this.endRun(run);
    for (const [token, lock] of this.holds) {
      if (lock.session !== session.id) continue;
      this.holds.delete(token);
      this.holdEnded(token, () => error);
    }
    for (const [key, wait] of this.waits) {
      if (wait.session !== session) continue;
      this.waits.delete(key);
      this.finishWait(wait, error);
    }
    if (!this.closed) {
      // The cluster may not have expired it yet: closing it frees its holds for others sooner.
      // Bounded by the TTL: past it the cluster has expired the session anyway.
      const boundMs = Math.min(this.options.requestTimeoutMs, session.ttlMs);
      const deadlineMs = this.options.clock.nowMs() + boundMs;
      const op = { type: 'closeSession', session: session.id } as const;
      this.command(op, { deadlineMs }).catch(() => undefined);
    }
    for (const listener of this.listeners.sessionLost) listener({ session: session.id, error });
  }

  private onPush(push: PushEvent): void {
    switch (push.kind) {
      case 'granted':
      case 'timeout': {
        const key = waitKey(push.session, push.name);
        const wait = this.waits.get(key);
        // A push about an earlier acquire (replayed by a node catching up) must never complete
        // a newer wait: its token is a grant that has since been released.
        if (wait === undefined || push.clientId !== wait.laneId || push.seq < wait.seqMin) return;
        this.waits.delete(key);
        if (push.kind === 'granted') this.granted(wait, { token: push.token, turns: grantedTurns(push) });
        else this.finishWait(wait, waitTimeout(push.name));
        return;
      }
      case 'sessionExpired':
        for (const session of this.sessions.values()) {
          if (session.id === push.session) session.lose('the cluster reports it expired');
        }
        return;
      case 'revoked':
        return this.revoked(push);
      case 'watchCancelled':
        for (const stream of this.watches) {
          if (stream.watchId !== push.watchId) continue;
          switch (push.code) {
            case 'COMPACTED':
            case 'PERMISSION_DENIED':
              // Definite: resubscribing would be refused the same way.
              stream.fail(new RaftlockError(push.code, push.message));
              break;
            case 'UNAVAILABLE':
              void stream.subscribe();
              break;
            default:
              assertNever(push.code, 'watch cancellation code');
          }
        }
        return;
      case 'event': {
        let claimed = false;
        for (const stream of this.watches) {
          if (stream.watchId !== push.watchId) continue;
          claimed = true;
          stream.deliver(push.watchId, push.event);
        }
        if (!claimed && this.orphanCount < orphanEventsMax) {
          const list = this.orphanEvents.get(push.watchId) ?? [];
          list.push(push.event);
          this.orphanEvents.set(push.watchId, list);
          this.orphanCount++;
        }
        return;
      }
    }
  }

  /**
   * Someone else ended one of this session's holds: its Lock aborts now (NOT_HOLDER naming who
   * and how). A session closed by another client is lost as a whole. A push for a token this
   * client has no Lock for yet is remembered, in case its grant's answer is still on the way.
   */
  private revoked(push: Extract<PushEvent, { kind: 'revoked' }>): void {
    const by = push.by ?? 'another client';
    const error = new RaftlockError('NOT_HOLDER', revokedMessage(push.name, push.token, by, push.reason));
    const lock = this.holds.get(push.token);
    const known = lock !== undefined && lock.name === push.name && lock.session === push.session;
    if (push.reason === 'session-closed') {
      const session = [...this.sessions.values()].find((live) => live.id === push.session);
      if (session !== undefined) return session.lose(`${by} closed it`);
    }
    const run = this.runs.get(push.token);
    if (run !== undefined && run.name === push.name && run.session.id === push.session) {
      // The run is one hold to the cluster: whichever of its callers holds it now loses it.
      run.revokedBy = error;
      this.endRun(run);
      this.holdEnded(push.token, () => error);
      if (run.current !== null) this.revokeHold(run.current, error);
      return;
    }
    if (known) return this.revokeHold(lock, error);
    this.holdEnded(push.token, () => error);
  }

  private revokeHold(lock: Lock, error: RaftlockError): void {
    this.holds.delete(lock.fencingToken);
    this.holdEnded(lock.fencingToken, () => error);
    lock.revoke(error);
  }

  private holdEnded(token: number, why: () => RaftlockError): void {
    if (this.endedTokens.has(token)) return;
    this.endedTokens.set(token, why);
    if (this.endedTokens.size > endedTokensMax) {
      const oldest = this.endedTokens.keys().next();
      if (oldest.done !== true) this.endedTokens.delete(oldest.value);
    }
  }

  /**
   * After a reconnection: pushes sent while this client was away were lost with the connection
   * (a hold released by someone else, a session closed, ended while the node was removed or
   * caught up), so every session with holds asks the cluster (a linearizable read) which it still
   * has; a hold missing from the answer aborts now, a session missing altogether is lost. Only
   * holds that existed before the read was sent are judged: a later grant is not in its answer.
   */
  private async reverifyHolds(): Promise<void> {
    const bySession = new Map<number, Lock[]>();
    for (const lock of this.holds.values()) {
      const list = bySession.get(lock.session);
      if (list === undefined) bySession.set(lock.session, [lock]);
      else list.push(lock);
    }
    for (const [id, locks] of bySession) {
      let result: WireResult;
      try {
        result = await this.readResult({ kind: 'session', session: sessionId(id) });
      } catch {
        return; // Unreachable or closed: the next reconnection asks again; the lease bounds the rest.
      }
      if (result.code !== 'OK' || result.value.kind !== 'sessionInfo') continue;
      const view = result.value.session;
      if (view === null) {
        for (const session of this.sessions.values()) {
          if (session.id === id) session.lose('the cluster no longer has it (found after a reconnection)');
        }
        continue;
      }
      const still = new Set(view.holds);
      for (const lock of locks) {
        if (still.has(lock.name) || this.holds.get(lock.fencingToken) !== lock) continue;
        this.revokeHold(
          lock,
          new RaftlockError(
            'NOT_HOLDER',
            `${lock.name} (token ${lock.fencingToken}) ended while this client was reconnecting`,
          ),
        );
      }
    }
  }

  /**
   * Before a command sent under a hold of this client (a fenced write): the hold must still be
   * guaranteed on the clock (`Lock.check()`), else the command is not sent. A fence naming a token
   * this client does not hold is sent as given: the cluster checks every fence itself.
   */
  checkHold(fence: { readonly lock: string; readonly token: number }): void {
    const lock = this.holds.get(fence.token);
    if (lock !== undefined && lock.name === fence.lock) lock.check();
    const ended = this.endedTokens.get(fence.token);
    if (ended !== undefined) throw ended();
  }

  private granted(wait: PendingWait, grant: Granted): void {
    const before = wait.state;
    // Settled either way: an abandoned wait's promise has no listener left but owns a timer.
    wait.resolve(grant);
    if (before.kind !== 'abandoned') return;
    this.holdLink
      .release(wait.spec.name, wait.session.id, wait.spec.kind)
      .finally(before.done)
      .catch(() => undefined);
  }

  private finishWait(wait: PendingWait, error: RaftlockError): void {
    const before = wait.state;
    wait.reject(error);
    if (before.kind === 'abandoned') before.done();
  }

  private onConnected(welcome: Welcome): void {
    // Watch ids belong to a connection: leftovers of the previous one mean nothing now.
    this.orphanEvents.clear();
    this.orphanCount = 0;
    const info = { nodeId: welcome.nodeId, leader: welcome.leader };
    for (const listener of this.listeners.connected) listener(info);
    for (const stream of this.watches) void stream.subscribe();
    // A grant or timeout pushed while we were away was lost with the old connection: ask again.
    // An acquire not yet answered needs no asking: its re-sent seq brings the outcome.
    for (const wait of [...this.waits.values()]) if (waitsOnCluster(wait.state)) void this.recheck(wait);
    // A new node pushes about a client and session only once it has seen them on this connection:
    // a keepalive tells it, and the holds are re-checked after it (on the same connection, so any
    // ending the answer misses is pushed here).
    for (const session of this.sessions.values()) session.keepAliveNow();
    if (this.holds.size > 0) void this.reverifyHolds();
  }

  /**
   * Asks what became of a queued wait: the same request with `waitMs` 0, so a session that holds or
   * waits gets its grant or its place back, and no new wait is ever started. A wait that settles
   * before the re-check is sent needs none; one that ends without a grant while it is in flight
   * may leave the re-check a grant of its own, which is handed back.
   */
  private async recheck(wait: PendingWait): Promise<void> {
    const key = waitKey(wait.session.id, wait.spec.name);
    let result: WireResult | null;
    try {
      const op = wait.spec.request(wait.session.id, 0, wait.lockDelayMs);
      // On the wait's own lane: the grant is pushed to that lane's id, which the re-check binds to
      // the connection it arrives on (after a reconnection, the new one).
      result = await this.lanes.run(
        async (ticket) => (this.waits.get(key) === wait ? this.send(op, {}, ticket) : null),
        wait.laneId,
      );
    } catch {
      return;
    }
    if (result === null) return;
    const value = result.code === 'OK' ? result.value : null;
    if (this.waits.get(key) !== wait) {
      // A wait that ended with a grant makes this answer that same grant; one that ended without
      // one (TIMEOUT) leaves this grant to nobody.
      if (value?.kind === 'granted' && wait.state.kind !== 'granted') void this.handBack(wait);
      return;
    }
    if (value?.kind === 'queued') return;
    this.waits.delete(key);
    if (value?.kind === 'granted') {
      this.granted(wait, { token: fencingToken(value.token), turns: grantedTurns(value) });
      return;
    }
    if (result.code === 'OK') {
      this.finishWait(wait, malformed('granted or queued', result.value));
      return;
    }
    this.finishWait(wait, result.code === 'BUSY' ? waitTimeout(wait.spec.name) : errorOf(result));
  }

  /**
   * Releases the session's hold on the wait's name, in the name's local turn: never while a caller
   * of this client holds or waits for the name (a later acquire may have been answered with this
   * very grant; it is then released by that caller, and this release finds nothing).
   */
  private async handBack(wait: PendingWait): Promise<void> {
    const turn = await this.names.turn(wait.spec.name);
    try {
      if (!wait.session.isLost && !this.closed) {
        await this.holdLink.release(wait.spec.name, wait.session.id, wait.spec.kind);
      }
    } catch {
      // Unreachable cluster or closed client: the session's end releases the hold.
    } finally {
      turn.end();
    }
  }

  private readonly holdLink: HoldLink = {
    release: async (name, session, kind, token) => {
      if (token !== undefined) this.forgetHold(name, token);
      const type = kind === 'election' ? 'resign' : 'release';
      const result = await this.command({ type, session, name });
      const gone = result.code === 'NOT_HOLDER' || result.code === 'SESSION_EXPIRED';
      if (result.code === 'OK' || gone) return;
      throw errorOf(result);
    },
  };

  /** A hold this client is releasing: no longer tracked, and fenced writes naming it are not sent. */
  private forgetHold(name: string, token: FencingToken): void {
    this.holds.delete(token);
    this.holdEnded(
      token,
      () => new RaftlockError('NOT_HOLDER', `${name} (token ${token}) was released by this client`),
    );
  }

  private readonly watchLink: WatchLink = {
    subscribe: async (prefix, fromIndex) => {
      if (this.closed) throw new RaftlockError('CLOSED', 'the client is closed');
      // For "from now" the answer names the applied index the watch starts after: the index a
      // stream resumes from after a reconnection, with no event skipped.
      const op = { kind: 'watch', prefix, fromIndex } as const;
      const watching = answerOf(await this.channel.call(op, this.callOptions()), 'watching');
      return { watchId: watching.watchId, index: watching.fromIndex > 0 ? watching.fromIndex : null };
    },
    unsubscribe: (watchId) => {
      if (this.closed) return;
      this.channel.call({ kind: 'unwatch', watchId }, this.callOptions()).catch(() => undefined);
    },
    claim: (watchId) => {
      const events = this.orphanEvents.get(watchId) ?? [];
      this.orphanEvents.delete(watchId);
      this.orphanCount -= events.length;
      return events;
    },
    ended: (stream) => {
      this.watches.delete(stream);
    },
  };
}

/** Bound on events held for watch ids nobody has claimed yet. */
const orphanEventsMax = 10_000;

/** Bound on the tokens of ended holds remembered (see `endedTokens`). */
const endedTokensMax = 1024;

function revokedMessage(name: string, token: number, by: string, reason: RevokeReason): string {
  switch (reason) {
    case 'released':
      return `${by} released ${name} (token ${token})`;
    case 'session-closed':
      return `${by} closed the session holding ${name} (token ${token})`;
    case 'snapshot-restore':
      return `${name} (token ${token}) ended while the connected node caught up from a snapshot`;
  }
}

function waitTimeout(name: string): RaftlockError {
  return new RaftlockError('TIMEOUT', `no grant of ${name} within the wait`);
}

function waitKey(session: number, name: string): string {
  return `${session}\u0000${name}`;
}

function mutexSpec(name: string): HoldSpec {
  return {
    name,
    kind: 'mutex',
    request: (session, waitMs, lockDelayMs) => ({
      type: 'acquire',
      session,
      name,
      waitMs,
      lockDelayMs,
    }),
  };
}

/** Connects to a cluster and opens the client's session; rejects with UNAVAILABLE if it cannot. */
export async function connect(options: ConnectOptions): Promise<RaftlockClient> {
  const client = new RaftlockClient(options);
  try {
    await client.session();
  } catch (error: unknown) {
    client.abandon();
    throw error;
  }
  return client;
}

export type { WatchEvent };
