/**
 * The node's side of the HTTP API (src/http/gateway.ts): every HTTP request runs through the node's
 * own request routine on a virtual channel (virtual-channel.ts), so validation, authorization,
 * forwarding to the leader, NOT_LEADER/UNAVAILABLE handling, exactly-once, pushes and watches are
 * the client port's. Authentication is the client port's too (ClientAuth: certificates, tokens,
 * password logins and their back-off). Listings the client protocol has no query for (every
 * session, the wait-for graph, locks with hold times) are made linearizable with a read
 * through the same path and authorized with the edge rules (edge-access.ts).
 */
import { performance } from 'node:perf_hooks';
import { opLabel } from '../metrics/client-metrics.js';
import type { NodeMetrics } from '../metrics/node-metrics.js';
import type { NodeId } from '../raft/types.js';
import type { TlsMaterial } from '../security/tls-material.js';
import { isAdmin, mayActOnSession, userExists } from '../statemachine/authorize.js';
import type { LockMachineConfig } from '../statemachine/config.js';
import type { SessionId } from '../statemachine/ids.js';
import { listLockDetails, listSessions, waitGraph } from '../statemachine/listings.js';
import type { Notification } from '../statemachine/results.js';
import type { LockState } from '../statemachine/state.js';
import type { ClientOp, PushEvent, WireResult } from '../protocol/client-protocol.js';
import { invalidArgument, unavailable, validateOp } from '../protocol/client-protocol.js';
import type {
  GatewayWatch,
  HttpClaim,
  Identified,
  Listing,
  LoggedIn,
  NodeEvent,
  NodeGateway,
} from '../http/gateway.js';
import type { ClientAuth } from './client-auth.js';
import { readDenial, watchDenial } from '../node/edge-access.js';
import { cancelRefusedWatches } from './watch-revocation.js';
import type { Logger } from '../util/logger.js';
import { principalOf } from './login.js';
import type { RequestChannel } from '../node/request-channel.js';
import { VirtualChannel } from './virtual-channel.js';

/** What the gateway needs of its node (NodeServer builds it from its internals). */
export interface GatewayHost {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  readonly machine: LockMachineConfig;
  readonly tls: TlsMaterial | null;
  readonly log: Logger;
  readonly metrics: NodeMetrics;
  readonly auth: ClientAuth;
  /** How long the node lets a request wait for a leader or a forwarded answer. */
  readonly requestTimeoutMs: number;
  state(): LockState;
  leader(): NodeId | null;
  httpAddress(node: NodeId): string | null;
  /** The node's request routine, as for a client-port request (NodeServer.request). */
  request(channel: RequestChannel, id: number, op: ClientOp): void;
  bindClient(channel: RequestChannel, clientId: string): void;
  bindSession(channel: RequestChannel, session: number): void;
  /** The channel is done: it leaves the push routes. */
  forget(channel: RequestChannel): void;
  watchesChanged(channel: RequestChannel): void;
}

/** A request whose answer never came (the node stopped meanwhile, ...) gets UNAVAILABLE this much after the node's own timeout. */
const answerGraceMs = 5000;

/** `host` of `host:port` or `[v6]:port`: the login back-off's key. */
export function sourceOf(remote: string): string {
  const bracketed = /^\[([^\]]*)\]:\d+$/.exec(remote);
  if (bracketed !== null) return bracketed[1] ?? remote;
  const colon = remote.lastIndexOf(':');
  return colon < 0 ? remote : remote.slice(0, colon);
}

interface EventListener {
  readonly principal: string | null;
  readonly onEvent: (event: NodeEvent) => void;
}

export class ServerGateway implements NodeGateway {
  private readonly watchChannels = new Set<VirtualChannel>();
  private readonly listeners = new Set<EventListener>();

  constructor(private readonly host: GatewayHost) {}

  get nodeId(): NodeId {
    return this.host.nodeId;
  }

