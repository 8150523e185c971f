/**
 * `raftlock certs create-ca | create-node | create-client | show`: the cluster's certificates as
 * files under a PKI directory (pkiLayout). Exit codes: 0 done; 1 (`show`) the certificate is not
 * valid now or not issued by `--ca`; 2 refused: bad arguments, a file that exists (without
 * --force), a missing CA, a file that cannot be read or written.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostProblem } from '../security/certificates.js';
import { formatIdentity, identityOfCertificate, isValidUserName } from '../security/identity.js';
import { readCa, writeCertAndKey } from '../security/pki-files.js';
import {
  caValidDaysDefault,
  createCa,
  createNodeCert,
  createUserCert,
  leafValidDaysDefault,
  PkiError,
  pkiLayout,
} from '../security/pki.js';
import { describeName, validityOf } from '../security/tls-check.js';
import { readTlsFiles } from '../security/tls-material.js';
import type { TlsFiles } from '../security/tls-material.js';
import { CliExit, exitCodes, nodeIdArgument } from './client-common.js';

export const defaultPkiDir = './data/pki';

interface CommonOptions {
  readonly dir: string;
  readonly days?: number;
  readonly force: boolean;
}

function daysOption(text: string): number {
  const days = Number(text);
  if (!Number.isSafeInteger(days) || days < 1 || days > 36_500) {
    throw new InvalidArgumentError(`--days must be a whole number of days in 1..36500, got ${JSON.stringify(text)}`);
  }
  return days;
}

function userArgument(text: string): string {
  if (!isValidUserName(text)) {
    throw new InvalidArgumentError(`not a user name (1..128 of A-Z a-z 0-9 . _ @ -): ${JSON.stringify(text)}`);
  }
  return text;
}

function hostOption(text: string, previous: readonly string[] | undefined): string[] {
  const problem = hostProblem(text);
  if (problem !== null) throw new InvalidArgumentError(problem);
  return [...(previous ?? []), text];
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function runCreateCa(options: CommonOptions): Promise<number> {
  const paths = pkiLayout.ca(options.dir);
  const commonName = `raftlock CA ${new Date().toISOString().slice(0, 10)}`;
  const ca = await createCa({ commonName, ...(options.days === undefined ? {} : { validDays: options.days }) });
  await writeCertAndKey(paths, ca, options.force);
  const { notAfter } = validityOf(new X509Certificate(ca.cert));
  print(`wrote ${paths.cert} (CA "${commonName}", valid until ${notAfter.toISOString()})`);
  print(`wrote ${paths.key} (mode 0600: keep it on this machine only; it signs every certificate)`);
  if (options.force)
    print('certificates signed by the CA this replaced are no longer trusted once nodes load the new ca.crt');
  return exitCodes.ok;
}

async function runCreateNode(
  nodeId: string,
  options: CommonOptions & { readonly host?: readonly string[] },
): Promise<number> {
  if (options.host === undefined || options.host.length === 0) {
    throw new CliExit(
      exitCodes.usage,
      'create-node needs at least one --host (an IP address or DNS name the node is reached at)',
    );
  }
  const ca = await readCa(options.dir);
  const validDays = options.days === undefined ? {} : { validDays: options.days };
  const pem = await createNodeCert(ca, { nodeId, hosts: options.host, ...validDays });
  const files = pkiLayout.node(options.dir, nodeId);
  await writeCertAndKey(files, pem, options.force);
  reportLeaf(files, `node ${nodeId}, hosts ${options.host.join(' ')}`);
  print(`copy to ${nodeId}'s machine, into its pki directory: ${files.ca}, ${files.cert}, ${files.key} (never ca.key)`);
  return exitCodes.ok;
}

async function runCreateClient(user: string, options: CommonOptions): Promise<number> {
  const ca = await readCa(options.dir);
  const validDays = options.days === undefined ? {} : { validDays: options.days };
  const pem = await createUserCert(ca, { user, ...validDays });
  const files = pkiLayout.user(options.dir, user);
  await writeCertAndKey(files, pem, options.force);
  reportLeaf(files, `user ${user}`);
  print(`use it with: --ca ${files.ca} --cert ${files.cert} --key ${files.key}`);
  return exitCodes.ok;
}

/** Reads back what was just written, so a CA that cannot sign for today is caught here. */
function reportLeaf(files: TlsFiles, what: string): void {
  const checked = readTlsFiles(files, Date.now());
  if (!checked.ok) throw new PkiError(`wrote ${files.cert}, but it does not check: ${checked.error}`);
  const { notAfter } = validityOf(new X509Certificate(checked.value.cert));
  print(`wrote ${files.cert} (${what}, valid until ${notAfter.toISOString()})`);
  print(`wrote ${files.key} (mode 0600)`);
  const caExpires = validityOf(new X509Certificate(checked.value.ca)).notAfter;
  if (caExpires < notAfter) {
    print(`note: the CA expires on ${caExpires.toISOString()}, before this certificate; it is refused from then on`);
  }
}

