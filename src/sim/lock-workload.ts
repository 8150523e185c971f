import type { CoreReply } from '../node/server-core.js';
import type { Operation } from '../statemachine/commands.js';
import type { SessionId } from '../statemachine/ids.js';
import type { Notification } from '../statemachine/results.js';
import type { ClientCommand, Query, WireResult } from '../protocol/client-protocol.js';
import type { Rng } from '../util/rng.js';
import type { LockSafetyChecker } from './checkers/lock-safety.js';

/** What a simulated lock client asks a node (the non-I/O part of the client protocol). */
export type LockRequestOp =
  | { readonly kind: 'command'; readonly command: ClientCommand }
  | { readonly kind: 'keepAlive'; readonly session: SessionId }
  | { readonly kind: 'read'; readonly query: Query };

export interface LockRequest {
  readonly requestId: string;
  readonly node: string;
  readonly op: LockRequestOp;
}

export interface LockWorkloadOptions {
  readonly clients: number;
  readonly ttlMs: number;
  /** The clock-rate bound clients assume: they trust a session for ttlMs × (1 − 2 × driftMax). */
  readonly driftMax: number;
  /** Mean think time between a client's commands. */
  readonly meanGapMs: number;
}

export const defaultLockWorkload: LockWorkloadOptions = { clients: 6, ttlMs: 1_500, driftMax: 0.05, meanGapMs: 40 };

export interface LockWorkloadStats {
  commands: number;
  retries: number;
  keepalives: number;
  grants: number;
  staleTokens: number;
  sessionsLost: number;
}

type HeldKind = 'mutex' | 'semaphore' | 'read' | 'write';

interface Pending {
  readonly command: ClientCommand;
  readonly firstSentMs: number;
  requestId: string | null;
  node: string | null;
  retryAtMs: number;
}

interface Client {
  readonly id: string;
  seq: number;
  session: SessionId | null;
  /** When this client stops trusting its session: last acknowledged keepalive's send + margin. */
  safeUntilMs: number;
  keepaliveDueMs: number;
  keepalive: { readonly requestId: string; readonly sentMs: number } | null;
  silentUntilMs: number;
  pending: Pending | null;
  waiting: { readonly name: string; readonly kind: HeldKind; readonly seq: number; readonly giveUpMs: number } | null;
  /**
   * What it holds: the token it acts under now, and the first and last tokens of its grant (a
   * mutex handed over in a run of turns reserves several; the client plays its callers in turn).
   */
  readonly held: Map<
    string,
    { readonly kind: HeldKind; readonly token: number; readonly first: number; readonly last: number }
  >;
  readonly versions: Map<string, number>;
  /** Tokens of locks held in sessions it gave up: a resumed process may still write with them. */
  oldTokens: { readonly name: string; readonly token: number }[];
  home: string | null;
  nextMs: number;
}

const mutexes = ['m0', 'm1', 'm2'];
const semaphore = 's0';
const rwlock = 'r0';
const keys = ['k0', 'k1', 'k2'];

/**
 * Simulated lock clients. Each opens a session, keeps it alive (and sometimes goes silent past
 * its TTL, as a paused process would), acquires and releases mutexes (sometimes waiting in the
 * queue), a semaphore and an rwlock, does CAS puts and fenced puts with the tokens it holds, and
 * after an unknown outcome retries with the same (clientId, seq) at another node. Every answer
 * goes through the lock checker (exactly once, acknowledged grants, held beliefs).
 */
export class LockWorkload {
  private readonly clients: Client[];
  private counter = 0;
  private leaderHint: string | null = null;
  private readonly open = new Map<
    string,
    { readonly client: Client; readonly kind: 'command' | 'keepAlive' | 'read'; readonly node: string }
  >();
  readonly stats: LockWorkloadStats = {
    commands: 0,
    retries: 0,
    keepalives: 0,
    grants: 0,
    staleTokens: 0,
    sessionsLost: 0,
  };
  /** Highest log index of an acknowledged grant (every live node must reach it when settling). */
  acknowledgedIndexMax = 0;

  constructor(
    private readonly rng: Rng,
    private readonly nodes: readonly string[],
    private readonly checker: LockSafetyChecker,
    private readonly options: LockWorkloadOptions = defaultLockWorkload,
  ) {
    this.clients = Array.from({ length: options.clients }, (_, i) => ({
      id: `client${i + 1}`,
      seq: 0,
      session: null,
      safeUntilMs: 0,
      keepaliveDueMs: 0,
      keepalive: null,
      silentUntilMs: 0,
      pending: null,
      waiting: null,
      held: new Map(),
      versions: new Map(),
      oldTokens: [],
      home: null,
      nextMs: this.gap(),
    }));
  }

  get nextAtMs(): number {
    let t = Number.POSITIVE_INFINITY;
    for (const c of this.clients) t = Math.min(t, c.nextMs);
    return t;
  }

