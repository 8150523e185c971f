/**
 * What a certificate proves: the raftlock identity in its URI SAN (`raftlock:node:<id>` or
 * `raftlock:user:<name>`). The subject CN repeats the name for people reading the certificate, but
 * only the URI SAN counts, so a user certificate can never pose as a node and no CN string parsing
 * decides anything.
 */
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { isValidNodeId } from '../raft/types.js';

export type CertIdentity =
  { readonly kind: 'node'; readonly nodeId: string } | { readonly kind: 'user'; readonly user: string };

const userNamePattern = /^[A-Za-z0-9._@-]+$/;
/** A user name is 1..128 UTF-8 bytes (all of its allowed characters are one byte each). */
export const userNameMaxBytes = 128;

export function isValidUserName(value: string): boolean {
  return value.length <= userNameMaxBytes && userNamePattern.test(value);
}

/** The URI SAN that proves `identity`. */
export function identityUri(identity: CertIdentity): string {
  return identity.kind === 'node' ? `raftlock:node:${identity.nodeId}` : `raftlock:user:${identity.user}`;
}

/** `node n1` / `user alice`, for messages and logs. */
export function formatIdentity(identity: CertIdentity): string {
  return identity.kind === 'node' ? `node ${identity.nodeId}` : `user ${identity.user}`;
}

export interface SanEntry {
  /** As node:crypto names it: `URI`, `DNS`, `IP Address`, `email`, ... */
  readonly type: string;
  readonly value: string;
}

/**
 * Parses the subject alternative names as node:tls and node:crypto print them:
 * `URI:raftlock:node:n1, IP Address:127.0.0.1, DNS:localhost`. A value that contains a comma, a
 * quote, a backslash or a control character is printed as a JSON string literal
 * (`DNS:"a, URI:raftlock:node:n1"`), so splitting on ", " alone could be fooled; this parser
 * honours the quoting. null: not in that format.
 */
export function parseSubjectAltName(text: string): readonly SanEntry[] | null {
  const entries: SanEntry[] = [];
  let at = 0;
  while (at < text.length) {
    const colon = text.indexOf(':', at);
    if (colon < 0) return null;
    const type = text.slice(at, colon);
    let end: number;
    let value: string;
    if (text[colon + 1] === '"') {
      end = endOfJsonString(text, colon + 1);
      if (end < 0) return null;
      try {
        const parsed: unknown = JSON.parse(text.slice(colon + 1, end));
        if (typeof parsed !== 'string') return null;
        value = parsed;
      } catch {
        return null;
      }
    } else {
      const comma = text.indexOf(', ', colon + 1);
      end = comma < 0 ? text.length : comma;
      value = text.slice(colon + 1, end);
    }
    entries.push({ type, value });
    if (end === text.length) break;
    if (text.slice(end, end + 2) !== ', ') return null;
    at = end + 2;
  }
  return entries;
}

/** Index just past the JSON string literal that starts at `start` (a `"`); -1 if unterminated. */
function endOfJsonString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i + 1;
  }
  return -1;
}

/**
 * The identity in a subjectaltname text: exactly one `raftlock:` URI, well formed, with a valid
 * node id or user name. Two raftlock URIs (say a node and a user) prove nothing: null.
 */
export function identityOfSubjectAltName(text: string | undefined): CertIdentity | null {
  if (text === undefined || text === '') return null;
  const entries = parseSubjectAltName(text);
  if (entries === null) return null;
  // URI schemes are case-insensitive, so `RAFTLOCK:` counts towards "exactly one" as well.
  const ours = entries.filter((e) => e.type === 'URI' && e.value.toLowerCase().startsWith('raftlock:'));
  if (ours.length !== 1) return null;
  const match = /^raftlock:(node|user):(.*)$/.exec(ours[0]!.value);
  if (match === null) return null;
  const name = match[2]!;
  if (match[1] === 'node') return isValidNodeId(name) ? { kind: 'node', nodeId: name } : null;
  return isValidUserName(name) ? { kind: 'user', user: name } : null;
}

/**
 * From a verified peer certificate as node:tls gives it (`socket.getPeerCertificate()`).
 * null: no raftlock identity. Only meaningful when the socket is `authorized` (see
 * checkPeerCertificate, which checks both).
 */
export function identityOfPeerCertificate(
  cert: { readonly subjectaltname?: string } | null | undefined,
): CertIdentity | null {
  return identityOfSubjectAltName(cert?.subjectaltname);
}

export function identityOfCertificate(cert: X509Certificate): CertIdentity | null {
  return identityOfSubjectAltName(cert.subjectAltName);
}

/** The identity of the first certificate of a PEM text; null if it has none or does not parse. */
export function identityOfCertificatePem(pem: string): CertIdentity | null {
  try {
    return identityOfCertificate(new X509Certificate(pem));
  } catch {
    return null;
  }
}

/** What the certificate a TLS peer presented proves, for a server that requests but may not require one. */
export type PeerCertificateCheck =
  | { readonly kind: 'none' }
  | { readonly kind: 'verified'; readonly identity: CertIdentity }
  | { readonly kind: 'refused'; readonly reason: string };

/**
 * Call after the handshake. With `rejectUnauthorized: false` (the client port: a certificate is
 * optional) node:tls completes handshakes with certificates that failed verification, so the
 * peer's certificate proves something only when the socket is `authorized`; a certificate that
 * was presented and failed is `refused` (never silently treated as "no certificate").
 */
export function checkPeerCertificate(socket: TLSSocket): PeerCertificateCheck {
  const cert = socket.getPeerCertificate();
  // node:tls gives an empty object when the peer sent no certificate.
  if (cert === null || cert === undefined || cert.raw === undefined) return { kind: 'none' };
  const who = cert.subject?.CN === undefined ? 'a certificate' : `the certificate of CN=${String(cert.subject.CN)}`;
  if (!socket.authorized) {
    return { kind: 'refused', reason: `${who} was not accepted: ${String(socket.authorizationError)}` };
  }
  const identity = identityOfPeerCertificate(cert);
  if (identity === null) {
    const san = cert.subjectaltname ?? 'none';
    return { kind: 'refused', reason: `${who} carries no raftlock identity (subject alternative names: ${san})` };
  }
  return { kind: 'verified', identity };
}
