/**
 * Raft peer transport over TCP (node:net), in secure mode over TLS (node:tls). Each node listens
 * for its peers and keeps one outbound connection to each peer for what it sends; what it receives
 * arrives on the peers' outbound connections. One direction per connection keeps each side's state
 * machine small and lets a broken link heal from either end independently.
 *
 * Secure mode (`tls`): both directions present node certificates of the cluster's CA. The dialler
 * accepts only the certificate of the node it dialled; the acceptor reads nothing from a
 * connection before its TLS handshake proved a node identity, then requires the Hello to name that
 * same node, and a known peer. Every message on the link must come from that node.
 */
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { Message } from '../raft/messages.js';
import type { NodeId } from '../raft/types.js';
import { assert, assertNever } from '../util/assert.js';
import { backoffDelayMs } from './backoff.js';
import { describeDecodeError, encodeMessage, messageFromDecoded } from './codec.js';
import { encodeFrame, frameHeaderBytes } from './frame.js';
import { FramedSocket } from './framed-socket.js';
import type { ErrorFrame, WireErrorCode } from '../protocol/handshake.js';
import { asErrorFrame, checkHello, peerHelloFrame } from '../protocol/handshake.js';
import { InboundBudget } from './inbound-budget.js';
import { SendQueue } from './send-queue.js';
import { checkPeerCertificate, formatIdentity } from '../security/identity.js';
import type { TlsMaterial } from '../security/tls-material.js';
import { checkNodeServerIdentity, clientTlsOptions } from '../security/tls-material.js';
import { createReloadingTlsServer } from '../security/tls-server.js';
import type { PeerLinkStats, PeerTransport, UnreachableCause } from '../node/transport.js';
import { listenOn } from './listen.js';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/** Limits and pacing; every field has a default in `defaultTcpTransportLimits`. */
export interface TcpTransportLimits {
  /** Largest frame payload sent or accepted; larger messages are dropped before sending. */
  readonly frameBytesMax: number;
  /** Per-peer send queue bounds; the oldest frames are dropped beyond them. */
  readonly sendQueueFramesMax: number;
  readonly sendQueueBytesMax: number;
  /**
   * Stop writing to a socket while this many bytes wait in its user-space buffer. At least 64 KiB,
   * above the socket's high-water mark, so a stop is always followed by a 'drain' that resumes.
   */
  readonly socketBufferedBytesMax: number;
  readonly reconnectDelayMs: number;
  readonly reconnectDelayMaxMs: number;
  /** A connection must connect and complete its handshake (TLS and Hello) within this time. */
  readonly handshakeTimeoutMs: number;
  /**
   * Inbound connections that have not completed their handshake, at once (see inbound-budget.ts
   * for who gives way). Authenticated links are not counted here: there is one per known peer.
   */
  readonly inboundConnectionsMax: number;
  /** ... of them from one source address. */
  readonly inboundConnectionsPerSourceMax: number;
  /** Once a frame's first byte arrived, the whole frame within this (0 = no deadline). */
  readonly frameDeadlineMs: number;
  /**
   * Close an authenticated inbound link that delivered no frame for this long (0 = never, the
   * default): a link may rightly be silent for long (a follower sends nothing to another follower
   * while a third node leads), Raft's own timers judge whether a peer is alive, and an idle
   * authenticated link costs one socket per known peer at most.
   */
  readonly idleTimeoutMs: number;
}

export const defaultTcpTransportLimits: TcpTransportLimits = {
  frameBytesMax: 4 * 1024 * 1024,
  sendQueueFramesMax: 4096,
  sendQueueBytesMax: 16 * 1024 * 1024,
  socketBufferedBytesMax: 1024 * 1024,
  reconnectDelayMs: 50,
  reconnectDelayMaxMs: 2000,
  handshakeTimeoutMs: 5000,
  inboundConnectionsMax: 64,
  inboundConnectionsPerSourceMax: 8,
  frameDeadlineMs: 10_000,
  idleTimeoutMs: 0,
};

