/**
 * What every client command of the CLI shares: how the cluster is found (--endpoints, --config,
 * RAFTLOCK_ENDPOINTS, ./cluster.yml) and how the command proves who it is (client-security.ts),
 * durations, output, and the exit codes of docs/cli.md.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import { connect, RaftlockClient } from '../client/client.js';
import { RaftlockError } from '../client/errors.js';
import type { ConnectOptions } from '../client/options.js';
import { isValidNodeId } from '../raft/types.js';
import type { NodeId } from '../raft/types.js';
import { loadClusterConfig } from '../config/cluster-config.js';
import { durationFlag } from './duration-flag.js';
import type { CliSecurity, ConfigSecurity, CredentialOptions } from './client-security.js';
import { cliSecurity, CredentialError, passwordEnvVar, userEnvVar } from './client-security.js';

/** Exit codes of the client commands (docs/cli.md). */
export const exitCodes = {
  ok: 0,
  /** The cluster refused: busy, wait timed out, not the holder, version mismatch, not found… */
  refused: 1,
  /** Bad arguments, options or configuration. */
  usage: 2,
  /** The cluster could not be reached or gave no definite answer in time. */
  unavailable: 3,
  /** The session was lost while holding (lock, acquire --hold, elect). */
  sessionLost: 4,
  /** No valid credentials: the cluster refused who we are, or we refused a node's certificate. */
  unauthenticated: 5,
  /** Authenticated, but the principal lacks the right (or is not an admin). */
  permissionDenied: 6,
} as const;

export interface ClusterOptions extends CredentialOptions {
  readonly endpoints?: string;
  readonly config?: string;
  readonly clusterId?: string;
  readonly timeout: number;
  readonly json?: boolean;
}

/** Per command: whether `--password-file` is the caller's (false: the new password of `user add`). */
export interface ClusterOptionsShape {
  readonly callerPasswordFile?: boolean;
}

/** Thrown inside actions to exit with a code and a message. */
export class CliExit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export function integerOption(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`${JSON.stringify(text)} is not an integer ≥ 0`);
  }
  return value;
}

export function nodeIdArgument(text: string): NodeId {
  if (!isValidNodeId(text)) {
    throw new InvalidArgumentError(`not a node id: ${JSON.stringify(text)}`);
  }
  return text;
}

/**
 * Adds the options that locate the cluster and prove who the caller is; `json` too when the
 * command prints data.
 */
export function clusterOptions(command: Command, json: boolean, shape: ClusterOptionsShape = {}): Command {
  command
    .option('-e, --endpoints <list>', 'client addresses host:port,… (or $RAFTLOCK_ENDPOINTS)')
    .option('-c, --config <file>', 'addresses, cluster id and PKI directory from a cluster.yml (./cluster.yml)')
    .option('--cluster-id <id>', 'only talk to this cluster (default: from --config, else any)')
    .addOption(durationFlag('--timeout <duration>', 'give up on the cluster after this', 30_000))
    .option('--ca <file>', "the cluster's CA certificate (default: ca.crt of the PKI directory)")
    .option('--cert <file>', 'client certificate (default: users/root.crt of the PKI directory)')
    .option('--key <file>', 'its private key')
    .option('--user <name>', `authenticate as this user (or $${userEnvVar}); password from $${passwordEnvVar}`)
    .option('--insecure', 'plaintext, no authentication (a cluster with security.insecure)');
  if (shape.callerPasswordFile !== false) {
    command.option('--password-file <file>', "the user's password, from a file ('-': standard input)");
  }
  if (json) command.option('--json', 'print JSON instead of text');
  // Usage errors exit 2 (not commander's 1, which means "refused" here); help and version exit 0.
  // Thrown to bin/raftlock.ts, which exits with usageExitCode (src/cli/program.ts).
  command.exitOverride();
  return command;
}

/** An endpoint must be HOST:PORT; anything else is bad usage (exit 2), not an unreachable cluster. */
function checkEndpoint(endpoint: string): void {
  const at = endpoint.lastIndexOf(':');
  const port = Number(endpoint.slice(at + 1));
  if (at <= 0 || !/^\d+$/.test(endpoint.slice(at + 1)) || port < 1 || port > 65_535) {
    throw new CliExit(
      exitCodes.usage,
      `--endpoints: ${JSON.stringify(endpoint)} is not HOST:PORT (a port from 1 to 65535)`,
    );
  }
}

/** Where the cluster is: its endpoints and id, and the cluster file's security, if one was read. */
export interface ResolvedCluster {
  readonly endpoints: string[];
  readonly clusterId: string;
  readonly security: ConfigSecurity | null;
}

