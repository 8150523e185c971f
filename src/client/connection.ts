import type { Socket } from 'node:net';
import { connect as netConnect } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { clientHelloFrame } from '../protocol/handshake.js';
import { encodePayload } from '../transport/codec.js';
import { RaftlockError } from './errors.js';
import { encodeFrame } from '../transport/frame.js';
import { FramedSocket } from '../transport/framed-socket.js';
import type { ClientTls } from './client-pki.js';
import type { CancelTimer, ClientClock } from './clock.js';
import type { ClientOp, HelloAuth, PushEvent, ServerFrame, Welcome, WireResult } from '../protocol/client-protocol.js';
import { decodeServerFrame } from '../protocol/client-protocol.js';
import { assertNever } from '../util/assert.js';
import { certificateErrorCodes, connectTls, plaintextPeerErrorCodes, provenNodeId } from './tls-connect.js';

/** Why a connection attempt or an in-flight request failed at the transport level. */
export class ConnectionLost extends Error {
  override readonly name = 'ConnectionLost';
  /**
   * `fatal`: the node refused us for good (cluster id or protocol mismatch, no TLS): do not retry
   * it. `unauthenticated`: a side refused the other's identity (the node our credentials, or we
   * the node's certificate): a definite answer, reported to the caller, never retried.
   */
  constructor(
    message: string,
    readonly fatal: boolean = false,
    readonly unauthenticated: boolean = false,
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
  /** null: plaintext (an insecure cluster). */
  readonly tls: ClientTls | null;
  /** Proved in the Hello; null when a certificate (or nothing, when insecure) is all we have. */
  readonly auth: HelloAuth | null;
  readonly onPush: (push: PushEvent) => void;
  /** Called once when an established connection ends (not when opening fails). */
  readonly onClose: (reason: string) => void;
}

/** `host:port` → its parts; the host may be a bracketed IPv6 literal. */
export function splitAddress(address: string): { readonly host: string; readonly port: number } | null {
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(address);
  if (match === null) return null;
  const port = Number(match[2]);
  if (port < 1 || port > 65535 || match[1] === undefined || match[1] === '') return null;
  return { host: match[1], port };
}

/** Why a connection closed before its Welcome, classified for the retry decision. */
function openFailure(address: string, reason: string, errorCode: string | null, secure: boolean): ConnectionLost {
  if (errorCode !== null && certificateErrorCodes.has(errorCode)) {
    const hint = 'check that tls.ca (--ca) is the cluster CA and the client certificate is from it';
    return new ConnectionLost(`TLS with ${address} failed: ${reason} (${hint})`, true, true);
  }
  if (secure && errorCode !== null && plaintextPeerErrorCodes.has(errorCode)) {
    const hint = 'an insecure cluster? connect with tls: false (the CLI: --insecure)';
    return new ConnectionLost(`${address} does not speak TLS: ${reason} (${hint})`, true);
  }
  // A node answers every Hello, with a Welcome or an Error frame; closing without a word is
  // what a TLS listener does to a plaintext Hello.
  const silent = !secure && errorCode === null;
  const hint = silent ? ' (a secure cluster? give its CA: tls.ca, --ca or $RAFTLOCK_PKI)' : '';
  return new ConnectionLost(`cannot connect to ${address}: ${reason}${hint}`);
}

/** Why the node's certificate does not back its Welcome, or null when it does. */
function wrongNode(socket: TLSSocket, welcomeNode: string): string | null {
  const proven = provenNodeId(socket);
  if (proven === welcomeNode) return null;
  return `says it is node ${welcomeNode} but its certificate is node ${String(proven)}'s`;
}

interface Pending {
  readonly resolve: (result: WireResult) => void;
  readonly reject: (error: ConnectionLost) => void;
}

/**
 * A connection that sent nothing for this long sends a `whoami`, the cheapest request. A node
 * closes a connection that sent it no frame for its idle timeout (cluster.yml
 * `limits.connectionIdleTimeout`, 5 min by default and never under 1 min), and a client that only
 * watches, or is idle between calls, must not be cut off and reconnect again and again.
 */
export const idlePingMs = 30_000;

/**
 * One connection to one node: Hello, Welcome, then requests matched to responses by id. A lost
 * connection rejects every request in flight with ConnectionLost; what to retry is the caller's
 * decision, since only it knows which requests are idempotent (commands carry their seq).
 */
export class Connection {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private lastSentMs: number;
  private cancelPing: CancelTimer | null = null;