/** Observable link events, for logs and tests. A closed union. */
export type TransportEvent =
  | { readonly kind: 'connected'; readonly peer: NodeId }
  | { readonly kind: 'disconnected'; readonly peer: NodeId; readonly reason: string }
  /**
   * We refused a connection, or a message on it: an inbound TLS handshake, certificate or Hello,
   * an outbound peer that is not who we dialled, a budget exceeded, a message from another sender
   * than the link's. `remote` is the other end's address.
   */
  | ({ readonly kind: 'refused' } & ConnectionError)
  /** The other side sent us an Error frame before closing. */
  | ({ readonly kind: 'peerError' } & ConnectionError)
  /** A frame deadline or idle timeout closed a connection (`peer`: its node, if it had said). */
  | {
      readonly kind: 'timedOut';
      readonly remote: string;
      readonly peer: NodeId | null;
      readonly message: string;
    };

interface ConnectionError {
  readonly remote: string;
  readonly code: WireErrorCode;
  readonly message: string;
}

export interface TcpTransportOptions {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  /** Where to accept peer connections; port 0 picks a free port (see `address`). */
  readonly listen: PeerAddress;
  readonly peers?: ReadonlyMap<NodeId, PeerAddress>;
  readonly limits?: Partial<TcpTransportLimits>;
  /** Uniform [0, 1) source for backoff jitter; Math.random unless a test pins it. */
  readonly random?: () => number;
  readonly onEvent?: (event: TransportEvent) => void;
  /**
   * Secure mode: this node's certificate, the cluster's CA, and the key; reloads apply to new
   * connections. Absent: plaintext, no authentication beyond the Hello (insecure mode).
   */
  readonly tls?: TlsMaterial;
}

type LinkState = 'connecting' | 'open' | 'waiting' | 'closed';

/** The outbound side of one peer: a bounded queue and at most one connection at a time. */
class OutboundLink {
  state: LinkState = 'waiting';
  readonly queue: SendQueue;
  socket: FramedSocket | null = null;
  sentFrames = 0;
  droppedTooLarge = 0;
  attempt = 0;
  timer: NodeJS.Timeout | null = null;
  flushScheduled = false;

  constructor(
    readonly peer: NodeId,
    readonly address: PeerAddress,
    limits: TcpTransportLimits,
  ) {
    this.queue = new SendQueue({
      framesMax: limits.sendQueueFramesMax,
      bytesMax: limits.sendQueueBytesMax,
    });
  }

  stats(): PeerLinkStats {
    return {
      connected: this.state === 'open',
      queuedFrames: this.queue.length,
      queuedBytes: this.queue.bytes,
      sentFrames: this.sentFrames,
      droppedQueueFull: this.queue.dropped,
      droppedTooLarge: this.droppedTooLarge,
    };
  }
}

/**
 * An accepted connection. `framed` exists from the start in plaintext, and once the TLS handshake
 * is done in secure mode; `certNode` is the node its certificate proved; `peer` is known once its
 * Hello was accepted, and then it has left the unauthenticated budget.
 */
interface InboundLink {
  readonly raw: Socket;
  /** `address:port` of the other end. */
  readonly remote: string;
  /** The other end's address: what the per-source bound counts. */
  readonly source: string;
  framed: FramedSocket | null;
  certNode: NodeId | null;
  peer: NodeId | null;
  timer: NodeJS.Timeout | null;
  released: boolean;
}

export class TcpTransport implements PeerTransport {
  private readonly limits: TcpTransportLimits;
  private readonly links = new Map<NodeId, OutboundLink>();
  private readonly inbound = new Set<InboundLink>();
  /** Inbound connections not yet authenticated, by source, within their limits. */
  private readonly budget: InboundBudget<InboundLink>;
  /** Secure mode: the TLS side of the peer port. It never listens; `accept` hands it raw sockets. */
  private readonly tlsServer: TlsServer | null;
  /** Secure mode: connections in their TLS handshake, by `remote`, to find them when it completes. */
  private readonly inTlsHandshake = new Map<string, InboundLink>();
  /**
   * Every accepted socket (raw, and TLS on top) until it closed, including refused ones still
   * lingering for their Error frame to leave: `close` ends them all.
   */
  private readonly acceptedSockets = new Set<Socket>();
  private readonly messageHandlers: ((message: Message) => void)[] = [];
  private readonly unreachableHandlers: ((peer: NodeId, cause: UnreachableCause) => void)[] = [];
  private readonly random: () => number;
  private closing = false;

