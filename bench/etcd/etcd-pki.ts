// Certificates for the benchmark's TLS etcd, made with the project's own PKI helpers
// (src/security/pki.ts) so that both systems run on the same kind of keys: ECDSA P-256, one CA.
// Each member gets a certificate for 127.0.0.1 that serves both its client and its peer port (and
// that it presents as a client to its peers and to its own JSON gateway: serverAuth + clientAuth);
// the benchmark's clients share one client certificate.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCa, createNodeCert, createUserCert } from '../../src/security/pki.js';

/**
 * The names in every member's certificate: the address the clients dial, and `localhost`, the
 * name the gRPC client verifies (a TLS server name should not be an IP address).
 */
export const etcdMemberHosts = ['127.0.0.1', 'localhost'] as const;

/** What a TLS client needs, as PEM text: the CA to trust, its certificate and key. */
export interface ClientTlsPem {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** The files an etcd member is started with (paths). */
export interface MemberTlsFiles {
  readonly cert: string;
  readonly key: string;
}

export interface EtcdTlsFiles {
  /** The CA every member and client trusts (`--trusted-ca-file`, `--peer-trusted-ca-file`). */
  readonly caFile: string;
  readonly members: ReadonlyMap<string, MemberTlsFiles>;
  /** The benchmark clients' certificate, signed by the same CA. */
  readonly client: ClientTlsPem;
}

/** Creates a CA, a certificate per member and a client certificate, and writes the members' files under `dir`. */
export async function writeEtcdPki(dir: string, memberNames: readonly string[]): Promise<EtcdTlsFiles> {
  const ca = await createCa({ commonName: 'raftlock bench etcd CA' });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, ca.cert);
  const members = new Map<string, MemberTlsFiles>();
  for (const name of memberNames) {
    const pem = await createNodeCert(ca, { nodeId: name, hosts: etcdMemberHosts });
    const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
    writeFileSync(files.cert, pem.cert);
    writeFileSync(files.key, pem.key, { mode: 0o600 });
    members.set(name, files);
  }
  const client = await createUserCert(ca, { user: 'bench' });
  return { caFile, members, client: { ca: ca.cert, cert: client.cert, key: client.key } };
}
