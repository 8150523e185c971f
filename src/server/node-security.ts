/**
 * How a node of a cluster.yml secures itself (docs/security.md): its TLS material from the PKI
 * directory (`<pki>/ca.crt`, `<pki>/nodes/<id>.crt|key`), or, only when the operator says
 * `insecure`, plaintext without authentication, and then only on loopback addresses unless the
 * operator says it twice (`insecureNonLoopback`). Every refusal says what is missing or wrong,
 * where, and the ways out.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { pkiLayout } from '../security/pki.js';
import { TlsMaterial } from '../security/tls-material.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import type { ClusterConfig, HostPort } from '../config/cluster-config.js';

/** A node runs with TLS material, or, said out loud, insecure. */
export type NodeSecurity = { readonly mode: 'tls'; readonly material: TlsMaterial } | { readonly mode: 'insecure' };

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and `localhost`: reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.toLowerCase().replace(/^::ffff:/, '');
  if (bare === 'localhost' || bare === '::1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

/**
 * Why an insecure node may not listen on these addresses, or null. Plaintext without
 * authentication on a reachable address hands the cluster to anyone on that network.
 */
export function insecureListenProblem(
  config: ClusterConfig,
  nodeId: string,
  listen: { readonly peer: HostPort; readonly client: HostPort },
): string | null {
  if (config.security.insecureNonLoopback) return null;
  const exposed = (['peer', 'client'] as const).filter((role) => !isLoopbackHost(listen[role].host));
  if (exposed.length === 0) return null;
  const where = exposed.map((role) => `${listen[role].host}:${listen[role].port} (${role})`).join(' and ');
  return (
    `node ${nodeId} is insecure (plaintext, no authentication) but would listen on ${where}, ` +
    'which is not a loopback address: anyone who reaches it could act on the cluster. ' +
    'Run it with TLS (drop security.insecure and --insecure), or, on a network you trust, ' +
    `say so twice: insecureNonLoopback: true under security: in ${config.file}`
  );
}

/** The ways out of a node without TLS material, for its refusal. */
function waysOut(config: ClusterConfig, nodeId: string): string {
  const dir = config.security.pkiDir;
  const self = config.nodes.find((n) => n.id === nodeId);
  const hosts = self === undefined ? 'HOST' : [...new Set([self.peer.host, self.client.host])].join(' --host ');
  return [
    'Either create it:',
    `  raftlock up --config ${config.file}   (a local cluster: makes the CA, every node's certificate and root's)`,
    `  raftlock certs create-ca --dir ${dir}   (once per cluster, on the machine that keeps the CA key)`,
    `  raftlock certs create-node ${nodeId} --host ${hosts} --dir ${dir}   (then copy ca.crt and nodes/${nodeId}.* here)`,
    'or run without TLS or authentication (loopback addresses only):',
    `  insecure: true under security: in ${config.file}, or raftlock start --insecure`,
  ].join('\n');
}

/**
 * The TLS material of node `nodeId` from the cluster's PKI directory, checked (parses, signed by
 * the CA, valid now, proves node `nodeId`).
 */
export function loadNodeTls(config: ClusterConfig, nodeId: string, nowMs: number): Result<TlsMaterial, string> {
  const files = pkiLayout.node(config.security.pkiDir, nodeId);
  const missing = [files.ca, files.cert, files.key].filter((file) => !existsSync(file));
  if (missing.length > 0) {
    const what = `node ${nodeId} has no TLS material: missing ${missing.join(', ')}`;
    return err(`${what} (security.pki of ${config.file}).\n${waysOut(config, nodeId)}`);
  }
  const loaded = TlsMaterial.fromFiles(files, nowMs);
  if (!loaded.ok) return err(`node ${nodeId}: ${loaded.error}`);
  const identity = loaded.value.identity;
  if (identity.kind !== 'node' || identity.nodeId !== nodeId) {
    const proves = identity.kind === 'node' ? `node ${identity.nodeId}` : `user ${identity.user}`;
    return err(`node ${nodeId}: ${files.cert} is the certificate of ${proves}, not of node ${nodeId}`);
  }
  return ok(loaded.value);
}

/**
 * What node `nodeId` runs with: insecure when the file or the command line says so (on allowed
 * addresses only), else its TLS material.
 */
export function nodeSecurityFor(
  config: ClusterConfig,
  nodeId: string,
  options: {
    readonly insecure: boolean;
    readonly listen: { readonly peer: HostPort; readonly client: HostPort };
    readonly nowMs: number;
  },
): Result<NodeSecurity, string> {
  if (options.insecure || config.security.insecure) {
    const problem = insecureListenProblem(config, nodeId, options.listen);
    return problem === null ? ok({ mode: 'insecure' }) : err(problem);
  }
  const material = loadNodeTls(config, nodeId, options.nowMs);
  return material.ok ? ok({ mode: 'tls', material: material.value }) : material;
}
