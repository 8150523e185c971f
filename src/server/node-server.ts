/**
 * One raftlock node as a running server: durable log (LevelLog behind the group committer), the
 * Raft peer transport, the lock core, the driver that beats them, and the client listener.
 *
 * Client requests (docs/client-protocol.md): writes go to the local core; a follower's core answers
 * NOT_LEADER, and then the request is forwarded to the leader over a client connection (or, for a
 * client that asked for redirects, answered NOT_LEADER with the leader's client address). Requests
 * that find no leader wait for one (bounded by `requestTimeoutMs`) and then get UNAVAILABLE. Reads
 * use ReadIndex on any node. That routing is the deterministic RequestRouter
 * (src/node/request-router.ts): this class links it to the core, the forwarding connections and
 * the clients, and feeds it time after every drain. Notifications of every applied entry are
 * pushed to the connections whose client id or session they name; watch events to the matching
 * watches.
 *
 * With `tls` the node is secure (docs/security.md): TLS on both ports, every client connection
 * authenticates in its Hello, every command is stamped with the connection's principal (the state
 * machine authorizes it when it applies), and reads, watches and admin-only operations are
 * authorized here against the applied auth store. Without `tls` it is insecure: plaintext, no
 * authentication, every client unrestricted.
 */
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { MetricsSource } from '../metrics/node-metrics.js';
import { NodeMetrics } from '../metrics/node-metrics.js';
import type { RaftConfig } from '../raft/config.js';
import { createRaftNode } from '../raft/node.js';
import { isMember } from '../raft/confchange.js';
import type { AddressedMember, ConfChange, ConfState, LogIndex, NodeId, Role, Snapshot } from '../raft/types.js';
import type { TlsMaterial } from '../security/tls-material.js';
import type { AdminAction, AdminCommand } from '../statemachine/auth-types.js';
import { describeUnknownUser, userExists } from '../statemachine/authorize.js';
import type { Operation } from '../statemachine/commands.js';
import { decodeCommand, encodeCommand, stampPrincipal } from '../statemachine/commands.js';
import type { LockMachineConfig } from '../statemachine/config.js';
import type { SessionId } from '../statemachine/ids.js';
import { authRevision, whoami } from '../statemachine/queries.js';
import type { Notification } from '../statemachine/results.js';
import { GroupCommitter } from '../storage/group-commit.js';
import { openLevelLog } from '../storage/level-log.js';
import type { ClientOp, MembersAction, NodeStatusView, WireResult } from '../protocol/client-protocol.js';
import { invalidArgument, permissionDenied, unavailable } from '../protocol/client-protocol.js';
import type { ErrorFrame, WireErrorCode } from '../protocol/handshake.js';
import { errorFrame } from '../protocol/handshake.js';
import type { TransportEvent } from '../transport/tcp.js';
import { TcpTransport } from '../transport/tcp.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import { createRng } from '../util/rng.js';
import { audit, crossSessionAudit, describeAdmin } from './audit.js';
import { ClientAuth } from './client-auth.js';
import type { AcceptedSocket, ConnectionSlot } from './client-listener.js';
import { ClientListener } from './client-listener.js';
import type { ClusterLimits, HostPort, SnapshotModeSetting } from '../config/cluster-config.js';
import { parseHostPort } from '../config/cluster-config.js';
import { Driver } from './driver.js';
import { ConnectionBudget } from './connection-budget.js';
import type { AdminOnly } from '../node/edge-access.js';
import { adminOnlyDenial, sessionDenial, watchDenial } from '../node/edge-access.js';
import { describeLogTimeEvent } from '../node/log-time.js';
import type { Logger } from '../util/logger.js';
import { silentLogger } from '../util/logger.js';
import { principalOf } from './login.js';
import type { LoginThrottleOptions } from './login-throttle.js';
import type { CoreOutput } from '../node/server-core.js';
import { ServerCore } from '../node/server-core.js';
import { feedIntervalMs, SnapshotMirror } from './snapshot-mirror.js';
import { encodeBackup } from './backup-format.js';
import { BackupStore, backupIdleMs } from './backup-store.js';
import type {
  ClientConnectionLimits,
  ConnectionHost,
  ConnectionLimits,
  ConnectionObserver,
  HelloAccepted,
} from './server-connection.js';
import { ClientConnection, defaultClientConnectionLimits, defaultConnectionLimits } from './server-connection.js';
import { ForwardPool } from './server-forward.js';
import type { AnswerSource, RouterLinks, RouteTicket } from '../node/request-router.js';
import { defaultRetryDelayMs, RequestRouter } from '../node/request-router.js';
import { assert, assertNever } from '../util/assert.js';
import { PushRoutes, startWatch } from '../node/server-push.js';
import type { RequestChannel } from '../node/request-channel.js';
import { ServerGateway } from './node-gateway.js';
import type { HttpServer } from '../http/http-server.js';
import { startHttpServer } from '../http/http-server.js';
import type { AddressBook } from '../node/server-views.js';
import { formatAddress, membersView, statusView, welcomeFrame } from '../node/server-views.js';

/** Where one member listens: peers on `peer`, clients on `client`, HTTP on `http` (when it serves HTTP). */
export interface MemberAddresses {
  readonly id: NodeId;
  readonly peer: HostPort;
  readonly client: HostPort;
  readonly http?: HostPort;
}