/** Endpoints and cluster id from the options, the environment, or a cluster.yml. */
export async function resolveCluster(options: ClusterOptions): Promise<ResolvedCluster> {
  const listed = options.endpoints ?? process.env['RAFTLOCK_ENDPOINTS'];
  if (listed !== undefined && listed.trim() !== '' && options.config === undefined) {
    const endpoints = listed
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e !== '');
    for (const endpoint of endpoints) checkEndpoint(endpoint);
    return { endpoints, clusterId: options.clusterId ?? '', security: null };
  }
  const file = options.config ?? 'cluster.yml';
  if (options.config === undefined && !existsSync(file)) {
    const hint = 'use --endpoints host:port,…, --config cluster.yml or RAFTLOCK_ENDPOINTS';
    throw new CliExit(exitCodes.usage, `no cluster given: ${hint}`);
  }
  const loaded = await loadClusterConfig(file);
  if (!loaded.ok) {
    throw new CliExit(exitCodes.usage, `invalid configuration\n${loaded.error.message}`);
  }
  const config = loaded.value;
  const { pkiDir, insecure } = config.security;
  return {
    endpoints: config.nodes.map((node) => `${node.client.host}:${node.client.port}`),
    clusterId: options.clusterId ?? config.cluster.id,
    security: { pkiDir, insecure, explicit: options.config !== undefined },
  };
}

/**
 * The connect() options of a command. `callerPassword` false: `--password-file` was someone
 * else's (the caller's password then only comes from $RAFTLOCK_PASSWORD).
 */
export async function clientOptions(
  options: ClusterOptions,
  extra: Partial<ConnectOptions> = {},
  callerPassword = true,
): Promise<ConnectOptions> {
  const { endpoints, clusterId, security } = await resolveCluster(options);
  let proof: CliSecurity;
  try {
    proof = cliSecurity(options, security, process.env, callerPassword);
  } catch (error: unknown) {
    if (error instanceof CredentialError) throw new CliExit(exitCodes.usage, error.message);
    throw error;
  }
  const connectTimeoutMs = Math.min(options.timeout, 5_000);
  const timeouts = { requestTimeoutMs: options.timeout, connectTimeoutMs };
  return { endpoints, clusterId, ...proof, ...timeouts, ...extra };
}

/** A connected client with an open session. */
export async function openClient(
  options: ClusterOptions,
  extra: Partial<ConnectOptions> = {},
): Promise<RaftlockClient> {
  return connect(await clientOptions(options, extra));
}

/** A client that has not opened a session (for status and operator calls). */
export async function sessionlessClient(
  options: ClusterOptions,
  extra: Partial<ConnectOptions> = {},
): Promise<{ client: RaftlockClient; endpoints: string[] }> {
  const resolved = await clientOptions(options, extra);
  return { client: new RaftlockClient(resolved), endpoints: [...resolved.endpoints] };
}

/** The exit code for an error thrown by the client, with its message on stderr. */
export function failureCode(error: unknown): number {
  if (error instanceof CliExit) {
    if (error.message !== '') process.stderr.write(`raftlock: ${error.message}\n`);
    return error.code;
  }
  if (error instanceof RaftlockError) {
    process.stderr.write(`raftlock: ${error.message}\n`);
    switch (error.code) {
      case 'UNAVAILABLE':
      case 'NOT_LEADER':
      case 'CLOSED':
        return exitCodes.unavailable;
      case 'INVALID_ARGUMENT':
        return exitCodes.usage;
      case 'SESSION_EXPIRED':
      case 'LEASE_EXPIRED':
        return exitCodes.sessionLost;
      case 'UNAUTHENTICATED':
        return exitCodes.unauthenticated;
      case 'PERMISSION_DENIED':
        return exitCodes.permissionDenied;
      default:
        return exitCodes.refused;
    }
  }
  process.stderr.write(`raftlock: ${error instanceof Error ? error.message : String(error)}\n`);
  return exitCodes.unavailable;
}

/** Runs an action; sets the process exit code from its result or its failure. */
export function action<A extends unknown[]>(run: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    let code: number;
    try {
      code = await run(...args);
    } catch (error: unknown) {
      code = failureCode(error);
    }
    process.exitCode = code;
  };
}

export function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** JSON with binary values as UTF-8 text when they decode cleanly, else base64. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v instanceof Uint8Array ? showBytes(v) : v));
}

export function showBytes(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return `base64:${Buffer.from(bytes).toString('base64')}`;
  }
}

/** Resolves on the first SIGINT or SIGTERM (for commands that hold something until stopped). */
export function untilStopped(signal?: AbortSignal): Promise<'stopped' | 'aborted'> {
  return new Promise((resolve) => {
    const done = (how: 'stopped' | 'aborted'): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      signal?.removeEventListener('abort', onAbort);
      resolve(how);
    };
    const onSignal = (): void => done('stopped');
    const onAbort = (): void => done('aborted');
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs a streaming command's loop (`watch`, `elect --observe`) until it ends or SIGINT/SIGTERM
 * calls `stop` (which must end the stream), then abandons the client: exit 0.
 */
export async function streamUntilStopped(
  client: Pick<RaftlockClient, 'abandon'>,
  stop: () => void,
  loop: () => Promise<void>,
): Promise<number> {
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await loop();
    return exitCodes.ok;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    client.abandon();
  }
}

/** Left-aligned columns for text tables. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  }
  const line = (row: readonly string[]): string =>
    row
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return rows.map(line).join('\n');
}