  private constructor(
    readonly address: string,
    readonly welcome: Welcome,
    private readonly framed: FramedSocket,
    private readonly frameBytesMax: number,
    private readonly clock: ClientClock,
  ) {
    this.lastSentMs = clock.nowMs();
    this.armPing(idlePingMs);
  }

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
      const secure = options.tls !== null;
      const socket: Socket =
        options.tls === null
          ? netConnect({ host: parts.host, port: parts.port })
          : connectTls(parts.host, parts.port, options.tls);
      const framed = new FramedSocket(socket, options.frameBytesMax, {
        onValue(value) {
          const decoded = decodeServerFrame(value);
          if (!decoded.ok) {
            // A frame the one decoder refuses is not half-read: the connection ends, calls in
            // flight are retried elsewhere.
            if (connection !== null) {
              framed.destroy(`${address} sent a frame the client does not understand: ${decoded.error}`);
            } else {
              fail(new ConnectionLost(`${address} did not answer the Hello with a Welcome: ${decoded.error}`));
            }
            return;
          }
          const frame = decoded.value;
          if (connection !== null) {
            connection.receive(frame, options);
            return;
          }
          if (frame.type === 'Welcome') {
            const impostor = secure ? wrongNode(socket as TLSSocket, frame.nodeId) : null;
            if (impostor !== null) {
              fail(new ConnectionLost(`${address} ${impostor}`, true, true));
              return;
            }
            settled = true;
            cancelTimer();
            connection = new Connection(address, frame, framed, options.frameBytesMax, options.clock);
            resolve(connection);
          } else if (frame.type === 'Error') {
            const fatal = frame.code === 'CLUSTER_MISMATCH' || frame.code === 'VERSION_MISMATCH';
            const message = `${address} refused the connection: ${frame.code}: ${frame.message}`;
            fail(new ConnectionLost(message, fatal, frame.code === 'UNAUTHENTICATED'));
          } else {
            fail(new ConnectionLost(`${address} did not answer the Hello with a Welcome`));
          }
        },
        onClose(reason) {
          if (connection !== null) connection.finish(reason, options);
          else fail(openFailure(address, reason, framed.errorCode, secure));
        },
      });
      const cancelTimer = options.clock.setTimer(() => {
        const message = `${address} did not welcome us within ${options.connectTimeoutMs} ms`;
        fail(new ConnectionLost(message));
      }, options.connectTimeoutMs);
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        const hello = clientHelloFrame(options.clusterId, options.clientName);
        framed.writeValue(options.auth === null ? hello : { ...hello, auth: options.auth });
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
    const payload = encodePayload({ type: 'Request', id, op });
    if (payload.byteLength > this.frameBytesMax) {
      // The node would drop the connection, leaving the outcome unknown: refuse it here, definitely.
      const message = `the request is ${payload.byteLength} bytes, over the frame limit of ${this.frameBytesMax} bytes (frameBytesMax)`;
      return Promise.reject(new RaftlockError('INVALID_ARGUMENT', message));
    }
    this.lastSentMs = this.clock.nowMs();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.framed.writeFrame(encodeFrame(payload));
    });
  }

  /** Pings when nothing was sent for `idlePingMs`; re-arms for the rest of the period otherwise. */
  private armPing(delayMs: number): void {
    this.cancelPing = this.clock.setTimer(() => {
      if (this.closed) return;
      const silentMs = this.clock.nowMs() - this.lastSentMs;
      if (silentMs >= idlePingMs) {
        // The answer says nothing new; a lost connection is noticed by whoever uses it next.
        this.request({ kind: 'whoami' }).catch(() => undefined);
        this.armPing(idlePingMs);
      } else {
        this.armPing(idlePingMs - silentMs);
      }
    }, delayMs);
  }

  close(): void {
    this.framed.destroy('closed by the client');
  }

  private receive(frame: ServerFrame, options: ConnectionOptions): void {
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
      default:
        assertNever(frame, 'server frame');
    }
  }

  private finish(reason: string, options: ConnectionOptions): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelPing?.();
    const error = new ConnectionLost(`connection to ${this.address} lost: ${reason}`);
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const waiting of pending) waiting.reject(error);
    options.onClose(reason);
  }
}
