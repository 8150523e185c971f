/**
 * Checks TLS material before a process uses it, so a bad file is refused at start (or at a
 * SIGHUP reload) with a message that names the file and says what is wrong, rather than as an
 * opaque handshake failure on some later connection.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { err, ok } from '../util/result.js';
import type { Result } from '../util/result.js';
import { identityOfCertificate } from './identity.js';
import type { CertIdentity } from './identity.js';

/** File paths of one process's TLS material. */
export interface TlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** PEM text of one process's TLS material. `ca` may hold several CA certificates (CA rotation). */
export interface TlsPem {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** What a successful check learnt, for TlsMaterial. */
export interface CheckedTls {
  readonly pem: TlsPem;
  readonly cert: X509Certificate;
  readonly identity: CertIdentity;
}

interface Labels {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/**
 * Checks that every part parses, that the key is the certificate's, that one of the CA
 * certificates issued it (signature verified), that the certificate and that CA are valid at
 * `nowMs` (the message says "expired on <date>" or "not valid before <date>"), and that the
 * certificate proves a raftlock identity. Messages name the part as `<label> certificate` etc.
 */
export function checkTlsPem(pem: TlsPem, nowMs: number, label: string): Result<TlsPem, string> {
  const checked = inspectTlsPem(pem, nowMs, {
    ca: `${label} CA certificate`,
    cert: `${label} certificate`,
    key: `${label} key`,
  });
  return checked.ok ? ok(checked.value.pem) : checked;
}

/** Reads the three files (synchronously) and checks them; messages name the file. */
export function readTlsFiles(files: TlsFiles, nowMs: number): Result<TlsPem, string> {
  const checked = readAndInspectTlsFiles(files, nowMs);
  return checked.ok ? ok(checked.value.pem) : checked;
}

export function readAndInspectTlsFiles(files: TlsFiles, nowMs: number): Result<CheckedTls, string> {
  const ca = readText(files.ca, 'CA certificate');
  if (!ca.ok) return ca;
  const cert = readText(files.cert, 'certificate');
  if (!cert.ok) return cert;
  const key = readText(files.key, 'private key');
  if (!key.ok) return key;
  return inspectTlsPem({ ca: ca.value, cert: cert.value, key: key.value }, nowMs, files);
}

function readText(path: string, what: string): Result<string, string> {
  try {
    return ok(readFileSync(path, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(error);
    return err(`cannot read the ${what} ${path}: ${why}`);
  }
}

export function inspectTlsPem(pem: TlsPem, nowMs: number, labels: Labels): Result<CheckedTls, string> {
  const caBlocks = splitPemCertificates(pem.ca);
  if (caBlocks.length === 0) return err(`${labels.ca} holds no PEM certificate`);
  const cas: X509Certificate[] = [];
  for (const [index, block] of caBlocks.entries()) {
    const parsed = parseCertificate(
      block,
      caBlocks.length === 1 ? labels.ca : `${labels.ca} (certificate ${index + 1})`,
    );
    if (!parsed.ok) return parsed;
    cas.push(parsed.value);
  }
  const cert = parseCertificate(pem.cert, labels.cert);
  if (!cert.ok) return cert;
  let key: KeyObject;
  try {
    key = createPrivateKey(pem.key);
  } catch (error) {
    return err(`${labels.key} is not a PEM private key (${(error as Error).message})`);
  }
  if (!cert.value.checkPrivateKey(key)) return err(`${labels.key} is not the private key of ${labels.cert}`);
  const issuer = cas.find((ca) => ca.ca && cert.value.checkIssued(ca) && cert.value.verify(ca.publicKey));
  if (issuer === undefined) {
    const names = cas.map((ca) => describeName(ca.subject)).join(', ');
    return err(
      `${labels.cert} (${describeName(cert.value.subject)}, issued by ${describeName(cert.value.issuer)}) ` +
        `was not issued by the CA of ${labels.ca} (${names})`,
    );
  }
  const certValid = checkValidity(cert.value, nowMs, labels.cert);
  if (!certValid.ok) return certValid;
  const caValid = checkValidity(issuer, nowMs, labels.ca);
  if (!caValid.ok) return caValid;
  const identity = identityOfCertificate(cert.value);
  if (identity === null) {
    return err(
      `${labels.cert} proves no raftlock identity: it needs exactly one URI SAN raftlock:node:<id> or ` +
        `raftlock:user:<name> (it has ${cert.value.subjectAltName ?? 'no subject alternative names'})`,
    );
  }
  return ok({ pem, cert: cert.value, identity });
}

/** Every `-----BEGIN CERTIFICATE-----` block of a PEM text, in order. */
export function splitPemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

function parseCertificate(text: string, label: string): Result<X509Certificate, string> {
  try {
    return ok(new X509Certificate(text));
  } catch (error) {
    return err(`${label} is not a PEM certificate (${(error as Error).message})`);
  }
}

/** The certificate's validity window as dates. */
export function validityOf(cert: X509Certificate): { readonly notBefore: Date; readonly notAfter: Date } {
  // node:crypto prints them as OpenSSL does ("Dec  7 03:07:56 2026 GMT"), which Date parses.
  return { notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) };
}

function checkValidity(cert: X509Certificate, nowMs: number, label: string): Result<void, string> {
  const { notBefore, notAfter } = validityOf(cert);
  const now = new Date(nowMs).toISOString();
  if (nowMs < notBefore.getTime()) {
    return err(`${label} is not valid before ${notBefore.toISOString()} (now ${now}); is this machine's clock behind?`);
  }
  if (nowMs > notAfter.getTime()) return err(`${label} expired on ${notAfter.toISOString()} (now ${now})`);
  return ok(undefined);
}

/** `CN=n1` from node:crypto's multi-line subject text, for messages. */
export function describeName(name: string): string {
  return name
    .split('\n')
    .filter((line) => line !== '')
    .join(', ');
}
