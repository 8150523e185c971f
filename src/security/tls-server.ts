/**
 * The TLS server every raftlock port listens with. It hands its owner only connections whose
 * certificate check passed, with the identity the certificate proves, and reports every other
 * connection with the remote address and the reason, so the owner can log each refusal (who and
 * why) instead of node:tls's bare "socket hang up".
 *
 * Verification is done here, after the handshake, rather than by node:tls's rejectUnauthorized:
 * node:tls also verifies after the handshake (its OpenSSL verify callback accepts everything and
 * the socket is destroyed afterwards), but then the reason is lost. Nothing is read from a socket
 * before this check passes, so the two are equally strict.
 */
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { assertNever } from '../util/assert.js';
import { checkPeerCertificate } from './identity.js';
import type { CertIdentity } from './identity.js';
import { secureContextOptions, serverTlsOptions } from './tls-material.js';
import type { TlsMaterial } from './tls-material.js';

export interface TlsRefusal {
  /** `host:port` of the remote end. */
  readonly remoteAddress: string;
  readonly reason: string;
}

export interface TlsServerHandlers {
  /**
   * A connection whose handshake and certificate check passed. `identity` is null only when
   * `requireClientCert` is false and the peer presented no certificate.
   */
  readonly onConnection: (socket: tls.TLSSocket, identity: CertIdentity | null) => void;
  /** A connection dropped before onConnection (already destroyed): for the log. */
  readonly onRefused?: (refusal: TlsRefusal) => void;
}

/**
 * A TLS server with serverTlsOptions whose default context follows every reload of `material`
 * (for clients that send no server name). Listen on it as on any net.Server.
 */
export function createTlsServer(
  material: TlsMaterial,
  options: { readonly requireClientCert: boolean },
  handlers: TlsServerHandlers,
): tls.Server {
  const server = createReloadingTlsServer(material, { requireClientCert: false });
  const refuse = (socket: tls.TLSSocket, reason: string): void => {
    const remoteAddress = remoteAddressOf(socket); // gone once the socket is destroyed
    socket.destroy();
    handlers.onRefused?.({ remoteAddress, reason });
  };
  checkEachConnection(server, options.requireClientCert, handlers.onConnection, refuse);
  // A handshake that fails because the peer hung up is reported after the socket is gone, and
  // its address with it; remember each connection's address while it is known. node:tls keeps
  // the TCP socket a TLS socket wraps as `_parent` (not part of its typed API, hence the check).
  const addresses = new WeakMap<object, string>();
  server.prependListener('connection', (raw: net.Socket) => addresses.set(raw, remoteAddressOf(raw)));
  server.on('tlsClientError', (error: Error & { reason?: string }, socket: tls.TLSSocket) => {
    const parent: unknown = (socket as { _parent?: unknown })._parent;
    const known = typeof parent === 'object' && parent !== null ? addresses.get(parent) : undefined;
    const remoteAddress = socket.remoteAddress === undefined ? (known ?? 'unknown') : remoteAddressOf(socket);
    handlers.onRefused?.({ remoteAddress, reason: `TLS handshake failed: ${error.reason ?? error.message}` });
  });
  return server;
}

/**
 * A bare TLS server with serverTlsOptions whose default context follows every reload of
 * `material` (setSecureContext would drop minVersion, so the full options are set again). Its
 * owner checks each connection's certificate itself (checkPeerCertificate): the peer transport
 * does, so that it can answer a refused dialler with an Error frame before closing.
 */
export function createReloadingTlsServer(
  material: TlsMaterial,
  options: { readonly requireClientCert: boolean },
): tls.Server {
  const server = tls.createServer(serverTlsOptions(material, options));
  followReloads(server, material);
  return server;
}

/**
 * Keeps `server`'s default context (for clients that send no server name) on `material`'s current
 * certificate across reloads, until the server closes. setSecureContext would drop minVersion, so
 * the full options are set again.
 */
export function followReloads(server: tls.Server, material: TlsMaterial): void {
  const unsubscribe = material.onChange(() => server.setSecureContext(secureContextOptions(material.pem)));
  server.once('close', unsubscribe);
}

/**
 * Checks each connection's certificate right after its handshake, before anything is read from
 * it: `accept` gets the identity the certificate proves (null: none presented, on a server that
 * does not require one), `refuse` the reason (the socket is still open; the caller closes it).
 */
export function checkEachConnection(
  server: tls.Server,
  requireClientCert: boolean,
  accept: (socket: tls.TLSSocket, identity: CertIdentity | null) => void,
  refuse: (socket: tls.TLSSocket, reason: string) => void,
): void {
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    const check = checkPeerCertificate(socket);
    switch (check.kind) {
      case 'verified':
        accept(socket, check.identity);
        return;
      case 'none':
        if (requireClientCert) refuse(socket, 'no client certificate (this port requires one)');
        else accept(socket, null);
        return;
      case 'refused':
        refuse(socket, check.reason);
        return;
      default:
        assertNever(check, 'peer certificate check');
    }
  });
}

function remoteAddressOf(socket: net.Socket): string {
  const host = socket.remoteAddress ?? 'unknown';
  return `${host.includes(':') ? `[${host}]` : host}:${socket.remotePort ?? '?'}`;
}
