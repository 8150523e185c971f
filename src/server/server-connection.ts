/**
 * One client connection on a node's client port: the Hello/Welcome handshake (with a deadline;
 * on a secure node the Hello must authenticate), then Request frames checked at the door and
 * handed to the server, with per-connection bounds (outstanding requests, watches) and a bound on
 * unread output in bytes (client-output.ts: a client that stops reading is disconnected with a
 * SLOW_READER Error frame instead of growing the node's memory or its event loop's work).
 * Nothing a client sends can throw here.
 */
import { performance } from 'node:perf_hooks';
import { opLabel, unreadOpLabel } from '../metrics/client-metrics.js';
import type { LockMachineConfig } from '../statemachine/config.js';
import type { ClientHello, ClientOp, PushEvent, WireResult, Welcome } from '../protocol/client-protocol.js';
import { requestEnvelope, unavailable, validateOp } from '../protocol/client-protocol.js';
import { FramedSocket } from '../transport/framed-socket.js';
import { ClientOutput } from './client-output.js';
import type { ErrorFrame, WireErrorCode } from '../protocol/handshake.js';
import type { Result } from '../util/result.js';
import type { AcceptedSocket, ConnectionSlot } from './client-listener.js';
import type { ConnectionIdentity } from './login.js';
import { principalOf } from './login.js';
import { forwardClientPrefix } from './server-forward.js';
import type { Watch } from '../node/request-channel.js';

export interface ClientConnectionLimits {
  /** Largest frame a client may send. */
  readonly frameBytesMax: number;
  /** Requests without a response yet; one more is answered UNAVAILABLE. */
  readonly requestsOutstandingMax: number;
  readonly watchesMax: number;
  /** The Hello must arrive (and, on a secure node, authenticate) within this time. */
  readonly handshakeTimeoutMs: number;
  /**
   * Bytes sent but not yet read by the client (the socket's buffer and the node's own queue);
   * beyond it the connection is closed with SLOW_READER.
   */
  readonly unreadBytesMax: number;
}

export const defaultClientConnectionLimits: ClientConnectionLimits = {
  frameBytesMax: 2 * 1024 * 1024,
  requestsOutstandingMax: 1024,
  watchesMax: 64,
  handshakeTimeoutMs: 5000,
  unreadBytesMax: 16 * 1024 * 1024,
};

export interface HelloAccepted {
  readonly hello: ClientHello;
  readonly identity: ConnectionIdentity;
  readonly welcome: Welcome;
}

/** The node's defences against connections that hold resources without using them. */
export interface ConnectionLimits {
  /** After the Welcome, no frame for this long closes the connection (clients keep alive). */
  readonly idleTimeoutMs: number;
  /** Once a frame's first byte has arrived, the whole frame must arrive within this time. */
  readonly frameDeadlineMs: number;
  /** Connections from one source address at once. */
  readonly perSourceMax: number;
  /** Connections that have not authenticated yet (no Welcome), apart from `connectionsMax`. */
  readonly unauthenticatedMax: number;
}

export const defaultConnectionLimits: ConnectionLimits = {
  idleTimeoutMs: 5 * 60_000,
  frameDeadlineMs: 10_000,
  perSourceMax: 64,
  unauthenticatedMax: 64,
};

/** What connections report for metrics (the node's ClientMetrics). */
export interface ConnectionObserver {
  /** A request was answered: its `opLabel`, the answer's code, seconds since it arrived. */
  requestAnswered(op: string, code: string, seconds: number): void;
  pushed(kind: string): void;
  slowConsumerClosed(): void;
}

/** What the connection needs from the node. */
export interface ConnectionHost {
  readonly machine: LockMachineConfig;
  readonly observer?: ConnectionObserver;
  /**
   * Checks the Hello's cluster and credentials (and the connection budget): the Welcome to send
   * with the identity it proves, or the Error frame to close with. The node logs refusals.
   */
  hello(connection: ClientConnection, hello: unknown): Promise<Result<HelloAccepted, ErrorFrame>>;
  /** `as` is the principal a forwarding node names; null otherwise. */
  request(connection: ClientConnection, id: number, op: ClientOp, as: string | null): void;
  /** A frame the connection refuses (a bad `as`, a Request before Welcome); for the log. */
  refused(connection: ClientConnection, code: WireErrorCode, reason: string): void;
  /** A request answered PERMISSION_DENIED (its op label and the reason); for the log. */
  denied(connection: ClientConnection, op: string, reason: string): void;
  /** A limit (the idle timeout, a frame deadline, unread output) is closing the connection; for the log. */
  timedOut(connection: ClientConnection, reason: string): void;
  closed(connection: ClientConnection, reason: string): void;
}

