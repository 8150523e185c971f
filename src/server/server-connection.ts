/**
 * One client connection on a node's client port: the Hello/Welcome handshake (with a deadline),
 * then Request frames checked at the door and handed to the server, with per-connection bounds
 * (outstanding requests, watches) and a bound on unread output (a client that stops reading is
 * disconnected instead of growing the node's memory). Nothing a client sends can throw here.
 */
import type { Socket } from 'node:net';
import type { LockMachineConfig } from '../statemachine/config.js';
import type {
  ClientHello,
  ClientOp,
  PushEvent,
  WireResult,
  Welcome,
} from '../transport/client-protocol.js';
import {
  checkClientHello,
  requestEnvelope,
  unavailable,
  validateOp,
} from '../transport/client-protocol.js';
import { FramedSocket } from '../transport/framed-socket.js';
import { forwardClientPrefix } from './server-forward.js';

export interface ClientConnectionLimits {
  /** Largest frame a client may send. */
  readonly frameBytesMax: number;
  /** Requests without a response yet; one more is answered UNAVAILABLE. */
  readonly requestsOutstandingMax: number;
  readonly watchesMax: number;
  /** The Hello must arrive within this time. */
  readonly handshakeTimeoutMs: number;
  /** Output waiting for a client that does not read; beyond it the connection is closed. */
  readonly unreadBytesMax: number;
}

export const defaultClientConnectionLimits: ClientConnectionLimits = {
  frameBytesMax: 2 * 1024 * 1024,
  requestsOutstandingMax: 1024,
  watchesMax: 64,
  handshakeTimeoutMs: 5000,
  unreadBytesMax: 16 * 1024 * 1024,
};

export interface ConnectionHost {
  readonly clusterId: string;
  readonly machine: LockMachineConfig;
  welcome(): Welcome;
  request(connection: ClientConnection, id: number, op: ClientOp): void;
  closed(connection: ClientConnection, reason: string): void;
}

/** A live watch: events on names starting with `prefix`, after log index `cursor`. */
export interface Watch {
  readonly id: number;
  readonly prefix: string;
  cursor: number;
}

export class ClientConnection {
  readonly framed: FramedSocket;
  hello: ClientHello | null = null;
  /** Client ids and sessions seen in this connection's requests: where notifications go. */
  readonly clientIds = new Set<string>();
  readonly sessions = new Set<number>();
  readonly watches = new Map<number, Watch>();
  private readonly outstanding = new Set<number>();
  private timer: NodeJS.Timeout | null;
  private nextWatchId = 1;

  constructor(
    readonly id: number,
    socket: Socket,
    private readonly limits: ClientConnectionLimits,
    private readonly host: ConnectionHost,
  ) {
    this.framed = new FramedSocket(socket, limits.frameBytesMax, {
      onValue: (value) => this.receive(value),
      onClose: (reason) => this.onClose(reason),
    });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.framed.fail('HANDSHAKE_TIMEOUT', `no Hello within ${limits.handshakeTimeoutMs} ms`);
    }, limits.handshakeTimeoutMs);
  }

  get redirect(): boolean {
    return this.hello?.redirect === true;
  }

  /** A forwarding node's connection: it relays responses only, so pushes would be wasted. */
  get isForwarder(): boolean {
    return this.hello?.client.startsWith(forwardClientPrefix) === true;
  }

  get isOpen(): boolean {
    return !this.framed.isFinished;
  }

  get outstandingCount(): number {
    return this.outstanding.size;
  }

  newWatchId(): number | null {
    if (this.watches.size >= this.limits.watchesMax) return null;
    return this.nextWatchId++;
  }

  respond(id: number, result: WireResult): void {
    if (!this.outstanding.delete(id)) return;
    this.send({ type: 'Response', id, result });
  }

  push(push: PushEvent): void {
    this.send({ type: 'Push', push });
  }

  close(reason: string): void {
    this.framed.destroy(reason);
  }

  private send(frame: unknown): void {
    if (this.framed.isFinished) return;
    this.framed.writeValue(frame);
    if (this.framed.bufferedBytes > this.limits.unreadBytesMax) {
      const unread = this.framed.bufferedBytes;
      this.framed.destroy(`the client reads too slowly (${unread} bytes unread)`);
    }
  }

  private receive(value: unknown): void {
    if (this.hello === null) return this.receiveHello(value);
    const envelope = requestEnvelope(value);
    if (!envelope.ok) return this.framed.fail('UNEXPECTED_FRAME', envelope.message);
    const id = envelope.id;
    if (this.outstanding.has(id)) {
      // The earlier request with this id keeps its slot; this one is refused without one.
      const message = `request id ${id} is already outstanding`;
      this.send({ type: 'Response', id, result: { code: 'INVALID_ARGUMENT', message } });
      return;
    }
    this.outstanding.add(id);
    if (this.outstanding.size > this.limits.requestsOutstandingMax) {
      const max = this.limits.requestsOutstandingMax;
      const message = `more than ${max} requests outstanding on this connection; wait for answers`;
      return this.respond(id, unavailable(message));
    }
    const op = validateOp(envelope.op, this.host.machine);
    if (!op.ok) return this.respond(id, { code: 'INVALID_ARGUMENT', message: op.error });
    this.host.request(this, id, op.value);
  }

  private receiveHello(value: unknown): void {
    const hello = checkClientHello(value, this.host.clusterId);
    if (!hello.ok) return this.framed.fail(hello.error.code, hello.error.message);
    this.hello = hello.value;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.send(this.host.welcome());
  }

  private onClose(reason: string): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.outstanding.clear();
    this.host.closed(this, reason);
  }
}