  get clusterId(): string {
    return this.host.clusterId;
  }

  get tls(): TlsMaterial | null {
    return this.host.tls;
  }

  get machine(): LockMachineConfig {
    return this.host.machine;
  }

  get log(): Logger {
    return this.host.log;
  }

  get metrics(): NodeMetrics {
    return this.host.metrics;
  }

  get leader(): NodeId | null {
    return this.host.leader();
  }

  httpAddress(node: NodeId): string | null {
    return this.host.httpAddress(node);
  }

  async identify(claim: HttpClaim): Promise<Identified> {
    const outcome = await this.host.auth.authenticate({
      remote: claim.remote,
      source: sourceOf(claim.remote),
      certificate: claim.certificate,
      auth: claim.bearer === null ? undefined : { token: claim.bearer },
    });
    if (!outcome.ok) return { ok: false, message: outcome.reason, retryAfterMs: outcome.retryAfterMs ?? null };
    return { ok: true, principal: principalOf(outcome.identity) };
  }

  async login(user: string, password: string, remote: string): Promise<LoggedIn> {
    const outcome = await this.host.auth.authenticate({
      remote,
      source: sourceOf(remote),
      certificate: null,
      auth: { user, password },
    });
    if (!outcome.ok) return { ok: false, message: outcome.reason, retryAfterMs: outcome.retryAfterMs ?? null };
    const principal = principalOf(outcome.identity);
    if (outcome.token === undefined || principal === null) {
      return { ok: false, message: 'the login gave no token', retryAfterMs: null };
    }
    return { ok: true, principal, token: outcome.token, expiresInMs: this.host.auth.tokenTtlMs };
  }

  /** Counted in the node's client metrics as a client-port request is (op and result code). */
  async request(principal: string | null, op: ClientOp, remote: string): Promise<WireResult> {
    const started = performance.now();
    const result = await this.run(principal, op, remote);
    this.host.metrics.clients.requestAnswered(opLabel(op), result.code, (performance.now() - started) / 1000);
    return result;
  }

  private async run(principal: string | null, op: ClientOp, remote: string): Promise<WireResult> {
    // The same check as a client-port frame: what the HTTP layer built is not trusted either.
    const checked = validateOp(op, this.host.machine);
    if (!checked.ok) return invalidArgument(checked.error);
    const channel = new VirtualChannel(remote, principal);
    const answer = channel.expect(1);
    const timer = setTimeout(() => {
      channel.close(unavailable('no answer in time; retry (with the same Idempotency-Key for a write)'));
    }, this.host.requestTimeoutMs + answerGraceMs);
    this.host.request(channel, 1, checked.value);
    const result = await answer;
    clearTimeout(timer);
    channel.close(result);
    this.host.forget(channel);
    return result;
  }

  subscribe(
    principal: string | null,
    to: { readonly clientId: string; readonly session: SessionId },
    onPush: (push: PushEvent) => void,
  ): () => void {
    const channel = new VirtualChannel('subscription', principal, onPush, 0);
    this.host.bindClient(channel, to.clientId);
    this.host.bindSession(channel, to.session);
    return () => {
      channel.close(unavailable('unsubscribed'));
      this.host.forget(channel);
    };
  }

  async watch(
    principal: string | null,
    prefix: string,
    fromIndex: number,
    remote: string,
    onPush: (push: PushEvent) => void,
  ): Promise<GatewayWatch> {
    const op: ClientOp = { kind: 'watch', prefix, fromIndex };
    const checked = validateOp(op, this.host.machine);
    if (!checked.ok) return { result: invalidArgument(checked.error), stop: () => undefined };
    const channel = new VirtualChannel(remote, principal, onPush, 1);
    const answer = channel.expect(1);
    this.watchChannels.add(channel);
    const stop = (): void => {
      if (!this.watchChannels.delete(channel)) return;
      channel.close(unavailable('the watch ended'));
      this.host.forget(channel);
    };
    this.host.request(channel, 1, checked.value);
    const result = await answer;
    if (result.code !== 'OK') stop();
    return { result, stop };
  }

