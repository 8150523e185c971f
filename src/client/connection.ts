import { connect as netConnect } from 'node:net';
import { clientHelloFrame } from '../transport/handshake.js';
import { FramedSocket } from '../transport/framed-socket.js';
import type { ClientClock } from './clock.js';
import type { ClientOp, PushEvent, Welcome, WireResult } from './protocol.js';
import { parseIncoming } from './protocol.js';

/** Why a connection attempt or an in-flight request failed at the transport level. */
export class ConnectionLost extends Error {
  override readonly name = 'ConnectionLost';
  /** Set when the node refused us for good (cluster id or protocol mismatch): do not retry it. */
  constructor(
    message: string,
    readonly fatal: boolean = false,
  ) {
    super(message);
  }
}

export interface ConnectionOptions {
  readonly clusterId: string;
  readonly clientName: string;
  readonly frameBytesMax: number;
  readonly connectTimeoutMs: number;
  readonly clock: ClientClock;
  readonly onPush: (push: PushEvent) => void;
  /** Called once when an established connection ends (not when opening fails). */
  readonly onClose: (reason: string) => void;
}

/** `host:port` → its parts; the host may be a bracketed IPv6 literal. */
export function splitAddress(
  address: string,
): { readonly host: string; readonly port: number } | null {
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(address);
  if (match === null) return null;
  const port = Number(match[2]);
  if (port < 1 || port > 65535 || match[1] === undefined || match[1] === '') return null;
  return { host: match[1], port };
}

interface Pending {
  readonly resolve: (result: WireResult) => void;
  readonly reject: (error: ConnectionLost) => void;
}

/**
 * One connection to one node: Hello, Welcome, then requests matched to responses by id. A lost
 * connection rejects every request in flight with ConnectionLost; what to retry is the caller's
 * decision, since only it knows which requests are idempotent (commands carry their seq).
 */
export class Connection {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  private constructor(
    readonly address: string,
    readonly welcome: Welcome,
    private readonly framed: FramedSocket,
  ) {}

  static open(address: string, options: ConnectionOptions): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const parts = splitAddress(address);
      if (parts === null) {
        reject(new ConnectionLost(`${JSON.stringify(address)} is not a host:port address`, true));
        return;
      }
      let connection: Connection | null = null;
      let settled = false;
      const fail = (error: ConnectionLost): void => {
        if (settled) return;
        settled = true;
        cancelTimer();
        framed.destroy(error.message);
        reject(error);
      };
      const socket = netConnect({ host: parts.host, port: parts.port });
      const framed = new FramedSocket(socket, options.frameBytesMax, {
        onValue(value) {
          const frame = parseIncoming(value);
          if (connection !== null) {
            connection.receive(frame, options);
            return;
          }
          if (frame?.type === 'Welcome') {
            settled = true;
            cancelTimer();
            connection = new Connection(address, frame, framed);
            resolve(connection);
          } else if (frame?.type === 'Error') {
            const fatal = frame.code === 'CLUSTER_MISMATCH' || frame.code === 'VERSION_MISMATCH';
            const message = `${address} refused the connection: ${frame.code}: ${frame.message}`;
            fail(new ConnectionLost(message, fatal));
          } else {
            fail(new ConnectionLost(`${address} did not answer the Hello with a Welcome`));
          }
        },
        onClose(reason) {
          if (connection !== null) connection.finish(reason, options);
          else fail(new ConnectionLost(`cannot connect to ${address}: ${reason}`));
        },
      });
      const cancelTimer = options.clock.setTimer(
        () => {
          const message = `${address} did not welcome us within ${options.connectTimeoutMs} ms`;
          fail(new ConnectionLost(message));
        },
        options.connectTimeoutMs,
      );
      socket.once('connect', () => {
        framed.writeValue(clientHelloFrame(options.clusterId, options.clientName));
      });
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends one request; resolves with its result, rejects with ConnectionLost. */
  request(op: ClientOp): Promise<WireResult> {
    if (this.closed) {
      return Promise.reject(new ConnectionLost(`connection to ${this.address} is closed`));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.framed.writeValue({ type: 'Request', id, op });
    });
  }

  close(): void {
    this.framed.destroy('closed by the client');
  }

  private receive(frame: ReturnType<typeof parseIncoming>, options: ConnectionOptions): void {
    if (frame === null) {
      this.framed.destroy(`${this.address} sent a frame the client does not understand`);
      return;
    }
    switch (frame.type) {
      case 'Response': {
        const waiting = this.pending.get(frame.id);
        if (waiting === undefined) return;
        this.pending.delete(frame.id);
        waiting.resolve(frame.result);
        return;
      }
      case 'Push':
        options.onPush(frame.push);
        return;
      case 'Error':
        this.framed.destroy(`${frame.code}: ${frame.message}`);
        return;
      case 'Welcome':
        this.framed.destroy(`${this.address} sent a second Welcome`);
        return;
    }
  }

  private finish(reason: string, options: ConnectionOptions): void {
    if (this.closed) return;
    this.closed = true;
    const error = new ConnectionLost(`connection to ${this.address} lost: ${reason}`);
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const waiting of pending) waiting.reject(error);
    options.onClose(reason);
  }
}
