/**
 * The first start of `raftlock up`: a CA, a certificate per node and root's user certificate in
 * the PKI directory, made only where missing. It surveys everything before writing anything and
 * refuses a directory in a state it cannot complete safely (a certificate without its key, leaf
 * certificates whose CA is gone, new certificates wanted but the CA key absent), saying what to do.
 */
import { createCa, createNodeCert, createUserCert } from './certificates.js';
import type { CertKeyPem } from './certificates.js';
import { exists, PkiError, pkiLayout, readCa, writeCertAndKey } from './pki-files.js';

interface Leaf {
  readonly paths: { readonly cert: string; readonly key: string };
  readonly make: (ca: CertKeyPem) => Promise<CertKeyPem>;
}

export async function ensureLocalPki(
  dir: string,
  nodes: readonly { readonly id: string; readonly hosts: readonly string[] }[],
): Promise<{ created: readonly string[] }> {
  const leaves: Leaf[] = [
    ...nodes.map((node) => ({
      paths: pkiLayout.node(dir, node.id),
      make: (ca: CertKeyPem) => createNodeCert(ca, { nodeId: node.id, hosts: node.hosts }),
    })),
    { paths: pkiLayout.user(dir, 'root'), make: (ca: CertKeyPem) => createUserCert(ca, { user: 'root' }) },
  ];
  const missing: Leaf[] = [];
  const present: string[] = [];
  for (const leaf of leaves) {
    const [cert, key] = await Promise.all([exists(leaf.paths.cert), exists(leaf.paths.key)]);
    if (cert !== key) {
      const [have, lack] = cert ? [leaf.paths.cert, leaf.paths.key] : [leaf.paths.key, leaf.paths.cert];
      throw new PkiError(`${have} exists without ${lack}: restore ${lack}, or remove ${have} so both are made anew`);
    }
    if (cert) present.push(leaf.paths.cert);
    else missing.push(leaf);
  }

  const caPaths = pkiLayout.ca(dir);
  const [caCert, caKey] = await Promise.all([exists(caPaths.cert), exists(caPaths.key)]);
  const created: string[] = [];
  let ca: CertKeyPem;
  if (!caCert && !caKey) {
    if (present.length > 0) {
      throw new PkiError(
        `${present.join(', ')} exist but their CA (${caPaths.cert}, ${caPaths.key}) does not: ` +
          `restore the CA, or remove ${dir} to start over with a new CA`,
      );
    }
    ca = await createCa({ commonName: `raftlock local CA ${new Date().toISOString().slice(0, 10)}` });
    await writeCertAndKey(caPaths, ca, false);
    created.push(caPaths.cert, caPaths.key);
  } else if (missing.length === 0) {
    // Everything a node needs exists; the CA key may well live elsewhere (only ca.crt is needed).
    if (!caCert) throw new PkiError(`${caPaths.cert} is missing (${caPaths.key} exists): restore it`);
    return { created };
  } else {
    if (!caKey) {
      const wanted = missing.map((leaf) => leaf.paths.cert).join(', ');
      throw new PkiError(
        `${wanted} must be made, but the CA key ${caPaths.key} is not here: make them where the CA key is ` +
          '(raftlock certs create-node / create-client) and copy them here',
      );
    }
    ca = await readCa(dir);
  }
  for (const leaf of missing) {
    await writeCertAndKey(leaf.paths, await leaf.make(ca), false);
    created.push(leaf.paths.cert, leaf.paths.key);
  }
  return { created };
}
