/**
 * Certificate creation: the cluster's CA, node certificates and user (client) certificates, all
 * ECDSA P-256, made with @peculiar/x509 on WebCrypto (no hand-written ASN.1). What each certificate
 * carries is the contract of docs/security.md ("Identities").
 */
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { isValidNodeId } from '../raft/types.js';
import { identityUri, isValidUserName } from './identity.js';
import type { CertIdentity } from './identity.js';
import { splitPemCertificates } from './tls-check.js';
import type { TlsPem } from './tls-check.js';
import { webcrypto, x509 } from './x509.js';

export interface CertKeyPem {
  readonly cert: string;
  readonly key: string;
}

export const caValidDaysDefault = 3650;
export const leafValidDaysDefault = 825;
/**
 * Certificates start this long before they are made, so a machine whose clock is a little behind
 * the one that made them does not find them "not valid yet".
 */
const backdateMs = 5 * 60_000;
const dayMs = 86_400_000;

const keyAlgorithm = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const signingAlgorithm = { name: 'ECDSA', hash: 'SHA-256' } as const;

type KeyPair = { readonly publicKey: webcrypto.CryptoKey; readonly privateKey: webcrypto.CryptoKey };

interface Validity {
  readonly validDays?: number;
  readonly notBefore?: Date;
}

export async function createCa(options: { commonName: string } & Validity): Promise<CertKeyPem> {
  const keys = await generateKeys();
  const { notBefore, notAfter } = validity(options, caValidDaysDefault);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [options.commonName] }],
    notBefore,
    notAfter,
    keys,
    signingAlgorithm,
    extensions: [
      // A CA that signs leaf certificates only: path length 0.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: pemText(cert.toString('pem')), key: await privateKeyPem(keys.privateKey) };
}

/** `hosts`: IP addresses become IP SANs, anything else a DNS SAN. */
export async function createNodeCert(
  ca: CertKeyPem,
  options: { nodeId: string; hosts: readonly string[] } & Validity,
): Promise<CertKeyPem> {
  if (!isValidNodeId(options.nodeId)) throw new Error(`not a node id: ${JSON.stringify(options.nodeId)}`);
  const hostNames = options.hosts.map((host): { type: 'ip' | 'dns'; value: string } => {
    const problem = hostProblem(host);
    if (problem !== null) throw new Error(problem);
    return { type: isIP(host) === 0 ? 'dns' : 'ip', value: host };
  });
  const identity: CertIdentity = { kind: 'node', nodeId: options.nodeId };
  const names = [{ type: 'url' as const, value: identityUri(identity) }, ...hostNames];
  const usages = [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
  return createLeaf(ca, options.nodeId, names, usages, options);
}

export async function createUserCert(ca: CertKeyPem, options: { user: string } & Validity): Promise<CertKeyPem> {
  if (!isValidUserName(options.user)) {
    throw new Error(`not a user name (1..128 of A-Z a-z 0-9 . _ @ -): ${JSON.stringify(options.user)}`);
  }
  const identity: CertIdentity = { kind: 'user', user: options.user };
  const names = [{ type: 'url' as const, value: identityUri(identity) }];
  return createLeaf(ca, options.user, names, [x509.ExtendedKeyUsage.clientAuth], options);
}

/** null, or why `host` cannot be a node certificate's address. */
export function hostProblem(host: string): string | null {
  if (isIP(host) !== 0) return null;
  // A DNS name: labels of letters, digits and hyphens (a leading `*.` would be a wildcard: not for nodes).
  const label = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
  if (host.length > 0 && host.length <= 253 && host.split('.').every((part) => label.test(part))) return null;
  return `not an IP address or DNS name: ${JSON.stringify(host)}`;
}

async function createLeaf(
  ca: CertKeyPem,
  commonName: string,
  names: readonly { type: 'url' | 'ip' | 'dns'; value: string }[],
  usages: readonly x509.ExtendedKeyUsageType[],
  options: Validity,
): Promise<CertKeyPem> {
  const signer = await loadSigningCa(ca);
  const keys = await generateKeys();
  const { notBefore, notAfter } = validity(options, leafValidDaysDefault);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [commonName] }],
    // The CA's subject exactly as encoded in its certificate, so chain building matches it.
    issuer: signer.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: signer.key,
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([...usages], false),
      new x509.SubjectAlternativeNameExtension([...names], false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      // Names the signing key, so a ca.crt holding an old and a new CA (rotation) picks the right one.
      await x509.AuthorityKeyIdentifierExtension.create(signer.cert.publicKey),
    ],
  });
  return { cert: pemText(cert.toString('pem')), key: await privateKeyPem(keys.privateKey) };
}

/**
 * The CA key and, from the CA PEM (which may hold several CA certificates while a CA is being
 * rotated), the certificate that belongs to that key.
 */
async function loadSigningCa(ca: CertKeyPem): Promise<{ cert: x509.X509Certificate; key: webcrypto.CryptoKey }> {
  const keyObject = createPrivateKey(ca.key);
  const certs = splitPemCertificates(ca.cert);
  const own = certs.find((pem) => new X509Certificate(pem).checkPrivateKey(keyObject));
  if (own === undefined) throw new Error('the CA key does not belong to any certificate of the CA PEM');
  const der = keyObject.export({ type: 'pkcs8', format: 'der' });
  const key = await webcrypto.subtle.importKey('pkcs8', der, keyAlgorithm, false, ['sign']);
  return { cert: new x509.X509Certificate(own), key };
}

async function generateKeys(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(keyAlgorithm, true, ['sign', 'verify'])) as KeyPair;
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  return pemText(x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY'));
}

/** PEM as files have it: ending in a newline, so `cat new-ca.crt >> ca.crt` makes a valid bundle. */
function pemText(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

/** 128 random bits, positive (top bit clear) and never starting with a zero byte. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

function validity(options: Validity, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const days = options.validDays ?? defaultDays;
  if (!(days > 0) || !Number.isFinite(days)) throw new Error(`validDays must be > 0, got ${days}`);
  const notBefore = options.notBefore ?? new Date(Date.now() - backdateMs);
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * dayMs) };
}

/** In memory, for startCluster() and tests: a CA, a certificate per node (127.0.0.1, localhost) and per user. */
export async function createThrowawayPki(
  nodeIds: readonly string[],
  users: readonly string[] = ['root'],
): Promise<{ ca: CertKeyPem; nodes: ReadonlyMap<string, TlsPem>; users: ReadonlyMap<string, TlsPem> }> {
  const ca = await createCa({ commonName: `raftlock throwaway CA ${randomBytes(4).toString('hex')}` });
  const nodes = new Map<string, TlsPem>();
  for (const nodeId of nodeIds) {
    const leaf = await createNodeCert(ca, { nodeId, hosts: ['127.0.0.1', '::1', 'localhost'] });
    nodes.set(nodeId, { ca: ca.cert, ...leaf });
  }
  const userPems = new Map<string, TlsPem>();
  for (const user of users) userPems.set(user, { ca: ca.cert, ...(await createUserCert(ca, { user })) });
  return { ca, nodes, users: userPems };
}