export interface NodeServerOptions {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  readonly dataDir: string;
  /** Where to listen; port 0 picks a free port (see `addresses`). */
  readonly peerListen: HostPort;
  readonly clientListen: HostPort;
  /** Serve the HTTP/JSON API here (docs/http.md); absent: no HTTP server. */
  readonly httpListen?: HostPort;
  /** Every other node this one may talk to (members and nodes that may join). */
  readonly members: readonly MemberAddresses[];
  readonly raft: RaftConfig;
  readonly tickMs: number;
  readonly snapshotEntries: number;
  /** Also snapshot once this many command bytes were applied since the last one (0 = never). */
  readonly snapshotBytes: number;
  /**
   * `background` (default): snapshots are encoded by a copy of the state machine on a worker
   * thread while the node keeps serving (twice the state machine's memory). `inline`: encoded on
   * the event loop, which stalls the node for as long (seconds for millions of locks).
   */
  readonly snapshotMode?: SnapshotModeSetting;
  /**
   * Tests: the worker's bytes for the snapshot at `index` reach the node only once this resolves,
   * so a test can hold a background snapshot in progress for as long as it likes.
   */
  readonly beforeSnapshotTaken?: (index: LogIndex) => Promise<void>;
  readonly keepaliveIntervalMs: number;
  /** An idle leader proposes an empty entry this often so log time (and expiry) advances. */
  readonly logTimeTickMs: number;
  /** Largest step forward in log time between entries (`security.logTimeJumpMax`; default 60 s). */
  readonly logTimeJumpMaxMs?: number;
  readonly limits: ClusterLimits;
  readonly machine: LockMachineConfig;
  readonly clientLimits?: Partial<ClientConnectionLimits>;
  /** Authenticated client connections at once; one more is refused with TOO_MANY_CONNECTIONS. */
  readonly connectionsMax?: number;
  /**
   * Budgets and timeouts that keep strangers from locking clients out: idle timeout after the
   * Welcome, per-frame deadline, per-source limit, the budget of connections not yet
   * authenticated. Defaults: `defaultConnectionLimits`.
   */
  readonly connectionLimits?: Partial<ConnectionLimits>;
  /**
   * This node's TLS material (its node certificate, key and the cluster CA): the node is secure
   * (TLS on the peer and client ports, clients must authenticate). Absent: insecure (plaintext,
   * no authentication, every client unrestricted).
   */
  readonly tls?: TlsMaterial;
  /** Back-off of failed password and token logins (defaults in login-throttle.ts). */
  readonly loginThrottle?: Partial<LoginThrottleOptions>;
  /** Lifetime of the token a password login is answered with (default 10 min). */
  readonly tokenTtlMs?: number;
  /** How long a request may wait for a leader or a forwarded answer before UNAVAILABLE. */
  readonly requestTimeoutMs?: number;
  readonly logger?: Logger;
  /** A write failed or an invariant broke: the node has stopped. Default: log it. */
  readonly onFatal?: (error: unknown) => void;
  readonly seed?: number;
}

