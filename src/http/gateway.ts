/**
 * What the HTTP layer needs from a node: the node's own request path (validation, authorization,
 * forwarding to the leader, exactly-once, pushes and watches), its authentication, and a few
 * listings. The HTTP layer (src/http) depends on this interface only; NodeServer implements it
 * (src/server/node-gateway.ts), so the routes are tested against a real node.
 */
import type { NodeId } from '../raft/types.js';
import type { CertIdentity } from '../security/identity.js';
import type { TlsMaterial } from '../security/tls-material.js';
import type { LockMachineConfig } from '../statemachine/config.js';
import type { SessionId } from '../statemachine/ids.js';
import type { LockDetail, SessionDetail, WaitGraph } from '../statemachine/listings.js';
import type { ClientOp, PushEvent, WireResult } from '../protocol/client-protocol.js';
import type { Logger } from '../util/logger.js';
import type { NodeMetrics } from '../metrics/node-metrics.js';

/** Who an HTTP request says it is. */
export interface HttpClaim {
  /** `address:port` of the caller. */
  readonly remote: string;
  /** The identity of the client certificate the TLS server verified; null without one. */
  readonly certificate: CertIdentity | null;
  /** The token of an `Authorization: Bearer` header; null without one. */
  readonly bearer: string | null;
}

/** A refusal to authenticate; `retryAfterMs` is set when the login back-off refused it. */
export interface AuthRefusal {
  readonly ok: false;
  readonly message: string;
  readonly retryAfterMs: number | null;
}

export type Identified = { readonly ok: true; readonly principal: string | null } | AuthRefusal;

export type LoggedIn =
  { readonly ok: true; readonly principal: string; readonly token: string; readonly expiresInMs: number } | AuthRefusal;

/** A refusal of the node's request path (anything but OK). */
export type Refusal = Exclude<WireResult, { readonly code: 'OK' }>;

/** A listing, or why not (PERMISSION_DENIED, UNAVAILABLE, ...). */
export type Listing<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly refusal: Refusal };

/** What the node itself tells `/v1/events` beside the watch events. */
export type NodeEvent =
  | { readonly kind: 'sessionExpired'; readonly session: SessionId; readonly index: number }
  | { readonly kind: 'leaderChanged'; readonly leader: NodeId | null; readonly term: number };

/** A running watch: its answer (`watching` with the index it starts after, or a refusal) and how to end it. */
export interface GatewayWatch {
  readonly result: WireResult;
  stop(): void;
}

export interface NodeGateway {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  /** The node's TLS material (HTTPS with it); null: an insecure node, plain HTTP, no principals. */
  readonly tls: TlsMaterial | null;
  readonly machine: LockMachineConfig;
  readonly log: Logger;
  /** The node's metrics, health and readiness (src/metrics), for `/metrics`, `/healthz`, `/readyz`. */
  readonly metrics: NodeMetrics;
  /** Who the request acts as (null on an insecure node), or why not; refusals are logged by the node. */
  identify(claim: HttpClaim): Promise<Identified>;
  /** A password login: the node's scrypt check and login back-off; answered with a node-local token. */
  login(user: string, password: string, remote: string): Promise<LoggedIn>;
  /** Runs one op as `principal` exactly as a client-port request would, forwarding to the leader. */
  request(principal: string | null, op: ClientOp, remote: string): Promise<WireResult>;
  /**
   * Pushes addressed to `clientId` (grants, timeouts) and about `session` (expiry, revocations) that
   * `principal` may hear, until the returned function is called. Subscribe before sending the
   * request whose outcome is awaited: a push may arrive before the request's own answer.
   */
  subscribe(
    principal: string | null,
    to: { readonly clientId: string; readonly session: SessionId },
    onPush: (push: PushEvent) => void,
  ): () => void;
  /** A watch as on the client port: events (and `watchCancelled`) pushed until `stop()`. */
  watch(
    principal: string | null,
    prefix: string,
    fromIndex: number,
    remote: string,
    onPush: (push: PushEvent) => void,
  ): Promise<GatewayWatch>;
  /** Session expiries `principal` may see and leader changes, as they happen, until the returned function is called. */
  events(principal: string | null, onEvent: (event: NodeEvent) => void): () => void;
  /** Linearizable listings, authorized with the edge rules of the `locks` read (read on the prefix). */
  locks(
    principal: string | null,
    prefix: string,
    limit: number,
    remote: string,
  ): Promise<Listing<readonly LockDetail[]>>;
  /** The sessions `principal` may use (its own; every one for an admin). */
  sessions(
    principal: string | null,
    after: number,
    limit: number,
    remote: string,
  ): Promise<Listing<readonly SessionDetail[]>>;
  /** The wait-for graph over the locks `principal` may read (read or lock on the name). */
  waitGraph(principal: string | null, prefix: string, remote: string): Promise<Listing<WaitGraph>>;
  /** Where a member serves HTTP, when known (cluster.yml `http`). */
  httpAddress(node: NodeId): string | null;
  /** The leader this node knows, if any. */
  readonly leader: NodeId | null;
}