  get openCount(): number {
    return this.open.size;
  }

  /** The requests due at `nowMs`, at most one per client. */
  due(nowMs: number): LockRequest[] {
    const out: LockRequest[] = [];
    for (const c of this.clients) {
      if (c.nextMs > nowMs) continue;
      const r = this.step(c, nowMs);
      if (r !== null) out.push(r);
    }
    return out;
  }

  private step(c: Client, nowMs: number): LockRequest | null {
    c.nextMs = nowMs + this.gap();
    if (c.session !== null && nowMs >= c.safeUntilMs) this.loseSession(c);
    if (c.session !== null && c.keepalive === null && nowMs >= c.keepaliveDueMs && nowMs >= c.silentUntilMs) {
      c.keepaliveDueMs = nowMs + Math.floor(this.options.ttlMs / 5);
      c.nextMs = Math.min(c.nextMs, c.keepaliveDueMs);
      this.stats.keepalives += 1;
      const r = this.send(c, { kind: 'keepAlive', session: c.session }, 'keepAlive');
      c.keepalive = { requestId: r.requestId, sentMs: nowMs };
      return r;
    }
    // Wake for the next keepalive, but never at this same instant (time must pass).
    if (c.session !== null) c.nextMs = Math.min(c.nextMs, Math.max(c.keepaliveDueMs, c.silentUntilMs, nowMs + 1));
    const p = c.pending;
    if (p !== null) {
      if (p.requestId !== null || nowMs < p.retryAtMs) return null;
      // An outcome we never learned: the same (clientId, seq) again, so it takes effect once.
      if (nowMs - p.firstSentMs > this.options.ttlMs / 2) {
        c.pending = null;
        this.loseSession(c);
        return null;
      }
      this.stats.retries += 1;
      return this.sendPending(c, p, nowMs);
    }
    if (c.waiting !== null) {
      if (nowMs >= c.waiting.giveUpMs) this.loseSession(c);
      return null;
    }
    const op = this.pickOperation(c, nowMs);
    if (op === null) return null;
    if (op.kind === 'read') return this.send(c, op, 'read');
    c.seq += 1;
    this.stats.commands += 1;
    const pending: Pending = {
      command: { type: 'client', clientId: c.id, seq: c.seq, op: op.op },
      firstSentMs: nowMs,
      requestId: null,
      node: null,
      retryAtMs: 0,
    };
    c.pending = pending;
    return this.sendPending(c, pending, nowMs);
  }