async function runShow(file: string, options: { readonly ca?: string }): Promise<number> {
  const cert = parseCertificateFile(file, await readText(file));
  const identity = identityOfCertificate(cert);
  const { notBefore, notAfter } = validityOf(cert);
  const now = Date.now();
  const status =
    now < notBefore.getTime()
      ? `NOT VALID YET: not valid before ${notBefore.toISOString()}`
      : now > notAfter.getTime()
        ? `EXPIRED on ${notAfter.toISOString()}`
        : `valid for ${Math.floor((notAfter.getTime() - now) / 86_400_000)} more days`;
  const rows: [string, string][] = [
    ['file', file],
    ['subject', describeName(cert.subject)],
    ['identity', identity === null ? (cert.ca ? 'none (a CA certificate)' : 'none') : formatIdentity(identity)],
    ['issuer', describeName(cert.issuer)],
    ['serial', cert.serialNumber],
    ['valid', `${notBefore.toISOString()} to ${notAfter.toISOString()}`],
    ['names', cert.subjectAltName ?? '-'],
    ['status', status],
  ];
  let issued = true;
  if (options.ca !== undefined) {
    const ca = parseCertificateFile(options.ca, await readText(options.ca));
    issued = cert.checkIssued(ca) && cert.verify(ca.publicKey);
    rows.push(['issued by', `${options.ca}: ${issued ? 'yes' : 'NO'}`]);
  }
  for (const [name, value] of rows) print(`${name.padEnd(9)}  ${value}`);
  return issued && status.startsWith('valid') ? exitCodes.ok : exitCodes.refused;
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new CliExit(exitCodes.usage, `cannot read ${file}: ${(error as Error).message}`);
  }
}

function parseCertificateFile(file: string, text: string): X509Certificate {
  try {
    return new X509Certificate(text);
  } catch (error) {
    throw new CliExit(exitCodes.usage, `${file} is not a PEM certificate (${(error as Error).message})`);
  }
}

/** Runs an action; every refusal exits 2 with its message, as bad arguments do. */
function action<A extends unknown[]>(run: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      process.exitCode = await run(...args);
    } catch (error: unknown) {
      const code = error instanceof CliExit ? error.code : exitCodes.usage;
      process.stderr.write(`raftlock certs: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = code;
    }
  };
}

function withCommonOptions(command: Command): Command {
  return usageExits(
    command
      .option('--dir <dir>', 'the PKI directory', defaultPkiDir)
      .option('--days <n>', 'validity in days', daysOption)
      .option('--force', 'replace files that exist', false),
  );
}

/** Usage errors exit 2 (1 means "refused" for the CLI); help exits 0. */
function usageExits(command: Command): Command {
  // Thrown to bin/raftlock.ts, which exits with usageExitCode (src/cli/program.ts).
  return command.exitOverride();
}

export function registerCertsCommand(program: Command): void {
  const certs = usageExits(
    program
      .command('certs')
      .description("create and inspect the cluster's CA, node and client certificates (docs/security.md)"),
  );
  withCommonOptions(
    certs
      .command('create-ca')
      .description(`create the cluster's CA: ca.crt and ca.key (default ${caValidDaysDefault} days)`),
  ).action(action((options: CommonOptions) => runCreateCa(options)));
  withCommonOptions(
    certs
      .command('create-node')
      .description(`create nodes/NODE.crt|key signed by the CA of --dir (default ${leafValidDaysDefault} days)`)
      .argument('<node>', 'the node id, as in cluster.yml', nodeIdArgument)
      .option('--host <host>', 'an IP address or DNS name of the node (required; repeat for several)', hostOption),
  ).action(action((nodeId: string, options: CommonOptions & { host?: string[] }) => runCreateNode(nodeId, options)));
  withCommonOptions(
    certs
      .command('create-client')
      .description(`create users/USER.crt|key, a client certificate for USER (default ${leafValidDaysDefault} days)`)
      .argument('<user>', 'the user name the certificate proves', userArgument),
  ).action(action((user: string, options: CommonOptions) => runCreateClient(user, options)));
  usageExits(
    certs
      .command('show')
      .description('print a certificate: subject, identity, issuer, validity; exit 1 if not valid now')
      .argument('<file>', 'a PEM certificate file')
      .option('--ca <file>', 'also check that this CA certificate issued it'),
  ).action(action((file: string, options: { ca?: string }) => runShow(file, options)));
}
