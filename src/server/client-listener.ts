/**
 * The client port's listener: admits each TCP connection against the connection budget before
 * spending anything on it (per-source limit, the separate budget for connections that have not
 * authenticated yet), then, on a secure node, runs the TLS handshake (TLS 1.3; a client
 * certificate is requested, not required, and verified against the cluster CA when presented) and
 * hands the socket over with what its certificate proves.
 *
 * The TLS server never listens itself: accepted sockets are injected into it ('connection'), so
 * refusals cost no handshake; its context follows TlsMaterial reloads (the SNI callback, and the
 * default context for clients that send no server name). A certificate that was presented and
 * failed verification is answered with an Error frame `UNAUTHENTICATED` naming the reason (the
 * client learns why, e.g. CERT_HAS_EXPIRED) and the connection closed: no frame is read from it.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { CertIdentity } from '../security/identity.js';
import { checkPeerCertificate } from '../security/identity.js';
import type { TlsMaterial } from '../security/tls-material.js';
import { secureContextOptions, serverTlsOptions } from '../security/tls-material.js';
import { FramedSocket } from '../transport/framed-socket.js';
import type { HostPort } from '../config/cluster-config.js';
import type { ConnectionBudget } from './connection-budget.js';
import type { Logger } from '../util/logger.js';
import { listenOn } from '../transport/listen.js';

/** One admitted connection's place in the budget. `evict` closes it to make room for another. */
export interface ConnectionSlot {
  /** The source address, the per-source limit's key (IPv4-mapped IPv6 shown as IPv4). */
  readonly source: string;
  /** `address:port`, for logs. */
  readonly remote: string;
  evict: (reason: string) => void;
}

export interface AcceptedSocket {
  readonly socket: Socket;
  readonly slot: ConnectionSlot;
  /** TLS (a secure node) or plaintext. */
  readonly tls: boolean;
  /**
   * What the client's verified certificate proves; null without one. A certificate that failed
   * verification never gets here: the listener refuses the connection and logs why.
   */
  readonly certificate: CertIdentity | null;
}

export interface ClientListenerOptions {
  readonly listen: HostPort;
  readonly tls: TlsMaterial | null;
  readonly budget: ConnectionBudget<ConnectionSlot>;
  /** The TCP connection must finish its TLS handshake within this time. */
  readonly handshakeTimeoutMs: number;
  readonly log: Logger;
}

/** Who takes the admitted connections (attached once the node exists). */
export interface ConnectionHandler {
  /** Non-null: refuse every new connection with this reason (the node is stopping). */
  readonly refusing: () => string | null;
  readonly onConnection: (accepted: AcceptedSocket) => void;
}

export function sourceAddress(socket: Socket): string {
  const address = socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}

export class ClientListener {
  private readonly handshaking = new Map<string, { readonly slot: ConnectionSlot; readonly timer: NodeJS.Timeout }>();
  private readonly tlsServer: TlsServer | null;
  private handler: ConnectionHandler | null = null;
  /** Ends the TLS server's subscription to material reloads. */
  private unsubscribe: (() => void) | null = null;

  private constructor(
    private readonly server: Server,
    private readonly options: ClientListenerOptions,
  ) {
    const material = options.tls;
    this.tlsServer = material === null ? null : this.createTlsSide(material);
    server.on('connection', (socket) => this.accept(socket));
    server.on('error', (error) => options.log.warn('client listener error', { error: error.message }));
  }

  static async listen(options: ClientListenerOptions): Promise<ClientListener> {
    const server = createServer({ noDelay: true });
    await listenOn(server, options.listen.host, options.listen.port);
    return new ClientListener(server, options);
  }

  /** The connection authenticated: it moves to the authenticated budget, or why it cannot. */
  admitAuthenticated(slot: ConnectionSlot): string | null {
    return this.options.budget.authenticate(slot);
  }

  attach(handler: ConnectionHandler): void {
    this.handler = handler;
  }

  get address(): HostPort {
    const bound = this.server.address();
    if (bound === null || typeof bound !== 'object') return this.options.listen;
    return { host: bound.address, port: bound.port };
  }