  private constructor(
    private readonly options: TcpTransportOptions,
    private readonly server: Server,
  ) {
    this.limits = { ...defaultTcpTransportLimits, ...options.limits };
    const { frameBytesMax, socketBufferedBytesMax } = this.limits;
    assert(frameBytesMax >= 1024, 'frameBytesMax below 1 KiB cannot carry an Error frame');
    this.random = options.random ?? Math.random;
    this.budget = new InboundBudget({
      total: this.limits.inboundConnectionsMax,
      perSource: this.limits.inboundConnectionsPerSourceMax,
    });
    this.tlsServer = options.tls === undefined ? null : this.createTlsSide(options.tls);
    server.on('connection', (socket) => this.accept(socket));
    assert(socketBufferedBytesMax >= 64 * 1024, 'socketBufferedBytesMax must be at least 64 KiB');
    // Once listening, a server error concerns one failed accept; never let it crash the process.
    server.on('error', () => undefined);
  }

  /** Starts listening and dialling the configured peers. Rejects if the address cannot be bound. */
  static async listen(options: TcpTransportOptions): Promise<TcpTransport> {
    const server = createServer({ noDelay: true });
    await listenOn(server, options.listen.host, options.listen.port);
    const transport = new TcpTransport(options, server);
    for (const [peer, address] of options.peers ?? new Map<NodeId, PeerAddress>()) {
      transport.addPeer(peer, address);
    }
    return transport;
  }

  /** The bound listen address (the real port when listening on port 0). */
  get address(): PeerAddress {
    const bound = this.server.address();
    assert(bound !== null && typeof bound === 'object', 'transport is not listening');
    return { host: bound.address, port: bound.port };
  }

  /** Whether links are TLS with node certificates (secure mode). */
  get secure(): boolean {
    return this.tlsServer !== null;
  }

  /**
   * Starts (or restarts, at a new address) the outbound link to `peer`, and from then on accepts
   * `peer`'s inbound connections: a node added by a membership change must be added here before
   * it can reach this node.
   */
  addPeer(peer: NodeId, address: PeerAddress): void {
    assert(peer !== this.options.nodeId, 'a node is not its own peer');
    const { port } = address;
    assert(Number.isInteger(port) && port >= 1 && port <= 65_535, () => `bad port ${port}`);
    if (this.closing) return;
    this.removePeer(peer);
    const link = new OutboundLink(peer, address, this.limits);
    this.links.set(peer, link);
    this.dial(link);
  }

  /** Stops talking to `peer`: drops its queue and closes both directions. */
  removePeer(peer: NodeId): void {
    const link = this.links.get(peer);
    if (link !== undefined) {
      this.links.delete(peer);
      this.stopLink(link);
    }
    for (const entry of [...this.inbound]) {
      if (entry.peer === peer || entry.certNode === peer) this.closeInbound(entry, 'peer removed');
    }
  }

  /**
   * Queues `message` for its peer. Dropped without a trace when the peer was never added or the
   * message does not come from this node (the receiver would refuse it and close the link).
   */
  send(message: Message): void {
    if (message.from !== this.options.nodeId) return;
    const link = this.links.get(message.to);
    if (link === undefined || link.state === 'closed') return;
    const frame = encodeFrame(encodeMessage(message));
    if (frame.byteLength - frameHeaderBytes > this.limits.frameBytesMax) {
      // The receiver would refuse it and drop the whole connection; better to lose one message.
      link.droppedTooLarge += 1;
      return;
    }
    link.queue.push(frame);
    if (link.state === 'open') this.scheduleFlush(link);
  }

  onMessage(handler: (message: Message) => void): void {
    this.messageHandlers.push(handler);
  }

  onUnreachable(handler: (peer: NodeId, cause: UnreachableCause) => void): void {
    this.unreachableHandlers.push(handler);
  }

  /** Per-peer counters, in the order peers were added. */
  stats(): ReadonlyMap<NodeId, PeerLinkStats> {
    return new Map([...this.links].map(([peer, link]) => [peer, link.stats()]));
  }

  /** Number of accepted connections currently handshaking or open. */
  get inboundConnections(): number {
    return this.inbound.size;
  }