  private pickOperation(
    c: Client,
    nowMs: number,
  ): { readonly kind: 'op'; readonly op: Operation } | { readonly kind: 'read'; readonly query: Query } | null {
    const session = c.session;
    if (session === null) return { kind: 'op', op: { type: 'openSession', ttlMs: this.options.ttlMs } };
    if (this.rng.chance(1, 60)) {
      // A paused process: no keepalives for longer than the TTL. It stops trusting its locks
      // by the safety margin; the cluster expires the session and grants them to others.
      c.silentUntilMs = nowMs + this.rng.int(this.options.ttlMs, 2 * this.options.ttlMs);
      return null;
    }
    const held = [...c.held.entries()];
    const roll = this.rng.int(0, 99);
    const runs = held.filter(([, h]) => h.token < h.last);
    if (runs.length > 0 && roll < 10) {
      // The next caller of a run takes its turn: no command; the caller before it may still
      // write with its token later, as a stale holder would.
      const [name, h] = this.rng.pick(runs);
      c.oldTokens.push({ name, token: h.token });
      c.oldTokens = c.oldTokens.slice(-3);
      c.held.set(name, { ...h, token: h.token + 1 });
      if (nowMs < c.safeUntilMs) this.checker.believe(c.id, name, h.token + 1, true, nowMs, c.safeUntilMs);
      return null;
    }
    const mutexesHeld = held.filter(([, h]) => h.kind === 'mutex');
    if (mutexesHeld.length > 0 && roll >= 95) {
      // A client handing a mutex from one of its callers to the next, perhaps as a run of turns.
      const [name] = this.rng.pick(mutexesHeld);
      this.endBelief(c, name);
      const waitMs = this.rng.int(50, this.options.ttlMs);
      c.waiting = { name, kind: 'mutex', seq: c.seq + 1, giveUpMs: nowMs + waitMs + 2 * this.options.ttlMs };
      return { kind: 'op', op: { type: 'handoff', session, name, waitMs, lockDelayMs: 0, turns: this.rng.int(1, 4) } };
    }
    if (held.length > 0 && roll < 30) {
      const [name] = this.rng.pick(held);
      this.endBelief(c, name);
      return { kind: 'op', op: { type: 'release', session, name } };
    }
    const old = c.oldTokens.shift();
    if (old !== undefined && roll < 40) {
      // The paused-holder hazard: a write with the token of a lock it no longer holds.
      const value = new Uint8Array([0xff]);
      return {
        kind: 'op',
        op: {
          type: 'put',
          session,
          key: `f/${old.name}`,
          value,
          ifVersion: null,
          ephemeral: false,
          fence: { lock: old.name, token: old.token },
        },
      };
    }
    const fenced = held.filter(([, h]) => h.kind === 'mutex' || h.kind === 'write');
    if (fenced.length > 0 && roll < 50) {
      const [name, h] = this.rng.pick(fenced);
      const value = new Uint8Array([c.seq & 0xff]);
      return {
        kind: 'op',
        op: {
          type: 'put',
          session,
          key: `f/${name}`,
          value,
          ifVersion: null,
          ephemeral: false,
          fence: { lock: name, token: h.token },
        },
      };
    }
    if (roll < 65) {
      const key = this.rng.pick(keys);
      const ifVersion = this.rng.chance(1, 4) ? null : (c.versions.get(key) ?? 0);
      return {
        kind: 'op',
        op: {
          type: 'put',
          session,
          key,
          value: new Uint8Array([roll]),
          ifVersion,
          ephemeral: this.rng.chance(1, 5),
          fence: null,
        },
      };
    }
    if (roll < 72) {
      const query: Query = this.rng.chance(1, 2)
        ? { kind: 'get', key: this.rng.pick(keys) }
        : { kind: 'checkFence', lock: this.rng.pick(mutexes), token: this.rng.int(1, 50) };
      return { kind: 'read', query };
    }
    const waitMs = this.rng.chance(1, 2) ? 0 : this.rng.int(50, this.options.ttlMs);
    const kind = this.rng.pick<HeldKind>(['mutex', 'mutex', 'semaphore', 'read', 'write']);
    const name = kind === 'mutex' ? this.rng.pick(mutexes) : kind === 'semaphore' ? semaphore : rwlock;
    if (c.held.has(name)) return null;
    if (waitMs > 0) c.waiting = { name, kind, seq: c.seq + 1, giveUpMs: nowMs + waitMs + 2 * this.options.ttlMs };
    switch (kind) {
      case 'mutex':
        return { kind: 'op', op: { type: 'acquire', session, name, waitMs, lockDelayMs: 0 } };
      case 'semaphore':
        return { kind: 'op', op: { type: 'acquireSemaphore', session, name, permits: 2, waitMs, lockDelayMs: 0 } };
      case 'read':
      case 'write':
        return { kind: 'op', op: { type: 'acquireRw', session, name, mode: kind, waitMs, lockDelayMs: 0 } };
    }
  }

  private sendPending(c: Client, p: Pending, nowMs: number): LockRequest {
    const r = this.send(c, { kind: 'command', command: p.command }, 'command');
    p.requestId = r.requestId;
    p.node = r.node;
    p.retryAtMs = nowMs;
    return r;
  }

  private send(c: Client, op: LockRequestOp, kind: 'command' | 'keepAlive' | 'read'): LockRequest {
    const node = this.leaderHint !== null && this.rng.chance(3, 4) ? this.leaderHint : this.rng.pick(this.nodes);
    this.counter += 1;
    const requestId = `L${this.counter}`;
    this.open.set(requestId, { client: c, kind, node });
    c.home = node;
    return { requestId, node, op };
  }

  /** A node answered a request. */
  complete(nowMs: number, reply: CoreReply): void {
    const o = this.open.get(reply.requestId);
    if (o === undefined) return;
    this.open.delete(reply.requestId);
    const c = o.client;
    const result = reply.result;
    if (result.code === 'NOT_LEADER') this.leaderHint = result.leader === null ? null : String(result.leader);
    else if (result.code === 'OK') this.leaderHint = o.node;
    if (o.kind === 'keepAlive') return this.onKeepalive(c, reply.requestId, result, nowMs);
    if (o.kind === 'read') return;
    const p = c.pending;
    if (p === null || p.requestId !== reply.requestId) return;
    if (result.code === 'NOT_LEADER' || result.code === 'UNAVAILABLE') {
      p.requestId = null;
      p.retryAtMs = nowMs + this.rng.int(5, 50);
      return;
    }
    c.pending = null;
    this.checker.onAnswer(c.id, p.command.seq, result);
    this.onResult(c, p, result, nowMs);
  }

  private onKeepalive(c: Client, requestId: string, result: WireResult, nowMs: number): void {
    if (c.keepalive?.requestId !== requestId) return;
    const sentMs = c.keepalive.sentMs;
    c.keepalive = null;
    if (result.code === 'OK' && result.value.kind === 'kept' && c.session === result.value.session) {
      c.safeUntilMs = Math.max(c.safeUntilMs, sentMs + this.margin());
    } else if (result.code === 'SESSION_EXPIRED') {
      this.loseSession(c);
    } else {
      c.keepaliveDueMs = nowMs;
    }
  }

