/**
 * The TLS side of a client connection: the node must present a certificate signed by the
 * cluster's CA that names a node (`raftlock:node:<id>`), never a user's; a client certificate is
 * presented when the client has one. Which node it is gets checked against the Welcome.
 */
import type { ConnectionOptions, PeerCertificate, TLSSocket } from 'node:tls';
import { connect as tlsConnect } from 'node:tls';
import type { ClientTls } from './client-pki.js';

const nodeUriPrefix = 'URI:raftlock:node:';

/** The node id a certificate proves (its `raftlock:node:` URI SAN), or null. */
export function nodeIdOfCertificate(cert: PeerCertificate | null | undefined): string | null {
  const names = cert?.subjectaltname;
  if (typeof names !== 'string') return null;
  for (const name of names.split(', ')) {
    if (name.startsWith(nodeUriPrefix)) return name.slice(nodeUriPrefix.length);
  }
  return null;
}

/** An error whose code marks a node that failed to prove it is a node of this cluster. */
export class NodeIdentityError extends Error {
  readonly code = 'ERR_RAFTLOCK_NOT_A_NODE';
}

/** node:tls options for connecting to a node with `tls`. */
export function clientTlsOptions(tls: ClientTls): ConnectionOptions {
  return {
    ca: tls.ca,
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    // The CA vouches for membership; host names are not what identifies a node (clients reach
    // nodes by whatever address cluster.yml gives), its node id is.
    checkServerIdentity: (host, cert) => {
      if (nodeIdOfCertificate(cert) !== null) return undefined;
      const subject = cert.subject?.CN ?? 'no common name';
      return new NodeIdentityError(`${host} presented a certificate that names no node (${subject})`);
    },
  };
}

/** Opens a TLS connection to a node; the caller waits for `secureConnect`. */
export function connectTls(host: string, port: number, tls: ClientTls): TLSSocket {
  return tlsConnect({ host, port, ...clientTlsOptions(tls) });
}

/**
 * Error codes of a TLS handshake that failed on the certificates (ours or the node's): retrying
 * the same node cannot help, so the client reports them at once.
 */
export const certificateErrorCodes: ReadonlySet<string> = new Set([
  'ERR_RAFTLOCK_NOT_A_NODE',
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
  'ERR_TLS_CERT_ALTNAME_INVALID',
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