/** Frames a client may send before its Welcome (pipelined behind the Hello); more is a violation. */
const earlyFramesMax = 64;

export class ClientConnection {
  readonly framed: FramedSocket;
  readonly slot: ConnectionSlot;
  /** Whether the connection is TLS (a secure node). */
  readonly tls: boolean;
  /** What the client's verified TLS certificate proves; null without one. */
  readonly certificate: AcceptedSocket['certificate'];
  hello: ClientHello | null = null;
  /** Set once the Welcome is sent. */
  identity: ConnectionIdentity | null = null;
  /** Client ids and sessions seen in this connection's requests: where notifications go. */
  readonly clientIds = new Set<string>();
  readonly sessions = new Set<number>();
  readonly watches = new Map<number, Watch>();
  /** Requests without an answer yet: their op label and arrival time (ms), for the metrics. */
  private readonly outstanding = new Map<number, { op: string; readonly startedMs: number }>();
  private readonly output: ClientOutput;
  private timer: NodeJS.Timeout | null;
  private nextWatchId = 1;
  /** Frames that arrived after the Hello while it was being checked (a password check is async). */
  private early: unknown[] | null = null;

  constructor(
    readonly id: number,
    accepted: AcceptedSocket,
    private readonly limits: ClientConnectionLimits,
    private readonly timeouts: Pick<ConnectionLimits, 'idleTimeoutMs' | 'frameDeadlineMs'>,
    private readonly host: ConnectionHost,
  ) {
    this.slot = accepted.slot;
    this.tls = accepted.tls;
    this.certificate = accepted.certificate;
    // The frame deadline holds from the first byte; the idle timeout starts with the Welcome
    // (until then the handshake deadline bounds a silent connection).
    this.framed = new FramedSocket(
      accepted.socket,
      limits.frameBytesMax,
      {
        onValue: (value) => this.receive(value),
        onClose: (reason) => this.onClose(reason),
        onTimeout: (timeout) => this.host.timedOut(this, timeout.message),
      },
      { frameDeadlineMs: timeouts.frameDeadlineMs },
    );
    this.output = new ClientOutput(this.framed, limits.unreadBytesMax, (unread) => {
      const reason = `the client does not read: ${unread} bytes unread, more than ${limits.unreadBytesMax}`;
      this.host.timedOut(this, reason);
      this.host.observer?.slowConsumerClosed();
      this.framed.fail('SLOW_READER', reason);
    });
    this.slot.evict = (reason) => this.framed.fail('TOO_MANY_CONNECTIONS', reason);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.fail('HANDSHAKE_TIMEOUT', `no Hello within ${limits.handshakeTimeoutMs} ms`);
    }, limits.handshakeTimeoutMs);
  }

  get redirect(): boolean {
    return this.hello?.redirect === true;
  }

  /** Who this connection's own requests act as (null: insecure, or a forwarding node). */
  get principal(): string | null {
    return this.identity === null ? null : principalOf(this.identity);
  }

  /**
   * A forwarding node's connection: it relays responses only, so pushes would be wasted. Proven by
   * a node certificate on a secure node; by the client name on an insecure one.
   */
  get isForwarder(): boolean {
    if (this.identity?.kind === 'node') return true;
    return !this.tls && this.hello?.client.startsWith(forwardClientPrefix) === true;
  }

  get isOpen(): boolean {
    return !this.framed.isFinished;
  }

  /** `address:port` of the client. */
  get remote(): string {
    return this.slot.remote;
  }

  get outstandingCount(): number {
    return this.outstanding.size;
  }

  newWatchId(): number | null {
    if (this.watches.size >= this.limits.watchesMax) return null;
    return this.nextWatchId++;
  }

  respond(id: number, result: WireResult): void {
    const request = this.outstanding.get(id);
    if (request === undefined) return;
    this.outstanding.delete(id);
    this.send({ type: 'Response', id, result });
    if (result.code === 'PERMISSION_DENIED') this.host.denied(this, request.op, result.message);
    this.host.observer?.requestAnswered(request.op, result.code, (performance.now() - request.startedMs) / 1000);
  }

  push(push: PushEvent): void {
    // A hold's end is handed to the socket at once: the holder's frame then reaches the kernel
    // before a grant of the same drain written to another connection (which leaves at the turn's end).
    const urgent = push.kind === 'revoked' || push.kind === 'sessionExpired';
    if (this.framed.isFinished) return;
    this.output.write({ type: 'Push', push }, urgent);
    this.host.observer?.pushed(push.kind);
  }

  close(reason: string): void {
    this.framed.destroy(reason);
  }

  /** Sends what is queued, then an Error frame, and closes (the node has logged why). */
  fail(code: WireErrorCode, message: string): void {
    this.output.flushAll();
    this.framed.fail(code, message);
  }

  /** Unread output (see client-output.ts), for status and tests. */
  get unreadBytes(): number {
    return this.output.unreadBytes;
  }

  private send(frame: unknown): void {
    this.output.write(frame);
  }

  private receive(value: unknown): void {
    if (this.identity !== null) return this.receiveRequest(value);
    if (this.early === null) return this.receiveHello(value);
    // The Hello is being checked: keep what follows it for after the Welcome.
    if (this.early.length >= earlyFramesMax) {
      return this.refuse('UNEXPECTED_FRAME', `more than ${earlyFramesMax} frames before the Welcome; wait for it`);
    }
    this.early.push(value);
  }

  private receiveRequest(value: unknown): void {
    const envelope = requestEnvelope(value);
    if (!envelope.ok) return this.refuse('UNEXPECTED_FRAME', envelope.message);
    const id = envelope.id;
    if (envelope.as !== null && this.identity?.kind !== 'node') {
      return this.refuse(
        'UNAUTHENTICATED',
        'only a member node, authenticated by its certificate, may act for others (as)',
      );
    }
    if (this.outstanding.has(id)) {
      // The earlier request with this id keeps its slot; this one is refused without one.
      const message = `request id ${id} is already outstanding`;
      this.send({ type: 'Response', id, result: { code: 'INVALID_ARGUMENT', message } });
      return;
    }
    const request = { op: unreadOpLabel, startedMs: performance.now() };
    this.outstanding.set(id, request);
    if (this.outstanding.size > this.limits.requestsOutstandingMax) {
      const max = this.limits.requestsOutstandingMax;
      const message = `more than ${max} requests outstanding on this connection; wait for answers`;
      return this.respond(id, unavailable(message));
    }
    // A node asks for itself only to learn who the members are (`start --join`): nothing else.
    if (this.identity?.kind === 'node' && envelope.as === null && !isMembersList(envelope.op)) {
      return this.respond(id, {
        code: 'INVALID_ARGUMENT',
        message: 'a forwarding node must name the principal it acts for (as)',
      });
    }
    const op = validateOp(envelope.op, this.host.machine);
    if (!op.ok) return this.respond(id, { code: 'INVALID_ARGUMENT', message: op.error });
    request.op = opLabel(op.value);
    this.host.request(this, id, op.value, envelope.as);
  }

  private receiveHello(value: unknown): void {
    this.early = [];
    void this.host.hello(this, value).then(
      (answer) => {
        if (!this.isOpen) return;
        if (!answer.ok) return this.fail(answer.error.code, answer.error.message);
        if (this.timer !== null) clearTimeout(this.timer);
        this.timer = null;
        this.hello = answer.value.hello;
        this.identity = answer.value.identity;
        this.framed.setIdleTimeout(this.timeouts.idleTimeoutMs);
        this.send(answer.value.welcome);
        const early = this.early ?? [];
        this.early = null;
        for (const frame of early) {
          if (!this.isOpen) return;
          this.receiveRequest(frame);
        }
      },
      (error: unknown) => this.fail('UNAUTHENTICATED', `the Hello could not be checked: ${String(error)}`),
    );
  }

  private refuse(code: WireErrorCode, reason: string): void {
    this.host.refused(this, code, reason);
    this.fail(code, reason);
  }

  private onClose(reason: string): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.outstanding.clear();
    this.early = null;
    this.host.closed(this, reason);
  }
}

/** `members list`: what a joining node asks with its own certificate (src/cli/join.ts). */
function isMembersList(op: unknown): boolean {
  if (typeof op !== 'object' || op === null) return false;
  const fields = op as Record<string, unknown>;
  return fields['kind'] === 'members' && fields['action'] === 'list';
}
