/**
 * The PKI directory (`./data/pki` by default) and how files get into it: never half-written,
 * never overwritten unless asked, private keys mode 0600 from the first byte.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CertKeyPem } from './certificates.js';
import type { TlsFiles } from './tls-check.js';

/** A refusal about the PKI directory; the message says what is wrong, where, and the way out. */
export class PkiError extends Error {}

export const pkiLayout = {
  /** ca.crt and ca.key. The key stays on the machine that signs; nodes need only ca.crt. */
  ca(dir: string): { readonly cert: string; readonly key: string } {
    return { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  },
  /** What node `id` loads: the CA certificate and nodes/<id>.crt|key. */
  node(dir: string, id: string): TlsFiles {
    return { ca: join(dir, 'ca.crt'), cert: join(dir, 'nodes', `${id}.crt`), key: join(dir, 'nodes', `${id}.key`) };
  },
  /** What a client of user `name` loads: the CA certificate and users/<name>.crt|key. */
  user(dir: string, name: string): TlsFiles {
    return { ca: join(dir, 'ca.crt'), cert: join(dir, 'users', `${name}.crt`), key: join(dir, 'users', `${name}.key`) };
  },
} as const;

export const privateKeyMode = 0o600;
export const certificateMode = 0o644;

/**
 * Writes `text` to `path` through a temporary file in the same directory, so a crash never
 * leaves a partial file. Without `force` an existing file is refused (and the check is atomic:
 * the final step is a hard link, which fails if the name exists). The mode is set on the
 * temporary file before any byte is written.
 */
export async function writeNewFile(
  path: string,
  text: string,
  options: { readonly mode: number; readonly force: boolean },
): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', options.mode);
  try {
    await handle.chmod(options.mode); // the umask may have taken bits away; set exactly these
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    if (options.force) {
      await rename(temporary, path);
    } else {
      await link(temporary, path);
      await unlink(temporary);
    }
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new PkiError(`${path} already exists; not overwriting it (use --force to replace it)`);
    }
    throw error;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** The CA certificate and key of `dir`, for signing; refuses with what is missing. */
export async function readCa(dir: string): Promise<CertKeyPem> {
  const paths = pkiLayout.ca(dir);
  const [cert, key] = await Promise.all([readIfExists(paths.cert), readIfExists(paths.key)]);
  if (cert === null && key === null) {
    throw new PkiError(
      `no CA in ${dir}: neither ${paths.cert} nor ${paths.key} exists (create one with: raftlock certs create-ca --dir ${dir})`,
    );
  }
  if (key === null) {
    throw new PkiError(
      `${paths.key} is missing (${paths.cert} exists): certificates can only be signed where the CA key is`,
    );
  }
  if (cert === null)
    throw new PkiError(`${paths.cert} is missing (${paths.key} exists): restore it from a node, where it is copied`);
  return { cert, key };
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Writes a certificate (0644) and its key (0600); the key first, so a certificate never lacks one. */
export async function writeCertAndKey(
  paths: { readonly cert: string; readonly key: string },
  pem: CertKeyPem,
  force: boolean,
): Promise<void> {
  if (!force) {
    for (const path of [paths.cert, paths.key]) {
      if (await exists(path))
        throw new PkiError(`${path} already exists; not overwriting it (use --force to replace it)`);
    }
  }
  await writeNewFile(paths.key, pem.key, { mode: privateKeyMode, force });
  await writeNewFile(paths.cert, pem.cert, { mode: certificateMode, force });
}