/** A client request on its way through the router (src/node/request-router.ts). */
interface InFlight {
  readonly connection: RequestChannel;
  readonly id: number;
  readonly op: ClientOp;
  /** Who the request acts as: the connection's principal, or a forwarding node's `as`. */
  readonly principal: string | null;
  /** An admin action with its passwords hashed, once this node (as leader) has hashed them. */
  prepared?: AdminCommand;
  /** Logged with its result when it finishes: admin operations and cross-session commands. */
  readonly audit?: { readonly what: string; readonly target: string };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class NodeServer implements ConnectionHost {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  readonly machine: LockMachineConfig;
  /** This node's metrics (docs/metrics.md), for `/metrics`, `/healthz` and `/readyz`. */
  readonly metrics: NodeMetrics;
  /** Connections report answers, pushes and slow consumers here (the metrics). */
  readonly observer: ConnectionObserver;
  private readonly options: NodeServerOptions;
  private readonly log: Logger;
  private readonly core: ServerCore;
  private readonly driver: Driver<CoreOutput>;
  private readonly transport: TcpTransport;
  private readonly committer: GroupCommitter;
  private readonly mirror: SnapshotMirror | null;
  private readonly listener: ClientListener;
  private readonly forwards: ForwardPool;
  private readonly auth: ClientAuth;
  /** The HTTP API's way into this node (src/http/gateway.ts); served when `httpListen` is set. */
  readonly gateway: ServerGateway;
  private http: HttpServer | null = null;
  /** The applied auth store's revision the open connections were last checked against. */
  private authRevisionSeen: number;
  private readonly directory = new Map<NodeId, MemberAddresses>();
  private readonly connections = new Set<ClientConnection>();
  private readonly pushRoutes = new PushRoutes();
  /** Requests at the core, by the core's request id. */
  private readonly inflight = new Map<string, { readonly ticket: RouteTicket; readonly entry: InFlight }>();
  /** Read barriers at the core (a backup waits for one), by the core's request id. */
  private readonly barriers = new Map<string, (result: WireResult) => void>();
  /** Forwarding, parking, NOT_LEADER and deadlines; this class only feeds it time and links. */
  private readonly router: RequestRouter<InFlight>;
  private readonly clientLimits: ClientConnectionLimits;
  private readonly connectionLimits: ConnectionLimits;
  private readonly requestTimeoutMs: number;
  private nextConnectionId = 1;
  private nextRequest = 1;
  private closing: Promise<void> | null = null;
  private fatalError: unknown = null;
  /** Posts the commands gathered for the snapshot copy now and then (SnapshotMirror.flushIfDue). */
  private mirrorFeed: NodeJS.Timeout | null = null;
  /**
   * This node was a member and a configuration change removed it: it applies nothing more, so its
   * clients would hear no more pushes. It closes their connections and refuses new ones, so they
   * move to a member (and re-check their holds there). Also true from the start for a node whose
   * own configuration leaves it out (see the constructor).
   */
  private removed: boolean;
  private seen: {
    role: Role;
    leader: NodeId | null;
    term: number;
    voters: string;
    learners: string;
    /** The configuration's addresses as last seen (ConfState objects are replaced, never changed). */
    addresses: ConfState['addresses'];
  };

  private constructor(
    options: NodeServerOptions,
    core: ServerCore,
    committer: GroupCommitter,
    transport: TcpTransport,
    listener: ClientListener,
    mirror: SnapshotMirror | null,
    metrics: NodeMetrics,
  ) {
    this.options = options;
    this.metrics = metrics;
    this.observer = metrics.clients;
    this.clusterId = options.clusterId;
    this.nodeId = options.nodeId;
    this.machine = options.machine;
    this.log = (options.logger ?? silentLogger).child(options.nodeId);
    this.core = core;
    this.committer = committer;
    this.mirror = mirror;
    this.transport = transport;
    this.listener = listener;
    this.clientLimits = { ...defaultClientConnectionLimits, ...options.clientLimits };
    this.connectionLimits = { ...defaultConnectionLimits, ...options.connectionLimits };
    const electionMs = options.raft.electionTicks * options.tickMs;
    this.requestTimeoutMs = options.requestTimeoutMs ?? Math.max(5000, electionMs * 6);
    for (const member of options.members) this.directory.set(member.id, member);
    this.forwards = new ForwardPool({
      clusterId: this.clusterId,
      self: this.nodeId,
      frameBytesMax: this.clientLimits.frameBytesMax,
      timeoutMs: this.requestTimeoutMs,
      tls: options.tls ?? null,
    });
    this.router = new RequestRouter<InFlight>(
      { self: this.nodeId, requestTimeoutMs: this.requestTimeoutMs, retryDelayMs: defaultRetryDelayMs },
      this.routerLinks(),
    );
    this.auth = new ClientAuth({
      secure: options.tls !== undefined,
      clusterId: this.clusterId,
      log: this.log,
      state: () => this.core.state,
      isMember: (node) => node !== this.nodeId && this.directory.has(node),
      now: () => this.now(),
      ...(options.loginThrottle === undefined ? {} : { throttle: options.loginThrottle }),
      ...(options.tokenTtlMs === undefined ? {} : { tokenTtlMs: options.tokenTtlMs }),
    });
    this.authRevisionSeen = authRevision(core.state);
    this.gateway = new ServerGateway({
      nodeId: this.nodeId,
      clusterId: this.clusterId,
      machine: this.machine,
      tls: options.tls ?? null,
      log: this.log,
      metrics,
      auth: this.auth,
      requestTimeoutMs: this.requestTimeoutMs,
      state: () => this.core.state,
      leader: () => this.core.status().leader,
      httpAddress: (node) => this.httpAddressOf(node),
      request: (channel, id, op) => this.request(channel, id, op, null),
      bindClient: (channel, clientId) => this.pushRoutes.bindClient(channel, clientId),
      bindSession: (channel, session) => this.pushRoutes.bindSession(channel, session),
      forget: (channel) => this.pushRoutes.forget(channel),
      watchesChanged: (channel) => this.pushRoutes.watchesChanged(channel),
    });
    const status = core.status();
    // Started outside the configuration it holds: removed (before a restart, or while it was
    // down), or a joiner that crashed before the entry adding it reached it. Either way it is not
    // a member, and refuses clients until it is one (observeChanges). A joiner that holds no
    // configuration yet (no voters) waits to be added and is not refused.
    this.removed = status.conf.voters.length > 0 && !isMember(status.conf, this.nodeId);
    this.seen = {
      role: status.role,
      leader: status.leader,
      term: status.term,
      voters: status.conf.voters.join(','),
      learners: status.conf.learners.join(','),
      addresses: status.conf.addresses,
    };
    this.driver = new Driver<CoreOutput>({
      node: core,
      log: committer,
      transport,
      tickIntervalMs: Math.max(5, Math.min(25, Math.floor(options.tickMs / 2))),
      onOutput: (output) => this.onOutput(output),
      onFatal: (error) => this.onFatal(error),
      coalesceTurn: () => core.isLeading,
      onReceive: (message) => metrics.raft.messageReceived(message),
    });
    metrics.bind(this.metricsSource());
    listener.attach({
      refusing: () =>
        this.closing !== null
          ? 'this node is shutting down'
          : this.removed
            ? 'this node was removed from the cluster'
            : null,
      onConnection: (accepted) => this.accept(accepted),
    });
    if (mirror !== null) {
      this.mirrorFeed = setInterval(() => mirror.flush(), feedIntervalMs);
      this.mirrorFeed.unref();
    }
    mirror?.attach({
      onSnapshot: (index, bytes) => {
        const hold = options.beforeSnapshotTaken;
        if (hold === undefined) return this.driver.guard(() => this.snapshotTaken(index, bytes));
        void hold(index).then(() => this.driver.guard(() => this.snapshotTaken(index, bytes)));
      },
      // As a failed write does: without snapshots the log grows without bound, so stop now.
      onFailure: (error) =>
        this.driver.guard(() => {
          throw error;
        }),
    });
  }

  /** Opens the data directory, recovers, binds both ports and starts the node. */
  static async start(options: NodeServerOptions): Promise<NodeServer> {
    const logger = (options.logger ?? silentLogger).child(options.nodeId);
    const levelLog = await openLevelLog({
      dir: options.dataDir,
      clusterId: options.clusterId,
      nodeId: options.nodeId,
    });
    const metrics = new NodeMetrics({ nodeId: options.nodeId, dataDir: options.dataDir });
    const committer = new GroupCommitter(levelLog, {
      onBatchWritten: (batch, requests, seconds) => metrics.storage.batchWritten(batch, requests, seconds),
      // The driver hands over one write per drain, a whole turn's work: no turn to wait for.
      gatherTurn: false,
    });
    let transport: TcpTransport | null = null;
    let listener: ClientListener | null = null;
    const background = (options.snapshotMode ?? 'background') === 'background';
    let mirror: SnapshotMirror | null = null;
    try {
      // Started before the core: restoring the stored snapshot feeds the worker's copy too.
      mirror = background ? SnapshotMirror.start(options.machine) : null;
      const persisted = await committer.load();
      if (levelLog.replayed !== null) {
        // The log was one batch behind the evidence that carried that batch (docs/storage.md).
        logger.warn('data directory: the newest batch was written again from its evidence', {
          dataDir: options.dataDir,
          generation: levelLog.replayed,
        });
      }
      const seed = options.seed ?? randomInt(0, 2 ** 47);
      // Members added with their addresses, applied before the server below exists (log replay).
      const membersAdded: AddressedMember[] = [];
      let learnMember: (member: AddressedMember) => void = (member) => membersAdded.push(member);
      const created = ServerCore.create({
        onConfigApplied: (change) => {
          if (change.type === 'addMember') learnMember(change);
        },
        raft: options.raft,
        persisted,
        rng: createRng(seed),
        createRaft: createRaftNode,
        tickMs: options.tickMs,
        logTimeTickMs: options.logTimeTickMs,
        ...(options.logTimeJumpMaxMs === undefined ? {} : { logTimeJumpMaxMs: options.logTimeJumpMaxMs }),
        snapshotEntries: options.snapshotEntries,
        snapshotBytes: options.snapshotBytes,
        snapshotMode: background ? 'deferred' : 'inline',
        nowMs: Math.floor(performance.now()),
        keepaliveIntervalMs: options.keepaliveIntervalMs,
        machine: options.machine,
        onApplied: (state, output) => metrics.locks.applied(state, output),
        onRestored: (state) => metrics.locks.restored(state),
        ...(mirror === null ? {} : { mirror }),
      });
      if (!created.ok) throw new Error(`data directory ${options.dataDir}: ${created.error}`);
      const others = options.members.filter((m) => m.id !== options.nodeId);
      const peers = new Map(others.map((m) => [m.id, m.peer] as const));
      transport = await TcpTransport.listen({
        nodeId: options.nodeId,
        clusterId: options.clusterId,
        listen: options.peerListen,
        peers,
        limits: {
          frameBytesMax: options.limits.frameBytesMax,
          sendQueueFramesMax: options.limits.sendQueueFramesMax,
          sendQueueBytesMax: options.limits.sendQueueBytesMax,
          frameDeadlineMs: options.limits.frameDeadlineMs,
        },
        ...(options.tls === undefined ? {} : { tls: options.tls }),
        onEvent: (event) => logTransportEvent(logger, event),
      });
      const limits = { ...defaultConnectionLimits, ...options.connectionLimits };
      const handshakeTimeoutMs =
        options.clientLimits?.handshakeTimeoutMs ?? defaultClientConnectionLimits.handshakeTimeoutMs;
      listener = await ClientListener.listen({
        listen: options.clientListen,
        tls: options.tls ?? null,
        budget: new ConnectionBudget<ConnectionSlot>({
          perSourceMax: limits.perSourceMax,
          unauthenticatedMax: limits.unauthenticatedMax,
          authenticatedMax: options.connectionsMax ?? options.limits.connectionsMax,
        }),
        handshakeTimeoutMs,
        log: logger,
      });
      const server = new NodeServer(options, created.value, committer, transport, listener, mirror, metrics);
      learnMember = (member) => server.learnMember(member);
      for (const member of membersAdded) server.learnMember(member);
      // The configuration's own addresses: those of a snapshot, whose addMember entries are gone.
      server.learnAddresses(created.value.status().conf);
      const status = created.value.status();
      logger.info('node started', {
        peer: formatAddress(server.peerAddress),
        client: formatAddress(server.clientAddress),
        security:
          options.tls === undefined ? 'insecure (plaintext, no authentication)' : `TLS as ${options.tls.summary}`,
        term: status.term,
        commit: status.commit,
        snapshot: status.snapshotIndex,
        lastIndex: status.lastIndex,
      });
      if (server.removed) {
        logger.warn('this node is not a member of the configuration it holds: it refuses clients until it is one', {
          voters: status.conf.voters.join(','),
          learners: status.conf.learners.join(','),
        });
      }
      server.driver.start();
      if (options.httpListen !== undefined) {
        try {
          server.http = await startHttpServer({ gateway: server.gateway, listen: options.httpListen });
        } catch (error) {
          await server.close();
          throw error;
        }
        logger.info('serving HTTP', { http: formatAddress(server.http.address), tls: options.tls !== undefined });
      }
      return server;
    } catch (error) {
      listener?.close();
      await mirror?.close();
      await transport?.close();
      await committer.close().catch(() => undefined);
      throw error;
    }
  }

  // ---- addresses and views -----------------------------------------------------------------

  /**
   * The change a members request proposes: a node this one has no addresses for, given with its
   * addresses, is added with them in the log (addMember), so every node learns where it is; the
   * leader learns it now, to start replicating as soon as the change is appended.
   */
  private memberChange(
    action: Exclude<MembersAction, 'list'>,
    node: NodeId,
    peer: string | undefined,
    client: string | undefined,
  ): ConfChange {
    const known = node === this.nodeId || this.directory.has(node);
    if (action !== 'addLearner' || known || peer === undefined || client === undefined)
      return confChangeOf(action, node);
    const change = { type: 'addMember', node, peer, client } as const;
    this.learnMember(change);
    return change;
  }

  get peerAddress(): HostPort {
    return this.transport.address;
  }

  get clientAddress(): HostPort {
    return this.listener.address;
  }

  /** Where the HTTP API listens; null when this node serves none. */
  get httpAddress(): HostPort | null {
    return this.http?.address ?? null;
  }

  private httpAddressOf(node: NodeId): string | null {
    const address = node === this.nodeId ? this.httpAddress : (this.directory.get(node)?.http ?? null);
    return address === null ? null : formatAddress(address);
  }

  /** Whether clients must authenticate over TLS (the node was given TLS material). */
  get isSecure(): boolean {
    return this.auth.secure;
  }

  /** This node's id and `host:port` addresses, for clients (`client`) and peers (`peer`). */
  get endpoint(): { readonly id: NodeId; readonly client: string; readonly peer: string; readonly http?: string } {
    const http = this.httpAddress;
    return {
      id: this.nodeId,
      client: formatAddress(this.clientAddress),
      peer: formatAddress(this.peerAddress),
      ...(http === null ? {} : { http: formatAddress(http) }),
    };
  }

  /**
   * A member added with its addresses (`members add N --peer --client`): every node learns where
   * it listens from the log (the addMember entry, or the configuration of a snapshot that
   * compacted it away), not from its own cluster.yml. Addresses that do not parse are logged and
   * ignored (the leader checked them when the change was asked for).
   */
  private learnMember(member: AddressedMember): void {
    if (member.node === this.nodeId) return;
    const peer = parseHostPort(member.peer);
    const client = parseHostPort(member.client);
    const fields = { node: member.node, peer: member.peer, client: member.client };
    if (peer === null || client === null) return this.log.warn('member addresses ignored', fields);
    const known = this.directory.get(member.node);
    if (
      known !== undefined &&
      formatAddress(known.peer) === member.peer &&
      formatAddress(known.client) === member.client
    )
      return;
    this.setMember({ id: member.node, peer, client });
    this.log.info('learned member addresses', fields);
  }

  /**
   * The addresses a configuration carries (ConfState.addresses): after a restart on a compacted log
   * or a snapshot installed from the leader, no addMember entry is left to teach them.
   */
  private learnAddresses(conf: ConfState): void {
    for (const member of conf.addresses ?? []) this.learnMember(member);
  }

  /** Learn (or change) where another node listens; embedding uses it after port-0 binds. */
  setMember(member: MemberAddresses): void {
    if (member.id === this.nodeId) return;
    const known = this.directory.get(member.id);
    this.directory.set(member.id, member);
    if (known === undefined || formatAddress(known.peer) !== formatAddress(member.peer)) {
      this.transport.addPeer(member.id, member.peer);
    }
  }

  get leader(): NodeId | null {
    return this.core.status().leader;
  }

  get isStopped(): boolean {
    return this.driver.isStopped;
  }

  /** The error that stopped the node, if one did. */
  get fatal(): unknown {
    return this.fatalError;
  }

  statusView(): NodeStatusView {
    return statusView({
      clusterId: this.clusterId,
      raft: this.core.status(),
      applied: this.applied,
      state: this.core.state,
      connections: this.connections.size,
    });
  }

  /**
   * Every node reaches another at the addresses its own cluster.yml gives (a membership change
   * names the node only), so addresses sent with an addLearner are a check: one that differs from
   * this node's cluster.yml is refused rather than silently ignored.
   */
  private addressMismatch(node: NodeId, peer: string | undefined, client: string | undefined): string | null {
    const book = this.addressBook();
    for (const [which, given] of [
      ['peer', peer],
      ['client', client],
    ] as const) {
      const known = book[which](node);
      if (given === undefined || known === null || given === known) continue;
      return (
        `node ${node}'s ${which} address is ${known} in this node's cluster.yml, not ${given}; ` +
        'members are reached at the addresses in cluster.yml: correct it there on every node'
      );
    }
    return null;
  }

  /**
   * Why the addresses given for a new member cannot be its own, or null: an address another node
   * this one knows already has (as its peer or client address), or one address for both, would
   * send one node's traffic to another.
   */
  private addressesTaken(node: NodeId, peer: string, client: string): string | null {
    const normal = (text: string): string => {
      const parsed = parseHostPort(text);
      return parsed === null ? text : formatAddress(parsed);
    };
    const given = { peer: normal(peer), client: normal(client) };
    if (given.peer === given.client) return `${node}'s peer and client addresses must differ; both are ${given.peer}`;
    const book = this.addressBook();
    for (const id of book.known) {
      for (const which of ['peer', 'client'] as const) {
        const known = book[which](id);
        for (const mine of ['peer', 'client'] as const) {
          if (known === given[mine])
            return `${given[mine]} is already ${id}'s ${which} address, not ${node}'s ${mine} address`;
        }
      }
    }
    return null;
  }

  private addressBook(): AddressBook {
    const lookup = (id: NodeId, which: 'peer' | 'client'): string | null => {
      if (id === this.nodeId) {
        return formatAddress(which === 'peer' ? this.peerAddress : this.clientAddress);
      }
      const member = this.directory.get(id);
      return member === undefined ? null : formatAddress(member[which]);
    };
    return {
      client: (id) => lookup(id, 'client'),
      peer: (id) => lookup(id, 'peer'),
      known: [this.nodeId, ...this.directory.keys()],
    };
  }

  // ---- connections -------------------------------------------------------------------------

  private accept(accepted: AcceptedSocket): void {
    const id = this.nextConnectionId++;
    const connection = new ClientConnection(id, accepted, this.clientLimits, this.connectionLimits, this);
    this.connections.add(connection);
    this.metrics.clients.connectionOpened();
    this.log.debug('client connected', { connection: id, remote: connection.remote });
  }

  async hello(connection: ClientConnection, value: unknown): Promise<Result<HelloAccepted, ErrorFrame>> {
    const outcome = await this.auth.hello(connection, value);
    if (!outcome.ok) return outcome;
    const { hello, identity, token } = outcome.value;
    // Gone while its credentials were checked: nothing to admit (the answer goes nowhere).
    if (!connection.isOpen) return err(errorFrame('UNAUTHENTICATED', 'the connection closed during authentication'));
    const full =
      this.closing !== null ? 'this node is shutting down' : this.listener.admitAuthenticated(connection.slot);
    if (full !== null) {
      this.log.warn('client connection refused', { remote: connection.remote, reason: full });
      return err(errorFrame('TOO_MANY_CONNECTIONS', full));
    }
    const principal = principalOf(identity);
    const welcome = welcomeFrame(this.clusterId, this.core.status(), this.addressBook(), {
      principal,
      ...(token === undefined ? {} : { token }),
    });
    return ok({ hello, identity, welcome });
  }

  refused(connection: ClientConnection, code: WireErrorCode, reason: string): void {
    this.log.warn('client connection refused', { remote: connection.remote, user: connection.principal, code, reason });
  }

  /**
   * Logged where the client is connected, as the HTTP port logs its 403s; a forwarding node's
   * connection is not logged here, since the node the client reached logs its own answer.
   */
  denied(connection: ClientConnection, op: string, reason: string): void {
    if (connection.isForwarder) return;
    this.log.warn('client request refused', { remote: connection.remote, user: connection.principal, op, reason });
  }

  timedOut(connection: ClientConnection, reason: string): void {
    this.log.warn('client connection closed', { remote: connection.remote, user: connection.principal, reason });
  }

  closed(connection: ClientConnection, reason: string): void {
    this.connections.delete(connection);
    this.metrics.clients.connectionClosed();
    this.pushRoutes.forget(connection);
    this.log.debug('client disconnected', { connection: connection.id, reason });
  }

  request(connection: RequestChannel, id: number, op: ClientOp, as: string | null): void {
    // Revocation: a user deleted since the last request loses its connection now. (An HTTP
    // request's user was checked when the gateway authenticated it, a moment ago.)
    if (connection instanceof ClientConnection && !this.auth.stillValid(connection)) return;
    const state = this.core.state;
    if (as !== null && !userExists(state.auth, as)) {
      return connection.respond(id, permissionDenied(describeUnknownUser(as)));
    }
    const principal = as ?? connection.principal;
    const submit = (audited?: InFlight['audit']): void => {
      const entry: InFlight = { connection, id, op, principal, ...(audited === undefined ? {} : { audit: audited }) };
      this.router.admit(entry, { redirect: connection.redirect, localOnly: op.kind === 'read' }, this.now());
    };
    const refuse = (what: AdminOnly, audited: InFlight['audit']): boolean => {
      const denied = adminOnlyDenial(state, principal, what);
      if (denied === null) return false;
      this.audit(connection, principal, audited, 'PERMISSION_DENIED');
      connection.respond(id, permissionDenied(denied));
      return true;
    };
    switch (op.kind) {
      case 'command': {
        this.pushRoutes.bindClient(connection, op.command.clientId);
        const inner = op.command.op;
        if (inner.type === 'openSession') return submit();
        this.pushRoutes.bindSession(connection, inner.session);
        return submit(this.crossSession(connection, principal, op.command.op));
      }
      case 'keepAlive':
        this.pushRoutes.bindClient(connection, op.clientId);
        this.pushRoutes.bindSession(connection, op.session);
        return submit();
      case 'read':
        return submit();
      case 'transferLeader': {
        const audited = { what: 'transferLeader', target: op.to };
        return refuse('transferLeader', audited) ? undefined : submit(audited);
      }
      case 'admin': {
        const audited = describeAdmin(op.action);
        const own = op.action.type === 'userPassword' && op.action.user === principal;
        if (!own && refuse('admin', audited)) return undefined;
        return submit(audited);
      }
      case 'whoami':
        return connection.respond(id, { code: 'OK', value: { kind: 'whoami', ...whoami(state, principal) } });
      case 'members': {
        if (op.action === 'list') {
          const members = membersView(this.core.status(), this.addressBook());
          return connection.respond(id, { code: 'OK', value: { kind: 'members', members } });
        }
        const audited = { what: `members ${op.action}`, target: op.node ?? '' };
        if (refuse('members', audited)) return undefined;
        const node = op.node;
        const unknown = node !== undefined && node !== this.nodeId && !this.directory.has(node);
        const withAddresses = op.peer !== undefined && op.client !== undefined;
        if (unknown && op.action === 'addLearner' && !withAddresses) {
          const message =
            `node ${String(op.node)} is not in this cluster's configuration; ` +
            'give its addresses (members add NODE --peer HOST:PORT --client HOST:PORT) or list it in cluster.yml with join: true';
          return connection.respond(id, { code: 'INVALID_ARGUMENT', message });
        }
        if (unknown && op.action === 'addLearner' && withAddresses) {
          const bad = [op.peer, op.client].find((a) => parseHostPort(a ?? '') === null);
          if (bad !== undefined)
            return connection.respond(id, {
              code: 'INVALID_ARGUMENT',
              message: `not a host:port address: ${JSON.stringify(bad)}`,
            });
          const taken = this.addressesTaken(node, op.peer ?? '', op.client ?? '');
          if (taken !== null) return connection.respond(id, { code: 'INVALID_ARGUMENT', message: taken });
        }
        const misplaced =
          op.action === 'addLearner' && node !== undefined ? this.addressMismatch(node, op.peer, op.client) : null;
        if (misplaced !== null) return connection.respond(id, { code: 'INVALID_ARGUMENT', message: misplaced });
        return submit(audited);
      }
      case 'watch': {
        const denied = watchDenial(state, principal, op.prefix);
        if (denied !== null) return connection.respond(id, permissionDenied(denied));
        startWatch(connection, id, op.prefix, op.fromIndex, state, this.applied);
        return this.pushRoutes.watchesChanged(connection);
      }
      case 'unwatch': {
        const removed = connection.watches.delete(op.watchId);
        this.pushRoutes.watchesChanged(connection);
        if (!removed) {
          const message = `no watch ${op.watchId} on this connection`;
          return connection.respond(id, { code: 'INVALID_ARGUMENT', message });
        }
        const value = { kind: 'unwatched' as const, watchId: op.watchId };
        return connection.respond(id, { code: 'OK', value });
      }
      case 'status':
        return connection.respond(id, {
          code: 'OK',
          value: { kind: 'status', status: this.statusView() },
        });
      case 'snapshot': {
        const audited = { what: 'snapshot', target: '' };
        if (refuse('snapshot', audited)) return undefined;
        // The snapshot's write is queued by the host and flushed by the driver's next drain.
        let index = 0;
        this.driver.guard(() => {
          index = this.core.host.snapshotNow();
        });
        this.audit(connection, principal, audited, 'OK');
        return connection.respond(id, { code: 'OK', value: { kind: 'snapshotTaken', index } });
      }
      case 'backup':
        return this.backup(connection, id, principal, op.backup, op.offset, refuse);
      default:
        return assertNever(op, 'client op');
    }
  }

  /**
   * `raftlock backup`: the first request (backup 0) waits for a read barrier (a ReadIndex round:
   * this node still leads, and has applied every entry committed before the request), then
   * encodes the leader's applied state into a backup file, kept whole until fetched, and answers
   * its first chunk; later requests fetch further chunks of the same file. So a backup holds
   * every write acknowledged before it was asked for, whichever leader acknowledged it.
   */
  private backup(
    connection: RequestChannel,
    id: number,
    principal: string | null,
    backup: number,
    offset: number,
    refuse: (what: AdminOnly, audited: InFlight['audit']) => boolean,
  ): void {
    const audited = { what: 'backup', target: backup === 0 ? '' : String(backup) };
    if (refuse('backup', audited)) return;
    if (backup === 0) {
      const status = this.core.status();
      if (status.role !== 'leader') {
        const leader = status.leader === null ? 'unknown' : status.leader;
        return connection.respond(
          id,
          unavailable(`${this.nodeId} is not the leader (leader: ${leader}); a backup is taken through the leader`),
        );
      }
      if (this.driver.isStopped) return connection.respond(id, unavailable('this node has stopped'));
      const requestId = `q${this.nextRequest++}`;
      this.barriers.set(requestId, (result) => {
        if (result.code === 'OK') return this.encodeBackup(connection, id, principal, audited);
        const refusal =
          result.code === 'NOT_LEADER'
            ? unavailable(`${this.nodeId} is no longer the leader; a backup is taken through the leader`)
            : result;
        this.audit(connection, principal, audited, refusal.code);
        return connection.respond(id, refusal);
      });
      this.driver.guard(() => this.core.barrier(requestId));
      return;
    }
    const chunk = this.backups.chunk(backup, offset, this.now());
    if (chunk === null) {
      const message = `no backup ${backup} at offset ${offset} on ${this.nodeId} (expired after ${backupIdleMs / 1000} s idle, finished, or out of range); start again`;
      return connection.respond(id, { code: 'INVALID_ARGUMENT', message });
    }
    return connection.respond(id, { code: 'OK', value: { kind: 'backupChunk', ...chunk } });
  }

  /** A reply to a read barrier goes to the backup waiting for it; false for any other reply. */
  private settleBarrier(reply: { readonly requestId: string; readonly result: WireResult }): boolean {
    const waiting = this.barriers.get(reply.requestId);
    if (waiting === undefined) return false;
    this.barriers.delete(reply.requestId);
    waiting(reply.result);
    return true;
  }

  /** Encodes the applied state into a new backup file, past its read barrier; answers the first chunk. */
  private encodeBackup(
    connection: RequestChannel,
    id: number,
    principal: string | null,
    audited: InFlight['audit'],
  ): void {
    let point: Snapshot | null = null;
    this.driver.guard(() => {
      point = this.core.host.backupPoint();
    });
    if (point === null) return connection.respond(id, unavailable('this node has stopped'));
    const { meta, data } = point as Snapshot;
    const header = {
      clusterId: this.clusterId,
      nodeId: this.nodeId,
      index: meta.index,
      term: meta.term,
      conf: meta.conf,
      createdAt: new Date().toISOString(),
    };
    const first = this.backups.add(encodeBackup(header, data), this.now());
    this.audit(connection, principal, audited, 'OK');
    this.log.info('backup taken', { index: meta.index, term: meta.term, bytes: first.total, user: principal });
    return connection.respond(id, { code: 'OK', value: { kind: 'backupChunk', ...first } });
  }

  private backupsHeld: BackupStore | null = null;

  /** Chunks well inside the frame limit: the answer's framing and field names come on top. */
  private get backups(): BackupStore {
    this.backupsHeld ??= new BackupStore(
      Math.max(1024, Math.min(1 << 20, Math.floor(this.options.limits.frameBytesMax / 4))),
    );
    return this.backupsHeld;
  }

  /**
   * A command on a session another principal owns (only an admin may; the state machine decides)
   * is audited with its result, by the node the client is connected to (a forwarded request was
   * audited there), judged by this node's applied state.
   */
  private crossSession(connection: RequestChannel, principal: string | null, op: Operation): InFlight['audit'] {
    return connection.isForwarder ? undefined : crossSessionAudit(this.core.state, principal, op);
  }

  private audit(
    connection: RequestChannel,
    principal: string | null,
    audited: InFlight['audit'],
    result: string,
  ): void {
    // A forwarding node audited the request where its client is connected.
    if (audited === undefined || connection.isForwarder) return;
    audit(this.log, { principal, address: connection.remote, what: audited.what, target: audited.target, result });
  }

  private get applied(): number {
    return this.core.host.applied;
  }

  private now(): number {
    return this.driver.now();
  }

  // ---- request flow ------------------------------------------------------------------------

  /** How the router reaches this node's core, the leader and the clients. */
  private routerLinks(): RouterLinks<InFlight> {
    return {
      leader: () => this.core.status().leader,
      canForwardTo: (node) => node !== this.nodeId && this.directory.has(node),
      clientAddress: (node) => this.addressBook().client(node),
      isOpen: (entry) => entry.connection.isOpen,
      isStopped: () => this.driver.isStopped,
      submitLocal: (ticket, entry) => this.submit(ticket, entry),
      forward: (ticket, leader, entry) => {
        const member = this.directory.get(leader);
        assert(member !== undefined, () => `forwarding to ${leader}, a node without addresses`);
        this.forwards.forward(leader, member.client, entry.op, entry.principal, (result) =>
          this.router.forwardAnswered(ticket, result, this.now()),
        );
      },
      answer: (entry, result, source) => this.answer(entry, result, source),
    };
  }

  private submit(ticket: RouteTicket, entry: InFlight): void {
    if (this.driver.isStopped) return this.router.abort(ticket, unavailable('this node has stopped'));
    const { op, principal } = entry;
    if (op.kind === 'admin' && entry.prepared === undefined) return this.prepareAdmin(ticket, entry, op.action);
    const requestId = `q${this.nextRequest++}`;
    this.inflight.set(requestId, { ticket, entry });
    const answeredLocally = (): void => {
      this.inflight.delete(requestId);
      const message = `${op.kind}${op.kind === 'members' ? ' list' : ''} is answered locally`;
      this.router.localAnswered(ticket, { code: 'INVALID_ARGUMENT', message }, this.now());
    };
    this.driver.guard(() => {
      switch (op.kind) {
        case 'command':
          return this.core.command(requestId, stampPrincipal(op.command, principal));
        case 'keepAlive':
          return this.core.keepAlive(requestId, op.session as SessionId, principal);
        case 'read':
          return this.core.read(requestId, op.query, principal);
        case 'admin':
          assert(entry.prepared !== undefined, 'an admin action reaches the core hashed');
          return this.core.admin(requestId, principal, entry.prepared);
        case 'transferLeader':
          return this.core.transferLeadership(requestId, op.to);
        case 'members':
          if (op.action === 'list') return answeredLocally();
          return this.core.confChange(
            requestId,
            this.memberChange(op.action, op.node ?? this.nodeId, op.peer, op.client),
          );
        case 'whoami':
        case 'watch':
        case 'unwatch':
        case 'status':
        case 'snapshot':
        case 'backup':
          return answeredLocally();
        default:
          return assertNever(op, 'client op');
      }
    });
  }

  /**
   * An admin action is hashed by the node that proposes it, once it knows it leads (a follower
   * forwards the action as it came, inside TLS); the hashed command is checked with the state
   * machine's own codec before it is proposed.
   */
  private prepareAdmin(ticket: RouteTicket, entry: InFlight, action: AdminAction): void {
    if (!this.core.isLeading) {
      const refusal: WireResult = { code: 'NOT_LEADER', message: 'not the leader', leader: null, leaderClient: null };
      return this.router.localAnswered(ticket, refusal, this.now());
    }
    this.auth.prepare(action).then(
      (prepared) => {
        const command = { type: 'admin' as const, principal: entry.principal, action: prepared };
        const checked = decodeCommand(encodeCommand(command), this.machine);
        const invalid = checked.ok ? null : invalidArgument(`op.action: ${checked.error}`);
        if (invalid !== null) return this.router.localAnswered(ticket, invalid, this.now());
        entry.prepared = prepared;
        this.router.resume(ticket);
      },
      (error: unknown) =>
        this.router.localAnswered(ticket, unavailable(`hashing the password failed: ${describe(error)}`), this.now()),
    );
  }

  /** The router's one answer to a request: outcomes bind the session they opened and are audited. */
  private answer(entry: InFlight, result: WireResult, source: AnswerSource): void {
    if (source === 'outcome') {
      if (result.code === 'OK' && result.value.kind === 'session') {
        this.pushRoutes.bindSession(entry.connection, result.value.session);
      }
      this.audit(entry.connection, entry.principal, entry.audit, result.code);
    }
    entry.connection.respond(entry.id, result);
  }

  // ---- output ------------------------------------------------------------------------------

  private onOutput(output: CoreOutput): void {
    this.metrics.raft.drained(output, this.core.isLeading);
    if (this.mirror !== null) {
      // The core is at exactly each request's index now: the request goes in right after the
      // commands that led there, and goes to the worker at once with everything gathered.
      for (const request of output.snapshotRequests) {
        this.mirror.snapshotAt(request.index);
        this.log.info('snapshot started in the background', { index: request.index });
      }
      this.mirror.flushIfDue();
    }
    const answer = (): void => {
      for (const reply of output.replies) {
        if (this.settleBarrier(reply)) continue;
        const routed = this.inflight.get(reply.requestId);
        if (routed === undefined) continue;
        this.inflight.delete(reply.requestId);
        this.router.localAnswered(routed.ticket, reply.result, this.now());
      }
    };
    const state = this.core.state;
    const secure = this.auth.secure;
    // Hold endings are pushed before the answers (a grant among them), the rest after.
    this.pushRoutes.route(
      output.notifications,
      this.applied,
      (connection, n) => {
        // Client ids are the clients' own choice: on a secure node a connection hears only of
        // sessions its principal may use.
        const allowed = !secure || sessionDenial(state, connection.principal, n.session) === null;
        if (allowed && n.kind === 'revoked' && n.by !== null) this.auditRevoked(connection, n);
        return allowed;
      },
      answer,
    );
    if (output.notifications.length > 0) this.gateway.notified(output.notifications, this.applied);
    const revision = authRevision(this.core.state);
    if (revision !== this.authRevisionSeen) {
      this.authRevisionSeen = revision;
      this.auth.enforce(this.connections, (connection) => this.pushRoutes.watchesChanged(connection));
      this.gateway.authChanged();
    }
    // At warn: a refused entry is a refusal (who and why), a clamp a clock that leapt.
    for (const event of output.logTimeEvents) this.log.warn(describeLogTimeEvent(event));
    for (const snapshot of output.snapshots) {
      if (snapshot.kind === 'taken') this.log.info('took snapshot', { index: snapshot.index });
      else this.log.info('installed snapshot from the leader', { index: snapshot.index });
    }
    this.observeChanges();
    // After every drain (at least every driver beat): deadlines, and parked requests once a leader is known.
    this.router.tick(this.now());
  }

  /**
   * A holder told that someone else ended its hold: audited where the holder hears it. The action
   * reached this node through the log; the node that took the request logged the actor's address.
   */
  private auditRevoked(connection: RequestChannel, n: Extract<Notification, { kind: 'revoked' }>): void {
    audit(this.log, {
      principal: n.by,
      address: 'the log',
      what: 'revoked',
      target: `${JSON.stringify(n.name)} of session ${n.session} (${n.reason}), told ${connection.principal ?? 'its client'} at ${connection.remote}`,
      result: 'pushed',
    });
  }

  /** What the metrics read at a scrape and the probes at each call. */
  private metricsSource(): MetricsSource {
    const core = this.core;
    const server = this;
    return {
      status: () => core.status(),
      get applied() {
        return core.host.applied;
      },
      get state() {
        return core.state;
      },
      get connections() {
        return server.connections.size;
      },
      get stopped() {
        return server.driver.isStopped;
      },
      get fatal() {
        return server.fatalError;
      },
    };
  }

  private snapshotTaken(index: LogIndex, bytes: Uint8Array): void {
    if (!this.core.host.snapshotTaken(index, bytes)) {
      this.log.info('background snapshot no longer needed (a newer one arrived)', { index });
    }
  }

  private observeChanges(): void {
    const s = this.core.status();
    this.metrics.raft.statusSeen(s);
    const voters = s.conf.voters.join(',');
    const learners = s.conf.learners.join(',');
    const seen = this.seen;
    if (s.role !== seen.role || s.leader !== seen.leader || s.term !== seen.term) {
      if (s.role === 'leader' && seen.role !== 'leader') {
        this.log.info('became leader', { term: s.term });
      } else if (s.role !== 'leader' && seen.role === 'leader') {
        this.log.info('stepped down', { term: s.term, leader: s.leader });
      }
      if (s.leader !== seen.leader) {
        this.log.info('leader changed', { term: s.term, leader: s.leader });
        this.forwards.retain(s.leader);
        this.gateway.leaderChanged(s.leader, s.term);
      } else if (s.role !== seen.role) {
        this.log.debug('role changed', { role: s.role, term: s.term });
      }
    }
    if (voters !== seen.voters || learners !== seen.learners) {
      this.log.info('membership changed', { voters, learners });
      const listed = (list: string): boolean => list.split(',').includes(this.nodeId);
      const member = listed(voters) || listed(learners);
      if (!member && (listed(seen.voters) || listed(seen.learners))) this.leftCluster();
      if (member) this.removed = false;
    }
    if (s.conf.addresses !== seen.addresses) this.learnAddresses(s.conf);
    this.seen = { role: s.role, leader: s.leader, term: s.term, voters, learners, addresses: s.conf.addresses };
  }

  private leftCluster(): void {
    this.removed = true;
    const reason = 'this node was removed from the cluster';
    this.log.warn('removed from the cluster: closing client connections so clients move to a member', {
      connections: this.connections.size,
    });
    for (const connection of [...this.connections]) connection.close(reason);
  }

  private onFatal(error: unknown): void {
    this.fatalError = error;
    this.log.error('node stopped', { error: describe(error) });
    for (const reply of this.core.stopSafely(describe(error))) {
      if (this.settleBarrier(reply)) continue;
      const routed = this.inflight.get(reply.requestId);
      if (routed !== undefined) this.router.abort(routed.ticket, reply.result);
    }
    this.inflight.clear();
    if (this.mirrorFeed !== null) clearInterval(this.mirrorFeed);
    void this.mirror?.close();
    if (this.options.onFatal !== undefined) this.options.onFatal(error);
  }

  // ---- shutdown ----------------------------------------------------------------------------

  /**
   * Graceful stop: stop accepting clients, hand leadership to another voter if leading (so the
   * cluster does not wait out an election timeout), finish in-flight writes, answer what is
   * pending, close everything.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.listener.close();
    this.gateway.close();
    await this.http?.close();
    if (!this.driver.isStopped) await this.handOffLeadership();
    this.driver.flush();
    await this.driver.stop();
    const stopping = 'this node is shutting down';
    const replies = this.fatalError === null ? this.core.stopSafely(stopping) : [];
    for (const reply of replies) {
      if (this.settleBarrier(reply)) continue;
      const routed = this.inflight.get(reply.requestId);
      if (routed !== undefined) this.router.abort(routed.ticket, reply.result);
    }
    this.router.stop(stopping);
    this.forwards.close();
    for (const connection of [...this.connections]) connection.close('node shutting down');
    if (this.mirrorFeed !== null) clearInterval(this.mirrorFeed);
    await this.mirror?.close();
    await this.transport.close();
    await this.committer.close().catch((error: unknown) => {
      this.log.warn('closing the data directory failed', { error: describe(error) });
    });
    this.log.info('node stopped cleanly');
  }

  private async handOffLeadership(): Promise<void> {
    const s = this.core.status();
    if (s.role !== 'leader') return;
    const voters = s.progress.filter((p) => p.id !== this.nodeId && s.conf.voters.includes(p.id));
    const target = voters.sort((a, b) => b.match - a.match)[0];
    if (target === undefined) return;
    this.log.info('transferring leadership before shutdown', { to: target.id });
    this.driver.guard(() => this.core.transferLeadership(`shutdown/${this.nodeId}`, target.id));
    const deadline = this.now() + this.options.raft.electionTicks * this.options.tickMs * 2;
    const leading = (): boolean => !this.driver.isStopped && this.core.status().role === 'leader';
    while (this.now() < deadline && leading()) {
      await new Promise((resolve) => setTimeout(resolve, this.options.tickMs));
    }
  }
}

function logTransportEvent(logger: Logger, event: TransportEvent): void {
  switch (event.kind) {
    case 'connected':
      return logger.debug('peer connected', { peer: event.peer });
    case 'disconnected':
      return logger.debug('peer disconnected', { peer: event.peer, reason: event.reason });
    case 'refused':
    case 'peerError': {
      const fields = { remote: event.remote, code: event.code, reason: event.message };
      const what = event.kind === 'refused' ? 'peer connection refused' : 'peer refused us';
      return logger.warn(what, fields);
    }
    case 'timedOut':
      return logger.warn('peer connection timed out', {
        remote: event.remote,
        peer: event.peer,
        reason: event.message,
      });
  }
}

function confChangeOf(action: Exclude<MembersAction, 'list'>, node: NodeId): ConfChange {
  switch (action) {
    case 'addLearner':
      return { type: 'addLearner', node };
    case 'promote':
      return { type: 'promoteLearner', node };
    case 'remove':
      return { type: 'removeNode', node };
  }
}