  /** Number of accepted connections that have not completed their handshake (TLS and Hello). */
  get unauthenticatedConnections(): number {
    return this.budget.size;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const link of this.links.values()) this.stopLink(link);
    this.links.clear();
    for (const entry of [...this.inbound]) this.closeInbound(entry, 'transport closed');
    this.inbound.clear();
    for (const socket of this.acceptedSockets) socket.destroy();
    this.acceptedSockets.clear();
    // The TLS side never listened: closing it only ends its reload subscription.
    this.tlsServer?.close(() => undefined);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private emit(event: TransportEvent): void {
    this.options.onEvent?.(event);
  }

  private stopLink(link: OutboundLink): void {
    link.state = 'closed';
    if (link.timer !== null) clearTimeout(link.timer);
    link.timer = null;
    link.socket?.destroy('link stopped');
    link.socket = null;
    link.queue.clear();
  }

  // ---- outbound ----------------------------------------------------------------------------

  private dial(link: OutboundLink): void {
    if (this.closing || link.state === 'closed') return;
    link.state = 'connecting';
    const { host, port } = link.address;
    const socket = this.options.tls === undefined ? connect({ host, port }) : this.dialTls(link);
    const framed = new FramedSocket(
      socket,
      this.limits.frameBytesMax,
      {
        onValue: (value) => this.receiveOnOutbound(link, framed, value),
        onClose: (reason) => this.outboundClosed(link, framed, reason),
        onTimeout: (timeout) =>
          this.emit({ kind: 'timedOut', remote: framed.remote, peer: link.peer, message: timeout.message }),
      },
      { frameDeadlineMs: this.limits.frameDeadlineMs },
    );
    link.socket = framed;
    const { handshakeTimeoutMs } = this.limits;
    link.timer = setTimeout(() => framed.destroy('handshake timed out'), handshakeTimeoutMs);
    const hello = peerHelloFrame(this.options.clusterId, this.options.nodeId);
    socket.once(this.options.tls === undefined ? 'connect' : 'secureConnect', () => framed.writeValue(hello));
  }

  /**
   * A TLS connection to `link.peer` presenting this node's certificate. The server's certificate
   * must chain to the cluster's CA and prove exactly the node dialled; a failure of either is a
   * `refused` event (with why), then the usual backoff and redial.
   */
  private dialTls(link: OutboundLink): TLSSocket {
    const material = this.options.tls;
    assert(material !== undefined, 'dialTls in insecure mode');
    const { host, port } = link.address;
    const remote = `${host}:${port}`;
    const expect = { nodeId: link.peer };
    const socket = tlsConnect({
      host,
      port,
      ...clientTlsOptions(material, expect),
      checkServerIdentity: (_host, cert) => {
        const mismatch = checkNodeServerIdentity(cert, expect);
        if (mismatch !== undefined) {
          const message = `dialled ${link.peer} at ${remote}: ${mismatch.message}`;
          this.emit({ kind: 'refused', remote, code: 'UNAUTHENTICATED', message });
        }
        return mismatch;
      },
    });
    let secured = false;
    socket.once('secureConnect', () => {
      secured = true;
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      // Network failures are reported as unreachable; a certificate the CA did not sign, or an
      // expired one, is a refusal worth a log line. (Identity mismatches were reported above.)
      if (secured || isSystemError(error)) return;
      if (error.code === mismatchCode) return;
      const message = `dialled ${link.peer} at ${remote}: TLS handshake failed: ${error.message}`;
      this.emit({ kind: 'refused', remote, code: 'UNAUTHENTICATED', message });
    });
    return socket;
  }

