/**
 * Several nodes' transports in one process, for tests and single-process demos. Messages go through
 * the real codec (encode, then decode and validate), so what a node receives here is exactly what
 * it would receive over TCP, including private copies of entry data; delivery is asynchronous
 * (one macrotask later), so a handler never runs inside the sender's call stack.
 */
import type { Message } from '../raft/messages.js';
import type { NodeId } from '../raft/types.js';
import { assert } from '../util/assert.js';
import { decodeMessage, encodeMessage } from './codec.js';
import type { PeerTransport, UnreachableCause } from '../node/transport.js';

export interface InProcessHubOptions {
  /** Messages whose encoding exceeds this are dropped, as TCP would. */
  readonly frameBytesMax: number;
}

/** Counters across the whole hub. */
export interface InProcessHubStats {
  readonly delivered: number;
  readonly dropped: number;
}

/** Connects in-process transports by node id; links can be cut to model partitions. */
export class InProcessHub {
  private readonly endpoints = new Map<NodeId, InProcessTransport>();
  private readonly cutLinks = new Set<string>();
  private delivered = 0;
  private dropped = 0;

  constructor(private readonly options: InProcessHubOptions = { frameBytesMax: 4 * 1024 * 1024 }) {}

  /** Registers `node`; its transport reaches every other registered node. */
  join(node: NodeId): InProcessTransport {
    assert(!this.endpoints.has(node), () => `${node} already joined the hub`);
    const transport = new InProcessTransport(node, this);
    this.endpoints.set(node, transport);
    return transport;
  }

  /** Cuts (`down`) or restores (`up`) the one-way link `from → to`. */
  setLink(from: NodeId, to: NodeId, state: 'up' | 'down'): void {
    const key = `${from}\u0000${to}`;
    if (state === 'up') this.cutLinks.delete(key);
    else this.cutLinks.add(key);
  }

  stats(): InProcessHubStats {
    return { delivered: this.delivered, dropped: this.dropped };
  }

  /** @internal Routes one message; called by InProcessTransport.send. */
  route(sender: InProcessTransport, message: Message): void {
    const target = this.endpoints.get(message.to);
    const linkUp = !this.cutLinks.has(`${message.from}\u0000${message.to}`);
    const payload = encodeMessage(message);
    const forged = message.from !== sender.node;
    const tooLarge = payload.byteLength > this.options.frameBytesMax;
    if (target === undefined || !linkUp || forged || tooLarge) {
      this.dropped += 1;
      // No endpoint at all is a node that is not running: what a refused TCP connection says.
      const cause: UnreachableCause = target === undefined ? 'refused' : 'lost';
      setImmediate(() => sender.reportUnreachable(message.to, cause));
      return;
    }
    setImmediate(() => {
      const decoded = decodeMessage(payload);
      if (!decoded.ok || !target.deliver(decoded.value)) {
        this.dropped += 1;
        return;
      }
      this.delivered += 1;
    });
  }

  /** @internal */
  leave(node: NodeId): void {
    this.endpoints.delete(node);
  }
}

/** One node's endpoint on an InProcessHub. */
export class InProcessTransport implements PeerTransport {
  private readonly messageHandlers: ((message: Message) => void)[] = [];
  private readonly unreachableHandlers: ((peer: NodeId, cause: UnreachableCause) => void)[] = [];
  private closed = false;

  constructor(
    readonly node: NodeId,
    private readonly hub: InProcessHub,
  ) {}

  send(message: Message): void {
    if (this.closed) return;
    this.hub.route(this, message);
  }

  onMessage(handler: (message: Message) => void): void {
    this.messageHandlers.push(handler);
  }

  onUnreachable(handler: (peer: NodeId, cause: UnreachableCause) => void): void {
    this.unreachableHandlers.push(handler);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.hub.leave(this.node);
  }

  /** @internal Returns false when this endpoint is closed and the message was dropped. */
  deliver(message: Message): boolean {
    if (this.closed) return false;
    for (const handler of this.messageHandlers) handler(message);
    return true;
  }

  /** @internal */
  reportUnreachable(peer: NodeId, cause: UnreachableCause): void {
    if (this.closed) return;
    for (const handler of this.unreachableHandlers) handler(peer, cause);
  }
}
