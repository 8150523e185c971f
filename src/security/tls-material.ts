/**
 * The reloadable TLS material of one process, and the one way every raftlock TLS server and
 * client is configured (serverTlsOptions, clientTlsOptions; createTlsServer in tls-server.ts), so the peer port,
 * the client port and the client library cannot drift apart.
 *
 * Protocol: TLS 1.3 only. Both ends are always raftlock on Node.js ≥ 20 (OpenSSL 3), so there is
 * no older peer to accommodate, and 1.3 gives forward secrecy with every cipher suite, a one
 * round-trip handshake and encrypted certificates (who connects is not visible on the wire).
 *
 * Server identity: a client checks the node id the server's certificate proves, not a host name.
 * Nodes are named by id in cluster.yml and in every Raft message; their addresses move (a node
 * re-homed to another machine keeps its id), and the peer port is dialled by whatever address the
 * local cluster.yml lists. What must hold is "this is node n2", which is what the URI SAN proves.
 */
import type { X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';
import { err, ok } from '../util/result.js';
import type { Result } from '../util/result.js';
import { formatIdentity, identityOfPeerCertificate } from './identity.js';
import type { CertIdentity } from './identity.js';
import { inspectTlsPem, readAndInspectTlsFiles, splitPemCertificates, validityOf } from './tls-check.js';
import type { CheckedTls, TlsFiles, TlsPem } from './tls-check.js';

export { checkTlsPem, readTlsFiles } from './tls-check.js';
export type { TlsFiles, TlsPem } from './tls-check.js';

export const tlsMinVersion = 'TLSv1.3' satisfies tls.SecureVersion;
/**
 * The server name every raftlock client sends. A node's server picks its current certificate in
 * its SNI callback, which node:tls only calls when the client sends a name (never for a bare IP
 * address), so a constant name makes every connection see a reload at once.
 */
export const tlsServerName = 'raftlock';

export class TlsMaterial {
  private current: CheckedTls;
  private cachedContext: tls.SecureContext | null = null;
  private readonly listeners = new Set<() => void>();

  private constructor(
    checked: CheckedTls,
    /** Where reload() reads from; null for material made in memory. */
    readonly files: TlsFiles | null,
  ) {
    this.current = checked;
  }

  /** In-memory material (startCluster, tests). Throws if it does not pass checkTlsPem. */
  static fromPem(pem: TlsPem, nowMs: number = Date.now()): TlsMaterial {
    const checked = inspectTlsPem(pem, nowMs, {
      ca: 'in-memory CA certificate',
      cert: 'in-memory certificate',
      key: 'in-memory key',
    });
    if (!checked.ok) throw new Error(checked.error);
    return new TlsMaterial(checked.value, null);
  }

  static fromFiles(files: TlsFiles, nowMs: number): Result<TlsMaterial, string> {
    const checked = readAndInspectTlsFiles(files, nowMs);
    return checked.ok ? ok(new TlsMaterial(checked.value, files)) : checked;
  }

  /**
   * Re-reads the files (SIGHUP). On any error, including a certificate that proves another
   * identity than this process's, keeps the old material and returns why. New connections use
   * the new material; established ones keep theirs.
   */
  reload(nowMs: number): Result<void, string> {
    if (this.files === null) return err('this TLS material was given in memory: there are no files to re-read');
    const checked = readAndInspectTlsFiles(this.files, nowMs);
    if (!checked.ok) return err(`${checked.error}; keeping the current certificate`);
    const was = this.current.identity;
    const now = checked.value.identity;
    if (formatIdentity(was) !== formatIdentity(now)) {
      return err(
        `${this.files.cert} now proves ${formatIdentity(now)}, but this process is ${formatIdentity(was)}; ` +
          'keeping the current certificate',
      );
    }
    this.current = checked.value;
    this.cachedContext = null;
    for (const listener of this.listeners) listener();
    return ok(undefined);
  }

  /** The current secure context (ca + cert + key), made once per load. */
  get context(): tls.SecureContext {
    this.cachedContext ??= tls.createSecureContext(secureContextOptions(this.current.pem));
    return this.cachedContext;
  }

  get pem(): TlsPem {
    return this.current.pem;
  }

  /** Identity of this material's own certificate. */
  get identity(): CertIdentity {
    return this.current.identity;
  }

  get certificate(): X509Certificate {
    return this.current.cert;
  }

  /** `node n1, serial 5A…, valid until 2029-03-12T10:00:00.000Z`: for the log line of a (re)load. */
  get summary(): string {
    const { notAfter } = validityOf(this.current.cert);
    return `${formatIdentity(this.identity)}, serial ${this.current.cert.serialNumber}, valid until ${notAfter.toISOString()}`;
  }

  /** Calls `listener` after every successful reload; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
}

/**
 * What every raftlock secure context is made of: the material and the protocol floor. The CA
 * certificates go one by one, as checkTlsPem found them: OpenSSL would drop a bundle made by
 * concatenating files that do not end in a newline.
 */
export function secureContextOptions(pem: TlsPem): tls.SecureContextOptions {
  return { ca: splitPemCertificates(pem.ca), cert: pem.cert, key: pem.key, minVersion: tlsMinVersion };
}

/** A TLS handshake not done by then is dropped (node:tls waits 120 s by default): strangers cannot park sockets. */
export const tlsHandshakeTimeoutMs = 10_000;

/**
 * Options for `tls.createServer`. The certificate comes from the SNI callback, so a reload
 * applies to the next connection of every raftlock client (they all send tlsServerName); the
 * ca/cert/key given beside it serve clients that send no name (createTlsServer keeps those
 * current too).
 *
 * `requireClientCert: true`: node:tls drops a connection whose certificate is missing or fails
 * verification, but reports only "socket hang up"; createTlsServer (tls-server.ts) gives the
 * reason (expired, unknown CA, ...) and is the better choice. `requireClientCert: false` (the
 * client port) still asks for a certificate but lets the handshake finish without one; node:tls
 * then also finishes handshakes whose certificate failed verification, so such a server must
 * decide with checkPeerCertificate (identity.ts), which refuses those.
 */
export function serverTlsOptions(material: TlsMaterial, options: { requireClientCert: boolean }): tls.TlsOptions {
  return {
    ...secureContextOptions(material.pem),
    SNICallback: (_serverName, callback) => callback(null, material.context),
    requestCert: true,
    rejectUnauthorized: options.requireClientCert,
    handshakeTimeout: tlsHandshakeTimeoutMs,
  };
}

/** What a client presents and trusts when it has no TlsMaterial (the client library). */
export interface ClientTlsPem {
  readonly ca: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

/**
 * Options for `tls.connect` (add host and port). The server is accepted only if its certificate
 * chains to the CA and proves a node identity, and exactly `expect.nodeId` when given; otherwise
 * the connection fails with a ServerIdentityError saying what was expected and what was presented.
 */
export function clientTlsOptions(
  source: TlsMaterial | ClientTlsPem,
  expect: { readonly nodeId?: string },
): tls.ConnectionOptions {
  const credentials: tls.ConnectionOptions =
    source instanceof TlsMaterial
      ? { secureContext: source.context }
      : {
          ca: splitPemCertificates(source.ca.toString()),
          ...(source.cert === undefined ? {} : { cert: source.cert }),
          ...(source.key === undefined ? {} : { key: source.key }),
          minVersion: tlsMinVersion,
        };
  return {
    ...credentials,
    servername: tlsServerName,
    rejectUnauthorized: true,
    checkServerIdentity: (_hostName, cert) => checkNodeServerIdentity(cert, expect),
  };
}

export class ServerIdentityError extends Error {
  readonly code = 'ERR_RAFTLOCK_SERVER_IDENTITY';
}

/** undefined if the (chain-verified) server certificate proves the expected node; else why not. */
export function checkNodeServerIdentity(
  cert: { readonly subjectaltname?: string },
  expect: { readonly nodeId?: string },
): ServerIdentityError | undefined {
  const identity = identityOfPeerCertificate(cert);
  const expected = expect.nodeId === undefined ? 'a node certificate' : `node ${expect.nodeId}`;
  if (identity === null) {
    const san = cert.subjectaltname ?? 'none';
    return new ServerIdentityError(
      `server certificate proves no raftlock identity (subject alternative names: ${san}); expected ${expected}`,
    );
  }
  if (identity.kind === 'node' && (expect.nodeId === undefined || identity.nodeId === expect.nodeId)) {
    return undefined;
  }
  return new ServerIdentityError(`server certificate proves ${formatIdentity(identity)}; expected ${expected}`);
}
