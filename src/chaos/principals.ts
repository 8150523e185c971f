/**
 * Who the chaos workload acts as. Not root: an ordinary user's sessions are owned and checked like
 * any application's, so the run also proves that authorization holds under the nemesis (every
 * command of a worker is authorized when it applies, on every node, across leader changes). Two
 * users with every right on every name and no admin role:
 * - `worker` (the lock workers, one connection per session) proves itself with a certificate;
 * - `kv` (the one shared versioned-key client) with a password, so each time it moves to another
 *   node (a kill, a partition, a leader change) it logs in there again: the password path and its
 *   node-local tokens run through every fault too.
 */
import { connect } from '../client/client.js';
import type { ClientTls, Credentials } from '../client/client-pki.js';
import { createUserCert } from '../security/pki.js';
import { readCa } from '../security/pki-files.js';
import type { LocalRootTls } from '../config/local-cluster-file.js';

export interface WorkloadPrincipals {
  /** The lock workers' TLS: the CA and `worker`'s certificate. */
  readonly worker: ClientTls;
  /** The versioned-key client's: the CA only, and `kv`'s password. */
  readonly kv: { readonly tls: ClientTls; readonly credentials: Credentials };
}

export const workloadRole = 'workload';

/**
 * Creates the role and both users as root (on the running cluster of `endpoints`) and `worker`'s
 * certificate with the CA of `pkiDir`.
 */
export async function createWorkloadPrincipals(options: {
  readonly endpoints: readonly string[];
  readonly clusterId: string;
  readonly rootTls: LocalRootTls;
  readonly pkiDir: string;
}): Promise<WorkloadPrincipals> {
  const password = 'chaos kv password';
  const root = await connect({
    endpoints: options.endpoints,
    clusterId: options.clusterId,
    tls: options.rootTls,
    requestTimeoutMs: 20_000,
  });
  try {
    await root.roles.add(workloadRole);
    await root.roles.grant(workloadRole, '', ['lock', 'read', 'write', 'watch']);
    await root.users.add('worker', { password: null });
    await root.users.grant('worker', workloadRole);
    await root.users.add('kv', { password });
    await root.users.grant('kv', workloadRole);
  } finally {
    await root.close().catch(() => undefined);
  }
  const certificate = await createUserCert(await readCa(options.pkiDir), { user: 'worker' });
  const ca = options.rootTls.ca;
  return { worker: { ca, ...certificate }, kv: { tls: { ca }, credentials: { user: 'kv', password } } };
}