  private onResult(c: Client, p: Pending, result: WireResult, nowMs: number): void {
    const op = p.command.op;
    if (result.code === 'SESSION_EXPIRED') return this.loseSession(c);
    if (result.code === 'STALE_TOKEN') {
      this.stats.staleTokens += 1;
      if (op.type === 'put' && op.fence !== null) this.endBelief(c, op.fence.lock);
      return;
    }
    if (result.code === 'VERSION_MISMATCH' && op.type === 'put') {
      c.versions.set(op.key, result.version);
      return;
    }
    if (result.code !== 'OK') {
      if (c.waiting?.seq === p.command.seq) c.waiting = null;
      return;
    }
    const value = result.value;
    switch (value.kind) {
      case 'session':
        // The session may have been opened by an earlier attempt: trust it from the first send.
        c.session = value.session;
        c.safeUntilMs = p.firstSentMs + this.margin();
        c.keepaliveDueMs = nowMs;
        return;
      case 'granted':
        if (c.waiting?.seq === p.command.seq) c.waiting = null;
        return this.granted(c, value.name, value.token, value.turns ?? 1, nowMs, heldKind(op));
      case 'queued':
        return;
      case 'put':
        c.versions.set(value.key, value.version);
        return;
      default:
        if (c.waiting?.seq === p.command.seq) c.waiting = null;
        return;
    }
  }

  private granted(c: Client, name: string, token: number, turns: number, nowMs: number, kind: HeldKind): void {
    if (c.session === null) return;
    this.stats.grants += 1;
    this.acknowledgedIndexMax = Math.max(this.acknowledgedIndexMax, this.checker.acknowledgedGrant(name, token));
    c.held.set(name, { kind, token, first: token, last: token + turns - 1 });
    if (nowMs < c.safeUntilMs)
      this.checker.believe(c.id, name, token, kind === 'mutex' || kind === 'write', nowMs, c.safeUntilMs);
  }

  /** Notifications from the node a client is connected to. */
  notify(nowMs: number, node: string, notifications: readonly Notification[]): void {
    for (const n of notifications) {
      if (n.kind === 'event') continue;
      for (const c of this.clients) {
        if (c.home !== node || c.id !== n.clientId || c.session !== n.session) continue;
        if (n.kind === 'sessionExpired') {
          this.loseSession(c);
          continue;
        }
        if (n.kind === 'revoked') {
          // Only a node that caught up from a snapshot says so here (every client releases its
          // own holds): the hold with that very token is no longer this client's.
          // A run is one hold to the cluster: its revocation names the run's first token.
          if (c.held.get(n.name)?.first === n.token) this.endBelief(c, n.name);
          continue;
        }
        if (c.waiting === null || c.waiting.seq !== n.seq || c.waiting.name !== n.name) continue;
        const kind = c.waiting.kind;
        c.waiting = null;
        if (n.kind === 'granted') this.granted(c, n.name, n.token, n.turns ?? 1, nowMs, kind);
      }
    }
  }

  /** The node went away: its connections' requests have unknown outcomes. */
  nodeLost(nowMs: number, node: string): void {
    for (const [id, o] of this.open) {
      if (o.node !== node) continue;
      this.open.delete(id);
      const c = o.client;
      if (c.keepalive?.requestId === id) c.keepalive = null;
      if (c.pending?.requestId === id) {
        c.pending.requestId = null;
        c.pending.retryAtMs = nowMs + this.rng.int(5, 50);
      }
    }
    if (this.leaderHint === node) this.leaderHint = null;
  }

  private loseSession(c: Client): void {
    if (c.session === null) return;
    this.stats.sessionsLost += 1;
    for (const [name, h] of c.held)
      if (h.kind === 'mutex' || h.kind === 'write') c.oldTokens.push({ name, token: h.token });
    c.oldTokens = c.oldTokens.slice(-3);
    for (const name of [...c.held.keys()]) this.endBelief(c, name);
    c.session = null;
    c.waiting = null;
    c.keepalive = null;
    c.pending = null;
    c.silentUntilMs = 0;
  }

  private endBelief(c: Client, name: string): void {
    c.held.delete(name);
    this.checker.beliefEnded(c.id, name);
  }

  private margin(): number {
    return Math.floor(this.options.ttlMs * (1 - 2 * this.options.driftMax));
  }

  private gap(): number {
    return Math.max(1, Math.ceil(this.rng.exponential(this.options.meanGapMs)));
  }
}

function heldKind(op: Operation): HeldKind {
  if (op.type === 'acquireSemaphore') return 'semaphore';
  if (op.type === 'acquireRw') return op.mode;
  return 'mutex';
}