  private receiveOnOutbound(link: OutboundLink, framed: FramedSocket, value: unknown): void {
    const refusal = asErrorFrame(value);
    if (refusal !== null) {
      this.peerError(framed, refusal);
      return;
    }
    if (link.state !== 'connecting') {
      const message = 'only Error frames may arrive on an outbound peer connection';
      this.refuse(framed, 'UNEXPECTED_FRAME', message);
      return;
    }
    const hello = checkHello(value, { clusterId: this.options.clusterId, accept: 'peer' });
    if (!hello.ok) {
      this.refuse(framed, hello.error.code, hello.error.message);
      return;
    }
    if (!('nodeId' in hello.value) || hello.value.nodeId !== link.peer) {
      const found = 'nodeId' in hello.value ? hello.value.nodeId : 'a client';
      const message = `dialled ${link.peer} at ${framed.remote} but found ${found}`;
      this.refuse(framed, 'UNKNOWN_PEER', message);
      return;
    }
    if (link.timer !== null) clearTimeout(link.timer);
    link.timer = null;
    link.state = 'open';
    link.attempt = 0;
    framed.socket.on('drain', () => this.scheduleFlush(link));
    this.emit({ kind: 'connected', peer: link.peer });
    this.scheduleFlush(link);
  }

  private outboundClosed(link: OutboundLink, framed: FramedSocket, reason: string): void {
    if (link.socket !== framed) return;
    link.socket = null;
    if (link.timer !== null) clearTimeout(link.timer);
    link.timer = null;
    if (link.state === 'closed' || this.closing) return;
    if (link.state === 'open') this.emit({ kind: 'disconnected', peer: link.peer, reason });
    link.state = 'waiting';
    const cause: UnreachableCause = framed.errorCode === 'ECONNREFUSED' ? 'refused' : 'lost';
    for (const handler of this.unreachableHandlers) handler(link.peer, cause);
    const delayMs = backoffDelayMs(
      link.attempt,
      { baseMs: this.limits.reconnectDelayMs, maxMs: this.limits.reconnectDelayMaxMs },
      this.random,
    );
    link.attempt += 1;
    link.timer = setTimeout(() => {
      link.timer = null;
      this.dial(link);
    }, delayMs);
  }

  /**
   * Writes happen once per event-loop turn, corked, so a burst of sends becomes one syscall. The
   * driver drains in an immediate, so the flush runs in the next loop iteration, after the
   * drain's own write has gone to the storage pool. Flushing at the end of the drain's tick
   * instead was measured: under contention, fewer handoffs with more CPU each (docs/benchmarks.md,
   * "Peer messages flushed one turn later").
   */
  private scheduleFlush(link: OutboundLink): void {
    if (link.flushScheduled) return;
    link.flushScheduled = true;
    setImmediate(() => {
      link.flushScheduled = false;
      this.flush(link);
    });
  }

  private flush(link: OutboundLink): void {
    const framed = link.socket;
    if (link.state !== 'open' || framed === null || framed.isFinished) return;
    framed.socket.cork();
    // Stop at the socket's buffer bound: a slow peer backs up into its own bounded queue only.
    while (framed.bufferedBytes < this.limits.socketBufferedBytesMax) {
      const frame = link.queue.shift();
      if (frame === undefined) break;
      framed.writeFrame(frame);
      link.sentFrames += 1;
    }
    framed.socket.uncork();
  }

  // ---- inbound -----------------------------------------------------------------------------

  /**
   * A new TCP connection. It enters the unauthenticated budget (or is refused, or pushes out an
   * older one: inbound-budget.ts) and must finish its handshake within handshakeTimeoutMs. In
   * plaintext it is framed at once; in secure mode it goes through the TLS handshake first, and
   * nothing it sends is read before that proved a certificate.
   */
  private accept(raw: Socket): void {
    this.track(raw);
    const source = raw.remoteAddress ?? '?';
    const entry: InboundLink = {
      raw,
      remote: `${source}:${raw.remotePort ?? '?'}`,
      source,
      framed: null,
      certNode: null,
      peer: null,
      timer: null,
      released: false,
    };
    // Plaintext: frames from the first byte, so even a refusal below gets its Error frame. TLS:
    // the TLS socket reports errors; this only keeps one on the raw socket from being unhandled.
    if (this.tlsServer === null) entry.framed = this.frame(entry, raw);
    else raw.on('error', () => undefined);
    raw.once('close', () => this.release(entry));
    if (this.closing) {
      this.closeInbound(entry, 'transport closed');
      return;
    }
    const admission = this.budget.admit(entry, source);
    if (!admission.admitted) {
      this.refuseInbound(entry, 'TOO_MANY_CONNECTIONS', admission.why);
      return;
    }
    this.inbound.add(entry);
    if (admission.evict !== null) {
      this.refuseInbound(admission.evict, 'TOO_MANY_CONNECTIONS', admission.why ?? 'too many connections');
    }
    const { handshakeTimeoutMs } = this.limits;
    entry.timer = setTimeout(() => {
      const what = entry.framed === null ? 'TLS handshake and Hello' : 'Hello';
      this.refuseInbound(entry, 'HANDSHAKE_TIMEOUT', `no ${what} within ${handshakeTimeoutMs} ms`);
    }, handshakeTimeoutMs);
    if (this.tlsServer !== null) {
      this.inTlsHandshake.set(entry.remote, entry);
      this.tlsServer.emit('connection', raw);
    }
  }

