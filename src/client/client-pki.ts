/**
 * Where a client finds its TLS material when it is not given any: the documented place is
 * `$RAFTLOCK_PKI`, else `./data/pki` (what `raftlock up` creates next to cluster.yml). There it
 * reads the cluster's `ca.crt` and, when it brings no password, the `root` user's certificate
 * `users/root.crt` + `users/root.key`. No `ca.crt` there means an insecure (plaintext) cluster.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RaftlockError } from './errors.js';

/** The environment variable naming the PKI directory clients read by default. */
export const pkiEnvVar = 'RAFTLOCK_PKI';

/** The PKI directory relative to the working directory when `$RAFTLOCK_PKI` is not set. */
export const defaultPkiPath = './data/pki';

/**
 * TLS for client connections: the cluster's CA (which every node's certificate must chain to),
 * and optionally this client's own certificate and key (the principal is its user).
 */
export interface ClientTls {
  readonly ca: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

/** A user name and password, sent in the Hello (inside TLS only). */
export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** The files of the client-side PKI layout under `dir`. */
export function clientPkiFiles(
  dir: string,
  user = 'root',
): { readonly ca: string; readonly cert: string; readonly key: string } {
  return {
    ca: join(dir, 'ca.crt'),
    cert: join(dir, 'users', `${user}.crt`),
    key: join(dir, 'users', `${user}.key`),
  };
}

/** `$RAFTLOCK_PKI` when set (and not empty), else `./data/pki`; absolute. */
export function defaultPkiDir(env: NodeJS.ProcessEnv = process.env): string {
  const named = env[pkiEnvVar];
  return resolve(named !== undefined && named !== '' ? named : defaultPkiPath);
}

function read(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RaftlockError('INVALID_ARGUMENT', `cannot read ${file}: ${reason}`);
  }
}

/**
 * The TLS material in `dir`: null when it has no `ca.crt` (the cluster is insecure); else the CA,
 * plus `user`'s certificate and key when `withCertificate` and both files exist.
 */
export function readClientPki(dir: string, withCertificate: boolean, user = 'root'): ClientTls | null {
  const files = clientPkiFiles(dir, user);
  if (!existsSync(files.ca)) return null;
  const ca = read(files.ca);
  if (!withCertificate || !existsSync(files.cert) || !existsSync(files.key)) return { ca };
  return { ca, cert: read(files.cert), key: read(files.key) };
}

/**
 * The TLS and credentials a client uses, from what it was given: `tls: false` is plaintext;
 * given TLS is used as is; without it, the default directory's (its CA; root's certificate only
 * when no credentials are given, since a certificate names the principal before a password would).
 * Passwords never travel in plaintext.
 */
export function clientSecurity(
  tls: ClientTls | false | undefined,
  credentials: Credentials | undefined,
  env: NodeJS.ProcessEnv = process.env,
): { readonly tls: ClientTls | null; readonly credentials: Credentials | null } {
  const chosen = tls === false ? null : (tls ?? readClientPki(defaultPkiDir(env), credentials === undefined));
  if (credentials !== undefined && chosen === null) {
    const where = tls === false ? 'tls is false' : `no ${join(defaultPkiDir(env), 'ca.crt')}`;
    const message = `credentials are only sent over TLS (${where}): give tls.ca, the cluster's CA`;
    throw new RaftlockError('INVALID_ARGUMENT', message);
  }
  if (chosen !== null && (chosen.cert === undefined) !== (chosen.key === undefined)) {
    throw new RaftlockError('INVALID_ARGUMENT', 'tls.cert and tls.key go together: give both or neither');
  }
  return { tls: chosen, credentials: credentials ?? null };
}