  close(): void {
    this.server.close();
    this.unsubscribe?.();
    for (const { timer } of this.handshaking.values()) clearTimeout(timer);
    this.handshaking.clear();
  }

  private accept(socket: Socket): void {
    const source = sourceAddress(socket);
    const remote = `${source}:${String(socket.remotePort)}`;
    const slot: ConnectionSlot = { source, remote, evict: () => socket.destroy() };
    const handler = this.handler;
    const refusing = handler === null ? 'this node is starting' : handler.refusing();
    const admission = handler === null || refusing !== null ? null : this.options.budget.admit(slot, source);
    if (handler === null || admission === null || !admission.admitted) {
      const reason = admission !== null && !admission.admitted ? admission.reason : (refusing ?? 'refused');
      this.options.log.warn('client connection refused', { remote, reason });
      return this.refuse(socket, reason);
    }
    if (admission.evict !== null) {
      const evicted = admission.evict;
      const why = 'evicted: too many connections are awaiting authentication';
      this.options.log.warn('client connection refused', { remote: evicted.remote, reason: why });
      evicted.evict(why);
    }
    socket.once('close', () => this.options.budget.release(slot));
    if (this.tlsServer === null) return handler.onConnection({ socket, slot, tls: false, certificate: null });
    const key = handshakeKey(socket);
    const timer = setTimeout(() => {
      this.handshaking.delete(key);
      const reason = `no TLS handshake within ${this.options.handshakeTimeoutMs} ms`;
      this.options.log.warn('client connection refused', { remote, reason });
      socket.destroy();
    }, this.options.handshakeTimeoutMs);
    this.handshaking.set(key, { slot, timer });
    socket.once('close', () => this.forget(socket));
    this.tlsServer.emit('connection', socket);
  }

  private createTlsSide(material: TlsMaterial): TlsServer {
    // A client certificate is asked for, not required (passwords and tokens are the other ways
    // in), so node:tls completes handshakes whose certificate failed: `secured` refuses those.
    const server = createTlsServer(serverTlsOptions(material, { requireClientCert: false }));
    this.unsubscribe = material.onChange(() => server.setSecureContext(secureContextOptions(material.pem)));
    server.on('secureConnection', (socket: TLSSocket) => this.secured(socket));
    server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
      const remote = `${sourceAddress(socket)}:${String(socket.remotePort)}`;
      this.forget(socket);
      this.options.log.warn('client connection refused', { remote, reason: `TLS handshake failed: ${error.message}` });
    });
    return server;
  }

  private secured(socket: TLSSocket): void {
    const key = handshakeKey(socket);
    const pending = this.handshaking.get(key);
    if (pending === undefined || this.handler === null) {
      socket.destroy();
      return;
    }
    clearTimeout(pending.timer);
    this.handshaking.delete(key);
    const check = checkPeerCertificate(socket);
    if (check.kind === 'refused') {
      this.options.log.warn('client connection refused', { remote: pending.slot.remote, reason: check.reason });
      const ignore = { onValue: () => undefined, onClose: () => undefined };
      new FramedSocket(socket, 1024, ignore).fail('UNAUTHENTICATED', check.reason);
      return;
    }
    const certificate = check.kind === 'verified' ? check.identity : null;
    this.handler.onConnection({ socket, slot: pending.slot, tls: true, certificate });
  }

  private forget(socket: Socket): void {
    const key = handshakeKey(socket);
    const pending = this.handshaking.get(key);
    if (pending === undefined) return;
    clearTimeout(pending.timer);
    this.handshaking.delete(key);
  }

  /**
   * A plaintext client gets an Error frame saying why; a TLS client cannot read one before its
   * handshake, so its connection is closed (the refusal is in the node's log).
   */
  private refuse(socket: Socket, reason: string): void {
    if (this.tlsServer !== null) {
      socket.destroy();
      return;
    }
    const ignore = { onValue: () => undefined, onClose: () => undefined };
    new FramedSocket(socket, 1024, ignore).fail('TOO_MANY_CONNECTIONS', reason);
  }
}

/** The TLS socket over an accepted socket has the same remote end: that pairs them up. */
function handshakeKey(socket: Socket): string {
  return `${String(socket.remoteAddress)}|${String(socket.remotePort)}`;
}
