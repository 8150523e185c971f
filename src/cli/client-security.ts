/**
 * How a client command proves who it is (docs/cli.md, "Credentials"): TLS files and a user from
 * the options, else the PKI directory of the cluster file (`security.pki`), `$RAFTLOCK_PKI`, or
 * `./data/pki` (where `raftlock up` writes the CA and root's certificate). Passwords come from
 * `$RAFTLOCK_PASSWORD` or a file, never from an argument (which any local user could read in
 * the process list).
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ClientTls, Credentials } from '../client/client-pki.js';
import { clientPkiFiles, defaultPkiDir, pkiEnvVar } from '../client/client-pki.js';

/** The options every client command takes for this. */
export interface CredentialOptions {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly user?: string;
  readonly passwordFile?: string;
  readonly insecure?: boolean;
}

/** What the cluster file said, when one located the cluster. */
export interface ConfigSecurity {
  readonly pkiDir: string;
  readonly insecure: boolean;
  /** `--config` named it (it then wins over `$RAFTLOCK_PKI`), or it is ./cluster.yml. */
  readonly explicit: boolean;
}

export const passwordEnvVar = 'RAFTLOCK_PASSWORD';
export const userEnvVar = 'RAFTLOCK_USER';

/** What connect() gets: TLS or plaintext (false), and credentials when a password is used. */
export interface CliSecurity {
  readonly tls: ClientTls | false;
  readonly credentials?: Credentials;
}

/** A refusal of the options themselves (exit 2). */
export class CredentialError extends Error {}

function readFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file === '-' ? 0 : file);
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CredentialError(`cannot read ${what} ${file}: ${reason}`);
  }
}

/** A password from a file (`-`: standard input), without its final line break. */
export function readPasswordFile(file: string): string {
  const text = readFile(file, 'the password file')
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (text === '') throw new CredentialError(`the password file ${file} is empty`);
  return text;
}

/** The PKI directory a command reads by default, in the documented order. */
export function pkiDirFor(config: ConfigSecurity | null, env: NodeJS.ProcessEnv): string {
  if (config?.explicit === true) return config.pkiDir;
  const named = env[pkiEnvVar];
  if (named !== undefined && named !== '') return defaultPkiDir(env);
  return config?.pkiDir ?? defaultPkiDir(env);
}

/**
 * Resolves the options into what connect() needs. `callerPassword`: false for commands whose
 * `--password-file` is someone else's new password (`user add`, `user passwd`).
 */
export function cliSecurity(
  options: CredentialOptions,
  config: ConfigSecurity | null,
  env: NodeJS.ProcessEnv = process.env,
  callerPassword = true,
): CliSecurity {
  const user = options.user ?? (env[userEnvVar] || undefined);
  const fromFile = callerPassword && options.passwordFile !== undefined;
  const password = fromFile ? readPasswordFile(options.passwordFile ?? '') : env[passwordEnvVar] || undefined;
  if (options.insecure === true) {
    const extra = [options.ca, options.cert, options.key, options.user].some((o) => o !== undefined);
    if (extra) throw new CredentialError('--insecure talks plaintext: it takes no --ca, --cert, --key or --user');
    return { tls: false };
  }
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new CredentialError('--cert and --key go together');
  }
  if (password !== undefined && user === undefined && fromFile) {
    throw new CredentialError(`--password-file needs --user (or $${userEnvVar})`);
  }
  const dir = pkiDirFor(config, env);
  const files = clientPkiFiles(dir, user ?? 'root');
  const caFile = options.ca ?? (existsSync(files.ca) ? files.ca : null);
  const explicitTls = options.cert !== undefined || user !== undefined;
  if (caFile === null) {
    // An insecure cluster file means plaintext; so does the absence of any CA.
    if (!explicitTls) return { tls: false };
    const where = config?.insecure === true ? 'the cluster file says insecure' : `no ${files.ca}`;
    throw new CredentialError(`a certificate or user needs TLS, but there is no CA (${where}): give --ca FILE`);
  }
  if (config?.insecure === true && options.ca === undefined && !explicitTls) return { tls: false };
  const ca = readFile(caFile, 'the CA certificate');
  if (options.cert !== undefined && options.key !== undefined) {
    const tls = { ca, cert: readFile(options.cert, 'the certificate'), key: readFile(options.key, 'the key') };
    return user !== undefined && password !== undefined ? { tls, credentials: { user, password } } : { tls };
  }
  if (user !== undefined && password !== undefined) return { tls: { ca }, credentials: { user, password } };
  if (existsSync(files.cert) && existsSync(files.key)) {
    return { tls: { ca, cert: readFile(files.cert, 'the certificate'), key: readFile(files.key, 'the key') } };
  }
  if (user !== undefined) {
    const how = callerPassword ? `$${passwordEnvVar} or --password-file FILE` : `$${passwordEnvVar}`;
    throw new CredentialError(`no password for ${user} (set ${how}) and no certificate ${resolve(files.cert)}`);
  }
  return { tls: { ca } };
}
