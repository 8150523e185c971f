/**
 * One raftlock node as a running server: durable log (LevelLog behind the group committer), the
 * Raft peer transport, the lock core, the driver that beats them, and the client listener.
 *
 * Client requests (docs/client-protocol.md): writes go to the local core; a follower's core answers
 * NOT_LEADER, and then the request is forwarded to the leader over a client connection (or, for a
 * client that asked for redirects, answered NOT_LEADER with the leader's client address). Requests
 * that find no leader wait for one (bounded by `requestTimeoutMs`) and then get UNAVAILABLE. Reads
 * use ReadIndex on any node. Notifications of every applied entry are pushed to the connections
 * whose client id or session they name; watch events to the matching watches.
 */
import { randomInt } from 'node:crypto';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { RaftConfig } from '../raft/config.js';
import { createRaftNode } from '../raft/node.js';
import type { ConfChange, NodeId, Role } from '../raft/types.js';
import type { LockMachineConfig } from '../statemachine/config.js';
import type { SessionId } from '../statemachine/ids.js';
import { eventsSince } from '../statemachine/queries.js';
import type { Notification, WatchEvent } from '../statemachine/results.js';
import { GroupCommitter } from '../storage/group-commit.js';
import { openLevelLog } from '../storage/level-log.js';
import type { ClientOp, MemberView, NodeStatusView, Welcome, WireResult } from '../transport/client-protocol.js';
import { unavailable } from '../transport/client-protocol.js';
import { FramedSocket } from '../transport/framed-socket.js';
import type { TransportEvent } from '../transport/tcp.js';
import { TcpTransport } from '../transport/tcp.js';
import { createRng } from '../util/rng.js';
import type { ClusterLimits, HostPort } from './cluster-config.js';
import { Driver } from './driver.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';
import type { CoreOutput } from './server-core.js';
import { ServerCore } from './server-core.js';
import type { ClientConnectionLimits, ConnectionHost } from './server-connection.js';
import { ClientConnection, defaultClientConnectionLimits } from './server-connection.js';
import { ForwardPool } from './server-forward.js';

/** Where one member listens: peers on `peer`, clients on `client`. */
export interface MemberAddresses {
  readonly id: NodeId;
  readonly peer: HostPort;
  readonly client: HostPort;
}

export interface NodeServerOptions {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  readonly dataDir: string;
  /** Where to listen; port 0 picks a free port (see `addresses`). */
  readonly peerListen: HostPort;
  readonly clientListen: HostPort;
  /** Every other node this one may talk to (members and nodes that may join). */
  readonly members: readonly MemberAddresses[];
  readonly raft: RaftConfig;
  readonly tickMs: number;
  readonly snapshotEntries: number;
  readonly keepaliveIntervalMs: number;
  /** An idle leader proposes an empty entry this often so log time (and expiry) advances. */
  readonly logTimeTickMs: number;
  readonly limits: ClusterLimits;
  readonly machine: LockMachineConfig;
  readonly clientLimits?: Partial<ClientConnectionLimits>;
  /** Client connections at once; one more is refused with TOO_MANY_CONNECTIONS. */
  readonly connectionsMax?: number;
  /** How long a request may wait for a leader or a forwarded answer before UNAVAILABLE. */
  readonly requestTimeoutMs?: number;
  readonly logger?: Logger;
  /** A write failed or an invariant broke: the node has stopped. Default: log it. */
  readonly onFatal?: (error: unknown) => void;
  readonly seed?: number;
}

interface InFlight {
  readonly connection: ClientConnection;
  readonly id: number;
  readonly op: ClientOp;
  readonly deadlineMs: number;
  /** A parked request is not retried before this time (after a failed forward). */
  notBeforeMs: number;
}

