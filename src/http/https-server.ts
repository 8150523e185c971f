/**
 * The HTTPS server of a secure node: the node's TLS material (TLS 1.3, its certificate following
 * every reload), a client certificate asked for but optional. A certificate that is presented must
 * chain to the cluster's CA and carry a raftlock identity, or the connection is dropped right after
 * the handshake, the reason logged (as on the client port, src/security/tls-server.ts); a verified
 * user certificate is the request's principal.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { CertIdentity } from '../security/identity.js';
import type { TlsMaterial } from '../security/tls-material.js';
import { serverTlsOptions } from '../security/tls-material.js';
import { checkEachConnection, followReloads } from '../security/tls-server.js';
import type { Logger } from '../util/logger.js';
import { remoteOf } from './app.js';

export interface HttpsServer {
  readonly server: https.Server;
  /** The verified certificate identity of a connection; null when it presented none. */
  certificateOf(socket: Socket): CertIdentity | null;
}

export function createHttpsServer(
  material: TlsMaterial,
  log: Logger,
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): HttpsServer {
  const identities = new WeakMap<Socket, CertIdentity>();
  const server = https.createServer(serverTlsOptions(material, { requireClientCert: false }), handler);
  followReloads(server, material);
  // Runs after the HTTP layer attached to the socket and before it can read a byte from it.
  checkEachConnection(
    server,
    false,
    (socket, identity) => {
      if (identity !== null) identities.set(socket, identity);
    },
    (socket, reason) => {
      log.warn('http connection refused', { remote: remoteOf(socket), reason });
      socket.destroy();
    },
  );
  server.on('tlsClientError', (error: Error & { reason?: string }, socket: TLSSocket) => {
    log.warn('http connection refused', {
      remote: remoteOf(socket),
      reason: `TLS handshake failed: ${error.reason ?? error.message}`,
    });
  });
  return { server, certificateOf: (socket) => identities.get(socket) ?? null };
}
