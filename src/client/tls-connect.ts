/**
 * The TLS side of a client connection, on the options every raftlock TLS client shares
 * (src/security/tls-material.ts): the node must present a certificate signed by the cluster's CA
 * that proves a node identity (`raftlock:node:<id>`), never a user's; a client certificate is
 * presented when the client has one. Which node it is gets checked against the Welcome.
 */
import type { TLSSocket } from 'node:tls';
import { connect as tlsConnect } from 'node:tls';
import { identityOfPeerCertificate } from '../security/identity.js';
import { clientTlsOptions } from '../security/tls-material.js';
import type { ClientTls } from './client-pki.js';

/** Opens a TLS connection to a node; the caller waits for `secureConnect`. */
export function connectTls(host: string, port: number, tls: ClientTls): TLSSocket {
  return tlsConnect({ host, port, ...clientTlsOptions(tls, {}) });
}

/** The node id the connected node's certificate proves, or null. */
export function provenNodeId(socket: TLSSocket): string | null {
  const identity = identityOfPeerCertificate(socket.getPeerCertificate());
  return identity?.kind === 'node' ? identity.nodeId : null;
}

/**
 * Error codes of a TLS handshake that failed on the certificates (ours or the node's): retrying
 * the same node cannot help, so the client reports them at once.
 */
export const certificateErrorCodes: ReadonlySet<string> = new Set([
  'ERR_RAFTLOCK_SERVER_IDENTITY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
]);

/** Error codes of a node that does not speak TLS at all (an insecure cluster). */
export const plaintextPeerErrorCodes: ReadonlySet<string> = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'EPROTO',
]);
