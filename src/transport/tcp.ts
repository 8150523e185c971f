/**
 * Raft peer transport over TCP (node:net). Each node listens for its peers and keeps one outbound
 * connection to each peer for what it sends; what it receives arrives on the peers' outbound
 * connections. One direction per connection keeps each side's state machine small and lets a
 * broken link heal from either end independently.
 */
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { Message } from '../raft/messages.js';
import type { NodeId } from '../raft/types.js';
import { assert } from '../util/assert.js';
import { backoffDelayMs } from './backoff.js';
import { describeDecodeError, encodeMessage, messageFromDecoded } from './codec.js';
import { encodeFrame, frameHeaderBytes } from './frame.js';
import { FramedSocket } from './framed-socket.js';
import type { ErrorFrame, WireErrorCode } from './handshake.js';
import { asErrorFrame, checkHello, peerHelloFrame } from './handshake.js';
import { SendQueue } from './send-queue.js';
import type { PeerLinkStats, PeerTransport, UnreachableCause } from './transport.js';

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
  /** A connection must connect and complete its handshake within this time. */
  readonly handshakeTimeoutMs: number;
  /** Inbound connections at once (handshaking or open); more are refused. */
  readonly inboundConnectionsMax: number;
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
};

/** Observable link events, for logs and tests. A closed union. */
export type TransportEvent =
  | { readonly kind: 'connected'; readonly peer: NodeId }
  | { readonly kind: 'disconnected'; readonly peer: NodeId; readonly reason: string }
  /** We refused a connection (inbound hello, or an outbound peer that is not who we dialled). */
  | ({ readonly kind: 'refused' } & ConnectionError)
  /** The other side sent us an Error frame before closing. */
  | ({ readonly kind: 'peerError' } & ConnectionError);

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

/** An accepted connection; `peer` is known once its Hello was accepted. */
interface InboundLink {
  readonly socket: FramedSocket;
  peer: NodeId | null;
  timer: NodeJS.Timeout | null;
}

export class TcpTransport implements PeerTransport {
  private readonly limits: TcpTransportLimits;
  private readonly links = new Map<NodeId, OutboundLink>();
  private readonly inbound = new Set<InboundLink>();
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
    server.on('connection', (socket) => this.accept(socket));
    assert(socketBufferedBytesMax >= 64 * 1024, 'socketBufferedBytesMax must be at least 64 KiB');
    // Once listening, a server error concerns one failed accept; never let it crash the process.
    server.on('error', () => undefined);
  }

  /** Starts listening and dialling the configured peers. Rejects if the address cannot be bound. */
  static async listen(options: TcpTransportOptions): Promise<TcpTransport> {
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.listen.port, options.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
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
    for (const entry of this.inbound) {
      if (entry.peer === peer) entry.socket.destroy('peer removed');
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

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const link of this.links.values()) this.stopLink(link);
    this.links.clear();
    for (const entry of [...this.inbound]) entry.socket.destroy('transport closed');
    this.inbound.clear();
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

  private dial(link: OutboundLink): void {
    if (this.closing || link.state === 'closed') return;
    link.state = 'connecting';
    const socket = connect({ host: link.address.host, port: link.address.port });
    const framed = new FramedSocket(socket, this.limits.frameBytesMax, {
      onValue: (value) => this.receiveOnOutbound(link, framed, value),
      onClose: (reason) => this.outboundClosed(link, framed, reason),
    });
    link.socket = framed;
    const { handshakeTimeoutMs } = this.limits;
    link.timer = setTimeout(() => framed.destroy('handshake timed out'), handshakeTimeoutMs);
    const hello = peerHelloFrame(this.options.clusterId, this.options.nodeId);
    socket.once('connect', () => framed.writeValue(hello));
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

  /** Writes happen once per event-loop turn, corked, so a burst of sends becomes one syscall. */
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

  private accept(socket: Socket): void {
    const entry: InboundLink = {
      socket: new FramedSocket(socket, this.limits.frameBytesMax, {
        onValue: (value) => this.receiveOnInbound(entry, value),
        onClose: () => {
          if (entry.timer !== null) clearTimeout(entry.timer);
          this.inbound.delete(entry);
        },
      }),
      peer: null,
      timer: null,
    };
    if (this.closing) {
      entry.socket.destroy('transport closed');
      return;
    }
    if (this.inbound.size >= this.limits.inboundConnectionsMax) {
      const message = `more than ${this.limits.inboundConnectionsMax} inbound connections`;
      this.refuse(entry.socket, 'TOO_MANY_CONNECTIONS', message);
      return;
    }
    this.inbound.add(entry);
    const { handshakeTimeoutMs } = this.limits;
    entry.timer = setTimeout(() => {
      this.refuse(entry.socket, 'HANDSHAKE_TIMEOUT', `no Hello within ${handshakeTimeoutMs} ms`);
    }, handshakeTimeoutMs);
  }

  private receiveOnInbound(entry: InboundLink, value: unknown): void {
    if (entry.peer === null) {
      this.acceptHello(entry, value);
      return;
    }
    const refusal = asErrorFrame(value);
    if (refusal !== null) {
      this.peerError(entry.socket, refusal);
      return;
    }
    const decoded = messageFromDecoded(value);
    if (!decoded.ok) {
      this.refuse(entry.socket, 'MALFORMED_FRAME', describeDecodeError(decoded.error));
      return;
    }
    const message = decoded.value;
    if (message.from !== entry.peer || message.to !== this.options.nodeId) {
      const route = `${message.from} → ${message.to}`;
      const reason = `message ${route} on the connection from ${entry.peer}`;
      this.refuse(entry.socket, 'UNEXPECTED_FRAME', reason);
      return;
    }
    for (const handler of this.messageHandlers) handler(message);
  }

  private acceptHello(entry: InboundLink, value: unknown): void {
    const hello = checkHello(value, { clusterId: this.options.clusterId, accept: 'peer' });
    if (!hello.ok) {
      this.refuse(entry.socket, hello.error.code, hello.error.message);
      return;
    }
    const peer = 'nodeId' in hello.value ? hello.value.nodeId : null;
    if (peer === null || peer === this.options.nodeId || !this.links.has(peer)) {
      const message = `${String(peer)} is not a peer of ${this.options.nodeId}`;
      this.refuse(entry.socket, 'UNKNOWN_PEER', message);
      return;
    }
    if (entry.timer !== null) clearTimeout(entry.timer);
    entry.timer = null;
    // A restarted peer dials again while its old connection may still look open: newest wins.
    for (const other of this.inbound) {
      if (other !== entry && other.peer === peer) {
        other.socket.destroy('replaced by a newer connection');
      }
    }
    entry.peer = peer;
    entry.socket.writeValue(peerHelloFrame(this.options.clusterId, this.options.nodeId));
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