  private frame(entry: InboundLink, socket: Socket): FramedSocket {
    return new FramedSocket(
      socket,
      this.limits.frameBytesMax,
      {
        onValue: (value) => this.receiveOnInbound(entry, value),
        onClose: () => this.release(entry),
        onTimeout: (timeout) =>
          this.emit({ kind: 'timedOut', remote: entry.remote, peer: entry.peer, message: timeout.message }),
      },
      { frameDeadlineMs: this.limits.frameDeadlineMs },
    );
  }

  /**
   * The TLS side of the peer port. It asks for a client certificate without letting node:tls
   * drop a connection whose certificate fails: `secured` refuses those itself, before reading
   * anything, so every refusal is logged with the address and the reason and the dialler reads
   * why in an Error frame (node:tls would just reset the connection).
   */
  private createTlsSide(material: TlsMaterial): TlsServer {
    const server = createReloadingTlsServer(material, { requireClientCert: false });
    server.on('secureConnection', (socket: TLSSocket) => this.secured(socket));
    server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      const entry = this.inTlsHandshake.get(remoteOf(socket));
      // A connection that just went away (a port probe, a peer restarting) is no refusal.
      if (!isSystemError(error)) {
        const remote = entry?.remote ?? remoteOf(socket);
        const message = `TLS handshake failed: ${error.message}`;
        this.emit({ kind: 'refused', remote, code: 'UNAUTHENTICATED', message });
      }
      if (entry !== undefined) this.closeInbound(entry, 'TLS handshake failed');
    });
    return server;
  }

  /** The TLS handshake is done: the certificate must prove a node before any frame is read. */
  private secured(socket: TLSSocket): void {
    const remote = remoteOf(socket);
    const entry = this.inTlsHandshake.get(remote);
    this.inTlsHandshake.delete(remote);
    if (entry === undefined || entry.released) {
      socket.destroy();
      return;
    }
    // The TLS socket took over the raw socket's handle, but the raw socket is what the listener
    // counts (and waits for on close): end it with the TLS socket, after any Error frame lingered.
    socket.once('close', () => entry.raw.destroy());
    this.track(socket);
    entry.framed = this.frame(entry, socket);
    const check = checkPeerCertificate(socket);
    switch (check.kind) {
      case 'none':
        return this.refuseInbound(
          entry,
          'UNAUTHENTICATED',
          'no certificate: a peer connection must present its node certificate',
        );
      case 'refused':
        return this.refuseInbound(entry, 'UNAUTHENTICATED', check.reason);
      case 'verified': {
        const { identity } = check;
        if (identity.kind !== 'node') {
          const message = `${formatIdentity(identity)} may not open a peer connection: only node certificates can`;
          return this.refuseInbound(entry, 'UNAUTHENTICATED', message);
        }
        entry.certNode = identity.nodeId as NodeId;
        return;
      }
      default:
        return assertNever(check, 'certificate check');
    }
  }

  private receiveOnInbound(entry: InboundLink, value: unknown): void {
    const framed = entry.framed;
    assert(framed !== null, 'a frame before framing started');
    if (entry.peer === null) {
      this.acceptHello(entry, value);
      return;
    }
    const refusal = asErrorFrame(value);
    if (refusal !== null) {
      this.peerError(framed, refusal);
      return;
    }
    const decoded = messageFromDecoded(value);
    if (!decoded.ok) {
      this.refuse(framed, 'MALFORMED_FRAME', describeDecodeError(decoded.error));
      return;
    }
    const message = decoded.value;
    // The link speaks for its authenticated node only: a message claiming another sender (or
    // addressed elsewhere) is dropped, reported, and ends the link.
    if (message.from !== entry.peer || message.to !== this.options.nodeId) {
      const route = `${message.from} → ${message.to}`;
      const reason = `message ${route} on the connection from ${entry.peer}`;
      this.refuse(framed, 'UNEXPECTED_FRAME', reason);
      return;
    }
    for (const handler of this.messageHandlers) handler(message);
  }

  private acceptHello(entry: InboundLink, value: unknown): void {
    const hello = checkHello(value, { clusterId: this.options.clusterId, accept: 'peer' });
    if (!hello.ok) {
      this.refuseInbound(entry, hello.error.code, hello.error.message);
      return;
    }
    const peer = 'nodeId' in hello.value ? hello.value.nodeId : null;
    if (this.tlsServer !== null && (peer === null || peer !== entry.certNode)) {
      const message = `the certificate proves node ${String(entry.certNode)} but the Hello says ${String(peer)}`;
      this.refuseInbound(entry, 'UNAUTHENTICATED', message);
      return;
    }
    if (peer === null || peer === this.options.nodeId || !this.links.has(peer)) {
      const message = `${String(peer)} is not a peer of ${this.options.nodeId}`;
      this.refuseInbound(entry, 'UNKNOWN_PEER', message);
      return;
    }
    if (entry.timer !== null) clearTimeout(entry.timer);
    entry.timer = null;
    // A restarted peer dials again while its old connection may still look open: newest wins.
    for (const other of [...this.inbound]) {
      if (other !== entry && other.peer === peer) this.closeInbound(other, 'replaced by a newer connection');
    }
    entry.peer = peer;
    this.budget.remove(entry);
    const framed = entry.framed;
    assert(framed !== null, 'a Hello before framing started');
    if (this.limits.idleTimeoutMs > 0) framed.setIdleTimeout(this.limits.idleTimeoutMs);
    framed.writeValue(peerHelloFrame(this.options.clusterId, this.options.nodeId));
  }

  private track(socket: Socket): void {
    if (this.closing) return;
    this.acceptedSockets.add(socket);
    socket.once('close', () => this.acceptedSockets.delete(socket));
  }

  /** Refuses an inbound connection: reported, with an Error frame when it is framed yet. */
  private refuseInbound(entry: InboundLink, code: WireErrorCode, message: string): void {
    if (entry.released) return;
    this.emit({ kind: 'refused', remote: entry.remote, code, message });
    if (entry.framed !== null) entry.framed.fail(code, message);
    else entry.raw.destroy();
    this.release(entry);
  }

  private closeInbound(entry: InboundLink, reason: string): void {
    if (entry.framed !== null) entry.framed.destroy(reason);
    else entry.raw.destroy();
    this.release(entry);
  }

  /** Forgets an inbound connection; called on every way it ends, once or more. */
  private release(entry: InboundLink): void {
    if (entry.released) return;
    entry.released = true;
    if (entry.timer !== null) clearTimeout(entry.timer);
    entry.timer = null;
    this.inbound.delete(entry);
    this.budget.remove(entry);
    if (this.inTlsHandshake.get(entry.remote) === entry) this.inTlsHandshake.delete(entry.remote);
  }

  private peerError(framed: FramedSocket, refusal: ErrorFrame): void {
    const { code, message } = refusal;
    this.emit({ kind: 'peerError', remote: framed.remote, code, message });
    framed.destroy(`peer closed with ${code}: ${message}`);
  }

  private refuse(framed: FramedSocket, code: WireErrorCode, message: string): void {
    this.emit({ kind: 'refused', remote: framed.remote, code, message });
    framed.fail(code, message);
  }
}

/** The code a ServerIdentityError carries (src/security/tls-material.ts). */
const mismatchCode = 'ERR_RAFTLOCK_SERVER_IDENTITY';

/** A system error (`ECONNRESET`, `EPIPE`, ...): the network failed, nobody refused anything. */
function isSystemError(error: NodeJS.ErrnoException): boolean {
  return error.code !== undefined && error.code in osConstants.errno;
}

function remoteOf(socket: Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}