function formatAddress(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function eventName(event: WatchEvent): string {
  return 'key' in event ? event.key : event.lock;
}

/** After a failed forward (leader unreachable or no longer leading), wait this long to retry. */
const forwardRetryDelayMs = 50;

export class NodeServer implements ConnectionHost {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  readonly machine: LockMachineConfig;
  private readonly options: NodeServerOptions;
  private readonly log: Logger;
  private readonly core: ServerCore;
  private readonly driver: Driver<CoreOutput>;
  private readonly transport: TcpTransport;
  private readonly committer: GroupCommitter;
  private readonly clientServer: Server;
  private readonly forwards: ForwardPool;
  private readonly directory = new Map<NodeId, MemberAddresses>();
  private readonly connections = new Set<ClientConnection>();
  private readonly inflight = new Map<string, InFlight>();
  private parked: InFlight[] = [];
  private readonly clientLimits: ClientConnectionLimits;
  private readonly connectionsMax: number;
  private readonly requestTimeoutMs: number;
  private nextConnectionId = 1;
  private nextRequest = 1;
  private closing: Promise<void> | null = null;
  private fatalError: unknown = null;
  private seen: { role: Role; leader: NodeId | null; term: number; voters: string; learners: string };

  private constructor(
    options: NodeServerOptions,
    core: ServerCore,
    committer: GroupCommitter,
    transport: TcpTransport,
    clientServer: Server,
  ) {
    this.options = options;
    this.clusterId = options.clusterId;
    this.nodeId = options.nodeId;
    this.machine = options.machine;
    this.log = (options.logger ?? silentLogger).child(options.nodeId);
    this.core = core;
    this.committer = committer;
    this.transport = transport;
    this.clientServer = clientServer;
    this.clientLimits = { ...defaultClientConnectionLimits, ...options.clientLimits };
    this.connectionsMax = options.connectionsMax ?? 1024;
    this.requestTimeoutMs = options.requestTimeoutMs ?? Math.max(5000, options.raft.electionTicks * options.tickMs * 6);
    for (const member of options.members) this.directory.set(member.id, member);
    this.forwards = new ForwardPool({
      clusterId: this.clusterId,
      self: this.nodeId,
      frameBytesMax: this.clientLimits.frameBytesMax,
      timeoutMs: this.requestTimeoutMs,
    });
    const status = core.status();
    this.seen = {
      role: status.role,
      leader: status.leader,
      term: status.term,
      voters: status.conf.voters.join(','),
      learners: status.conf.learners.join(','),
    };
    this.driver = new Driver<CoreOutput>({
      node: core,
      log: committer,
      transport,
      tickIntervalMs: Math.max(5, Math.min(25, Math.floor(options.tickMs / 2))),
      onOutput: (output) => this.onOutput(output),
      onFatal: (error) => this.onFatal(error),
    });
    clientServer.on('connection', (socket) => this.accept(socket));
  }

  /** Opens the data directory, recovers, binds both ports and starts the node. */
  static async start(options: NodeServerOptions): Promise<NodeServer> {
    const logger = (options.logger ?? silentLogger).child(options.nodeId);
    const levelLog = await openLevelLog({
      dir: options.dataDir,
      clusterId: options.clusterId,
      nodeId: options.nodeId,
    });
    const committer = new GroupCommitter(levelLog);
    let transport: TcpTransport | null = null;
    try {
      const persisted = await committer.load();
      const seed = options.seed ?? randomInt(0, 2 ** 47);
      const created = ServerCore.create({
        raft: options.raft,
        persisted,
        rng: createRng(seed),
        createRaft: createRaftNode,
        tickMs: options.tickMs,
        logTimeTickMs: options.logTimeTickMs,
        snapshotEntries: options.snapshotEntries,
        nowMs: Math.floor(performance.now()),
        keepaliveIntervalMs: options.keepaliveIntervalMs,
        machine: options.machine,
      });
      if (!created.ok) throw new Error(`data directory ${options.dataDir}: ${created.error}`);
      const peers = new Map(options.members.filter((m) => m.id !== options.nodeId).map((m) => [m.id, m.peer] as const));
      transport = await TcpTransport.listen({
        nodeId: options.nodeId,
        clusterId: options.clusterId,
        listen: options.peerListen,
        peers,
        limits: {
          frameBytesMax: options.limits.frameBytesMax,
          sendQueueFramesMax: options.limits.sendQueueFramesMax,
          sendQueueBytesMax: options.limits.sendQueueBytesMax,
        },
        onEvent: (event) => logTransportEvent(logger, event),
      });
      const clientServer = createServer({ noDelay: true });
      await new Promise<void>((resolve, reject) => {
        clientServer.once('error', reject);
        clientServer.listen(options.clientListen.port, options.clientListen.host, () => {
          clientServer.off('error', reject);
          resolve();
        });
      });
      clientServer.on('error', (error) => logger.warn('client listener error', { error: describe(error) }));
      const server = new NodeServer(options, created.value, committer, transport, clientServer);
      const status = created.value.status();
      logger.info('node started', {
        peer: formatAddress(server.peerAddress),
        client: formatAddress(server.clientAddress),
        term: status.term,
        commit: status.commit,
        snapshot: status.snapshotIndex,
        lastIndex: status.lastIndex,
      });
      server.driver.start();
      return server;
    } catch (error) {
      await transport?.close();
      await committer.close().catch(() => undefined);
      throw error;
    }
  }

  // ---- addresses and views -----------------------------------------------------------------

  get peerAddress(): HostPort {
    return this.transport.address;
  }

  get clientAddress(): HostPort {
    const bound = this.clientServer.address();
    if (bound === null || typeof bound !== 'object') return this.options.clientListen;
    return { host: bound.address, port: bound.port };
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
    const s = this.core.status();
    const state = this.core.state;
    let waiters = 0;
    for (const lock of state.locks.values()) waiters += lock.waiting;
    const lag = s.role === 'leader' ? s.progress.filter((p) => p.id !== this.nodeId).map((p) => ({ id: p.id, behind: Math.max(0, s.lastIndex - p.match) })) : [];
    return {
      nodeId: this.nodeId,
      clusterId: this.clusterId,
      role: s.role,
      term: s.term,
      leader: s.leader,
      commit: s.commit,
      applied: this.core.host.applied,
      lastIndex: s.lastIndex,
      snapshotIndex: s.snapshotIndex,
      voters: s.conf.voters,
      learners: s.conf.learners,
      lag,
      sessions: state.sessions.size,
      locks: state.locks.size,
      waiters,
      connections: this.connections.size,
    };
  }

  private clientOf(id: NodeId): string | null {
    if (id === this.nodeId) return formatAddress(this.clientAddress);
    const member = this.directory.get(id);
    return member === undefined ? null : formatAddress(member.client);
  }

  private peerOf(id: NodeId): string {
    if (id === this.nodeId) return formatAddress(this.peerAddress);
    const member = this.directory.get(id);
    return member === undefined ? '' : formatAddress(member.peer);
  }

  private membersView(): MemberView[] {
    const conf = this.core.status().conf;
    const view = (id: NodeId, role: 'voter' | 'learner'): MemberView => ({ id, role, peer: this.peerOf(id), client: this.clientOf(id) ?? '' });
    return [...conf.voters.map((id) => view(id, 'voter')), ...conf.learners.map((id) => view(id, 'learner'))];
  }

  welcome(): Welcome {
    const conf = this.core.status().conf;
    const ids = conf.voters.length + conf.learners.length > 0 ? [...conf.voters, ...conf.learners] : [this.nodeId, ...this.directory.keys()];
    const members = ids.flatMap((id) => {
      const client = this.clientOf(id);
      return client === null ? [] : [{ id, client }];
    });
    return { type: 'Welcome', clusterId: this.clusterId, nodeId: this.nodeId, leader: this.core.status().leader, members };
  }

  // ---- connections -------------------------------------------------------------------------

  private accept(socket: Socket): void {
    if (this.closing !== null || this.connections.size >= this.connectionsMax) {
      const framed = new FramedSocket(socket, 1024, { onValue: () => undefined, onClose: () => undefined });
      const why = this.closing !== null ? 'this node is shutting down' : `this node serves at most ${this.connectionsMax} client connections`;
      this.log.warn('client connection refused', { remote: framed.remote, reason: why });
      framed.fail('TOO_MANY_CONNECTIONS', why);
      return;
    }
    const connection = new ClientConnection(this.nextConnectionId++, socket, this.clientLimits, this);
    this.connections.add(connection);
    this.log.debug('client connected', { connection: connection.id, remote: connection.framed.remote });
  }

  closed(connection: ClientConnection, reason: string): void {
    this.connections.delete(connection);
    this.log.debug('client disconnected', { connection: connection.id, reason });
  }

  request(connection: ClientConnection, id: number, op: ClientOp): void {
    switch (op.kind) {
      case 'command': {
        connection.clientIds.add(op.command.clientId);
        const inner = op.command.op;
        if (inner.type !== 'openSession') connection.sessions.add(inner.session);
        return this.submit({ connection, id, op, deadlineMs: this.now() + this.requestTimeoutMs, notBeforeMs: 0 });
      }
      case 'keepAlive':
        connection.clientIds.add(op.clientId);
        connection.sessions.add(op.session);
        return this.submit({ connection, id, op, deadlineMs: this.now() + this.requestTimeoutMs, notBeforeMs: 0 });
      case 'read':
      case 'transferLeader':
        return this.submit({ connection, id, op, deadlineMs: this.now() + this.requestTimeoutMs, notBeforeMs: 0 });
      case 'members':
        if (op.action === 'list') return connection.respond(id, { code: 'OK', value: { kind: 'members', members: this.membersView() } });
        if (op.node !== undefined && op.node !== this.nodeId && !this.directory.has(op.node) && op.action === 'addLearner') {
          const message = `node ${op.node} is not in this cluster's configuration; list it in cluster.yml with join: true first`;
          return connection.respond(id, { code: 'INVALID_ARGUMENT', message });
        }
        return this.submit({ connection, id, op, deadlineMs: this.now() + this.requestTimeoutMs, notBeforeMs: 0 });
      case 'watch':
        return this.startWatch(connection, id, op.prefix, op.fromIndex);
      case 'unwatch': {
        const existed = connection.watches.delete(op.watchId);
        if (!existed) return connection.respond(id, { code: 'INVALID_ARGUMENT', message: `no watch ${op.watchId} on this connection` });
        return connection.respond(id, { code: 'OK', value: { kind: 'unwatched', watchId: op.watchId } });
      }
      case 'status':
        return connection.respond(id, { code: 'OK', value: { kind: 'status', status: this.statusView() } });
      case 'snapshot':
        return connection.respond(id, {
          code: 'INVALID_ARGUMENT',
          message: 'this node takes snapshots by the policy in cluster.yml (snapshot.entries); on-demand snapshots are not offered',
        });
    }
  }

  private now(): number {
    return this.driver.now();
  }

  // ---- request flow ------------------------------------------------------------------------

  private submit(entry: InFlight): void {
    if (!entry.connection.isOpen) return;
    if (this.driver.isStopped) return entry.connection.respond(entry.id, unavailable('this node has stopped'));
    const requestId = `q${this.nextRequest++}`;
    this.inflight.set(requestId, entry);
    const { op } = entry;
    this.driver.guard(() => {
      switch (op.kind) {
        case 'command':
          return this.core.command(requestId, op.command);
        case 'keepAlive':
          return this.core.keepAlive(requestId, op.session as SessionId);
        case 'read':
          return this.core.read(requestId, op.query);
        case 'transferLeader':
          return this.core.transferLeadership(requestId, op.to);
        case 'members': {
          const node = op.node ?? this.nodeId;
          const change: ConfChange =
            op.action === 'addLearner' ? { type: 'addLearner', node } : op.action === 'promote' ? { type: 'promoteLearner', node } : { type: 'removeNode', node };
          return this.core.confChange(requestId, change);
        }
        default:
          this.inflight.delete(requestId);
          return entry.connection.respond(entry.id, { code: 'INVALID_ARGUMENT', message: `${op.kind} is answered locally` });
      }
    });
  }

  private finish(entry: InFlight, result: WireResult): void {
    if (result.code === 'NOT_LEADER') return this.notLeader(entry, result.leader);
    if (result.code === 'OK' && result.value.kind === 'session') entry.connection.sessions.add(result.value.session);
    entry.connection.respond(entry.id, result);
  }

  private notLeader(entry: InFlight, hint: NodeId | null): void {
    if (!entry.connection.isOpen) return;
    const leader = hint ?? this.core.status().leader;
    if (entry.connection.redirect) {
      const leaderClient = leader === null ? null : this.clientOf(leader);
      return entry.connection.respond(entry.id, { code: 'NOT_LEADER', message: `node ${this.nodeId} is not the leader`, leader, leaderClient });
    }
    const member = leader === null ? undefined : this.directory.get(leader);
    if (leader === null || leader === this.nodeId || member === undefined || entry.op.kind === 'read') {
      // No leader yet (or a read that needs one): wait for a leader, then try again here.
      this.parked.push(entry);
      return;
    }
    this.forwards.forward(leader, member.client, entry.op, (result) => {
      // The leader we knew is gone or no longer leads: until the deadline, wait for the cluster
      // to settle and try again (the same (clientId, seq), so a duplicate is harmless).
      const retry = result.code === 'NOT_LEADER' || result.code === 'UNAVAILABLE';
      if (retry && this.now() + forwardRetryDelayMs < entry.deadlineMs && !this.driver.isStopped) {
        entry.notBeforeMs = this.now() + forwardRetryDelayMs;
        this.parked.push(entry);
        this.scheduleUnpark();
        return;
      }
      this.finish(entry, result.code === 'NOT_LEADER' ? unavailable('no stable leader within the request timeout; retry') : result);
    });
  }

  /** Retry parked requests once a leader is known; give up on those past their deadline. */
  private unpark(): void {
    if (this.parked.length === 0) return;
    const now = this.now();
    const leader = this.core.status().leader;
    const parked = this.parked;
    this.parked = [];
    for (const entry of parked) {
      if (!entry.connection.isOpen) continue;
      if (now >= entry.deadlineMs) {
        entry.connection.respond(entry.id, unavailable('no leader within the request timeout; retry with the same (clientId, seq)'));
      } else if (leader === null || now < entry.notBeforeMs) {
        this.parked.push(entry);
      } else {
        this.submit(entry);
      }
    }
  }

  /** Parked requests are looked at after every drain; this makes sure one happens soon. */
  private scheduleUnpark(): void {
    const timer = setTimeout(() => this.driver.guard(() => undefined), forwardRetryDelayMs);
    timer.unref();
  }

  // ---- output ------------------------------------------------------------------------------

  private onOutput(output: CoreOutput): void {
    for (const reply of output.replies) {
      const entry = this.inflight.get(reply.requestId);
      if (entry === undefined) continue;
      this.inflight.delete(reply.requestId);
      this.finish(entry, reply.result);
    }
    if (output.notifications.length > 0) this.route(output.notifications);
    for (const snapshot of output.snapshots) {
      if (snapshot.kind === 'taken') this.log.info('took snapshot', { index: snapshot.index });
      else this.log.info('installed snapshot from the leader', { index: snapshot.index });
    }
    this.observeChanges();
    this.unpark();
  }

  private route(notifications: readonly Notification[]): void {
    const applied = this.core.host.applied;
    for (const n of notifications) {
      for (const connection of this.connections) {
        if (connection.isForwarder) continue;
        if (n.kind === 'event') {
          const name = eventName(n.event);
          for (const watch of connection.watches.values()) {
            if (n.event.index > watch.cursor && name.startsWith(watch.prefix)) connection.push({ kind: 'event', watchId: watch.id, event: n.event });
          }
        } else if (connection.clientIds.has(n.clientId) || (n.kind === 'sessionExpired' && connection.sessions.has(n.session))) {
          connection.push(n);
        }
      }
    }
    for (const connection of this.connections) {
      for (const watch of connection.watches.values()) watch.cursor = Math.max(watch.cursor, applied);
    }
  }

  private startWatch(connection: ClientConnection, id: number, prefix: string, fromIndex: number): void {
    const watchId = connection.newWatchId();
    if (watchId === null) return connection.respond(id, { code: 'UNAVAILABLE', message: 'too many watches on this connection' });
    const events: WatchEvent[] = [];
    let cursor: number = this.core.host.applied;
    if (fromIndex > 0) {
      let after = fromIndex;
      for (;;) {
        const page = eventsSince(this.core.state, prefix, after, 1000);
        if (page.code !== 'OK') return connection.respond(id, { code: page.code, message: page.message });
        for (const event of page.events) events.push(event);
        if (page.events.length === 0 || page.nextAfter <= after) break;
        after = page.nextAfter;
      }
      cursor = Math.max(after, cursor);
    }
    connection.watches.set(watchId, { id: watchId, prefix, cursor });
    // For "only new events" the answer names the index they start after, so a client can resume
    // from it after a reconnection without a gap.
    const startsAfter = fromIndex === 0 ? cursor : fromIndex;
    connection.respond(id, { code: 'OK', value: { kind: 'watching', watchId, fromIndex: startsAfter } });
    for (const event of events) connection.push({ kind: 'event', watchId, event });
  }

  private observeChanges(): void {
    const s = this.core.status();
    const voters = s.conf.voters.join(',');
    const learners = s.conf.learners.join(',');
    const seen = this.seen;
    if (s.role !== seen.role || s.leader !== seen.leader || s.term !== seen.term) {
      if (s.role === 'leader' && seen.role !== 'leader') this.log.info('became leader', { term: s.term });
      else if (s.role !== 'leader' && seen.role === 'leader') this.log.info('stepped down', { term: s.term, leader: s.leader });
      if (s.leader !== seen.leader) {
        this.log.info('leader changed', { term: s.term, leader: s.leader });
        this.forwards.retain(s.leader);
      } else if (s.role !== seen.role) {
        this.log.debug('role changed', { role: s.role, term: s.term });
      }
    }
    if (voters !== seen.voters || learners !== seen.learners) this.log.info('membership changed', { voters, learners });
    this.seen = { role: s.role, leader: s.leader, term: s.term, voters, learners };
  }

  private onFatal(error: unknown): void {
    this.fatalError = error;
    this.log.error('node stopped', { error: describe(error) });
    for (const reply of this.core.stopSafely(describe(error))) {
      const entry = this.inflight.get(reply.requestId);
      if (entry !== undefined) entry.connection.respond(entry.id, reply.result);
    }
    this.inflight.clear();
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
    this.clientServer.close();
    if (!this.driver.isStopped) await this.handOffLeadership();
    this.driver.flush();
    await this.driver.stop();
    const replies = this.fatalError === null ? this.core.stopSafely('this node is shutting down') : [];
    for (const reply of replies) {
      const entry = this.inflight.get(reply.requestId);
      if (entry !== undefined) entry.connection.respond(entry.id, reply.result);
    }
    for (const entry of this.parked) entry.connection.respond(entry.id, unavailable('this node is shutting down'));
    this.parked = [];
    this.forwards.close();
    for (const connection of [...this.connections]) connection.close('node shutting down');
    await this.transport.close();
    await this.committer.close().catch((error: unknown) => this.log.warn('closing the data directory failed', { error: describe(error) }));
    this.log.info('node stopped cleanly');
  }

  private async handOffLeadership(): Promise<void> {
    const s = this.core.status();
    if (s.role !== 'leader') return;
    const candidates = s.progress.filter((p) => p.id !== this.nodeId && s.conf.voters.includes(p.id)).sort((a, b) => b.match - a.match);
    const target = candidates[0];
    if (target === undefined) return;
    this.log.info('transferring leadership before shutdown', { to: target.id });
    this.driver.guard(() => this.core.transferLeadership(`shutdown/${this.nodeId}`, target.id));
    const deadline = this.now() + this.options.raft.electionTicks * this.options.tickMs * 2;
    while (this.now() < deadline && !this.driver.isStopped && this.core.status().role === 'leader') {
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
      return logger.warn('peer connection refused', { remote: event.remote, code: event.code, reason: event.message });
    case 'peerError':
      return logger.warn('peer refused us', { remote: event.remote, code: event.code, reason: event.message });
  }
}