  events(principal: string | null, onEvent: (event: NodeEvent) => void): () => void {
    const listener = { principal, onEvent };
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  locks(principal: string | null, prefix: string, limit: number, remote: string): ReturnType<NodeGateway['locks']> {
    return this.listing(
      remote,
      (state) => readDenial(state, principal, { kind: 'locks', prefix, limit }),
      (state) => listLockDetails(state, prefix, limit, () => true),
    );
  }

  sessions(
    principal: string | null,
    after: number,
    limit: number,
    remote: string,
  ): ReturnType<NodeGateway['sessions']> {
    return this.listing(
      remote,
      () => null,
      (state) => listSessions(state, after, limit, (owner) => mayActOnSession(state.auth, principal, owner)),
    );
  }

  waitGraph(principal: string | null, prefix: string, remote: string): ReturnType<NodeGateway['waitGraph']> {
    return this.listing(
      remote,
      () => null,
      (state) =>
        waitGraph(
          state,
          (name) => name.startsWith(prefix) && readDenial(state, principal, { kind: 'observe', name }) === null,
        ),
    );
  }

  // ---- from the node -----------------------------------------------------------------------

  /** Notifications of applied entries (NodeServer.onOutput): session expiries for `/v1/events`. */
  notified(notifications: readonly Notification[], applied: number): void {
    if (this.listeners.size === 0) return;
    const state = this.host.state();
    for (const n of notifications) {
      if (n.kind !== 'sessionExpired') continue;
      // The session is gone, and with it its owner: only those who may see every session hear it.
      for (const listener of this.listeners) {
        if (isAdmin(state.auth, listener.principal))
          listener.onEvent({ kind: 'sessionExpired', session: n.session, index: applied });
      }
    }
  }

  leaderChanged(leader: NodeId | null, term: number): void {
    for (const listener of this.listeners) listener.onEvent({ kind: 'leaderChanged', leader, term });
  }

  /**
   * The applied users or roles changed (NodeServer.onOutput): as on the client port, a watch whose
   * user is gone or lost the watch right on its prefix is cancelled (`watchCancelled`).
   */
  authChanged(): void {
    const state = this.host.state();
    for (const channel of [...this.watchChannels]) {
      const principal = channel.principal;
      if (principal === null) continue;
      const denied = userExists(state.auth, principal) ? null : `user ${principal} no longer exists`;
      const refusal = (prefix: string): string | null => denied ?? watchDenial(state, principal, prefix);
      if (cancelRefusedWatches(channel, principal, refusal, this.host.log)) this.host.watchesChanged(channel);
    }
  }

  /** The node is stopping: every watch ends (its stream closes). */
  close(): void {
    for (const channel of [...this.watchChannels]) {
      for (const watchId of channel.watches.keys()) {
        channel.push({ kind: 'watchCancelled', watchId, code: 'UNAVAILABLE', message: 'the node is shutting down' });
      }
    }
    this.listeners.clear();
  }

  // ---- listings ----------------------------------------------------------------------------

  /**
   * A linearizable listing: an unrestricted read through the request path is the barrier (ReadIndex
   * on this node, after which the applied state holds every write acknowledged before the request),
   * then the principal is authorized against that state and the listing built from it.
   */
  private async listing<T>(
    remote: string,
    denial: (state: LockState) => string | null,
    build: (state: LockState) => T,
  ): Promise<Listing<T>> {
    const barrier = await this.run(null, { kind: 'read', query: { kind: 'get', key: '' } }, remote);
    if (barrier.code !== 'OK') return { ok: false, refusal: barrier };
    const state = this.host.state();
    const denied = denial(state);
    if (denied !== null) return { ok: false, refusal: { code: 'PERMISSION_DENIED', message: denied } };
    return { ok: true, value: build(state) };
  }
}
