/**
 * The client port's listener: admits each TCP connection against the connection budget before
 * spending anything on it (per-source limit, the separate budget for connections that have not
 * authenticated yet), then, on a secure node, runs the TLS handshake (TLS 1.3; a client
 * certificate is requested, not required, and verified against the cluster CA when presented) and
 * hands the socket over with what its certificate proves.
 *
 * The TLS server never listens itself: accepted sockets are injected into it ('connection'), so
 * refusals cost no handshake and the server's context follows TlsMaterial reloads
 * (createTlsServer), for clients that send no server name too.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { CertIdentity } from '../security/identity.js';
import type { TlsMaterial } from '../security/tls-material.js';
import { createTlsServer } from '../security/tls-server.js';
import { FramedSocket } from '../transport/framed-socket.js';
import type { HostPort } from './cluster-config.js';
import type { ConnectionBudget } from './connection-budget.js';
import type { Logger } from './logger.js';

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
   * verification never gets here: the TLS server drops the connection and reports why.
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

  private constructor(
    private readonly server: Server,
    private readonly options: ClientListenerOptions,
  ) {
    const material = options.tls;
    this.tlsServer =
      material === null
        ? null
        : createTlsServer(material, { requireClientCert: false }, {
            onConnection: (socket, identity) => this.secured(socket, identity),
            onRefused: (refusal) => options.log.warn('client connection refused', { remote: refusal.remoteAddress, reason: refusal.reason }),
          });
    server.on('connection', (socket) => this.accept(socket));
    server.on('error', (error) => options.log.warn('client listener error', { error: error.message }));
  }

  static async listen(options: ClientListenerOptions): Promise<ClientListener> {
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.listen.port, options.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
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
    // It never listened; closing it ends its subscription to TLS material reloads.
    this.tlsServer?.close();
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

  private secured(socket: TLSSocket, identity: CertIdentity | null): void {
    const key = handshakeKey(socket);
    const pending = this.handshaking.get(key);
    if (pending === undefined) {
      socket.destroy();
      return;
    }
    clearTimeout(pending.timer);
    this.handshaking.delete(key);
    if (this.handler === null) {
      socket.destroy();
      return;
    }
    this.handler.onConnection({ socket, slot: pending.slot, tls: true, certificate: identity });
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
