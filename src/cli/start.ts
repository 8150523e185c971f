import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { isValidNodeId } from '../raft/types.js';
import type { NodeId } from '../raft/types.js';
import { joinedConfig } from './join.js';
import { loadConfigForNodes } from './load-config.js';
import { startNode } from '../embed/embed.js';
import type { LogLevel } from '../util/logger.js';
import { createLogger, logFormats, logLevels } from '../util/logger.js';
import type { LogFormat } from '../util/logger.js';
import type { NodeServer } from '../server/node-server.js';
import { nodeSecurityFor } from '../server/node-security.js';
// The line `raftlock up`, the chaos run and the tests wait for: the node is serving.
import { readyLinePrefix } from '../server/node-process.js';
import type { NodeSecurity } from '../server/node-security.js';
import { isStorageError } from '../storage/errors.js';

interface StartOptions {
  readonly node: NodeId;
  readonly config: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** Plaintext, no authentication (as `security.insecure: true`). */
  readonly insecure?: boolean;
  /** Stop gracefully when stdin closes (set by `raftlock up`: its nodes stop if it dies). */
  readonly stopOnStdinClose?: boolean;
  /** Join a running cluster through these client addresses (src/cli/join.ts). */
  readonly join?: string;
  readonly peer?: string;
  readonly client?: string;
  readonly data?: string;
}

function parseNodeId(text: string): NodeId {
  if (!isValidNodeId(text)) {
    throw new InvalidArgumentError(`not a node id: ${JSON.stringify(text)}`);
  }
  return text;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * SIGHUP: re-read the node's certificate, key and CA (a rotation without a restart). A reload that
 * fails keeps the current material; either way the log says what happened.
 */
function reloadOnHangup(security: NodeSecurity, logger: ReturnType<typeof createLogger>): () => void {
  const onHangup = (): void => {
    if (security.mode === 'insecure') {
      logger.warn('SIGHUP ignored: the node runs insecure, there is no TLS material to reload');
      return;
    }
    const reloaded = security.material.reload(Date.now());
    // At warn, the default level of `start`: an operator asked, and must see the answer.
    if (reloaded.ok) logger.warn('reloaded TLS material', { certificate: security.material.summary });
    else logger.error('TLS reload refused', { error: reloaded.error });
  };
  process.on('SIGHUP', onHangup);
  return () => process.off('SIGHUP', onHangup);
}

/**
 * `raftlock start --node n1 [--config cluster.yml] [--insecure]`: runs one node in the foreground
 * until SIGTERM/SIGINT, then stops gracefully (leadership handed off, writes finished). Exit codes:
 * 0 clean stop, 1 the node failed (storage, fail-stop), 2 bad configuration or arguments, or no
 * usable TLS material (missing, unreadable, expired) without `insecure`.
 */
export async function runStart(options: StartOptions): Promise<number> {
  const loaded = await loadConfigForNodes(options.config);
  if (loaded === null) return 2;
  let config = loaded;
  if (options.join !== undefined) {
    const joined = await joinedConfig(loaded, { ...options, join: options.join });
    if (!joined.ok) {
      process.stderr.write(`raftlock: node ${options.node} cannot join: ${joined.error}\n`);
      return 2;
    }
    config = joined.value;
  }
  const self = config.nodes.find((n) => n.id === options.node);
  if (self === undefined) {
    const known = config.nodes.map((n) => n.id).join(', ');
    const message = `node ${options.node} is not in ${config.file} (nodes: ${known})`;
    process.stderr.write(`raftlock: ${message}\n`);
    return 2;
  }
  const listen = { peer: self.peer, client: self.client };
  const insecure = options.insecure === true;
  const security = nodeSecurityFor(config, options.node, { insecure, listen, nowMs: Date.now() });
  if (!security.ok) {
    process.stderr.write(`raftlock: node ${options.node} refuses to start: ${security.error}\n`);
    return 2;
  }
  const logger = createLogger({ level: options.logLevel, format: options.logFormat });
  if (security.value.mode === 'insecure') {
    logger.warn('running insecure: plaintext, no authentication, every client unrestricted');
  } else {
    logger.info('loaded TLS material', { certificate: security.value.material.summary });
  }
  let fatal: ((code: number) => void) | null = null;
  const stopped = new Promise<number>((resolve) => {
    fatal = resolve;
  });
  let server: NodeServer;
  try {
    server = await startNode({
      config,
      nodeId: options.node,
      logger,
      ...(security.value.mode === 'tls' ? { tls: security.value.material } : { insecure: true }),
      onFatal: (error) => {
        process.stderr.write(`raftlock: node ${options.node} stopped: ${describe(error)}\n`);
        fatal?.(1);
      },
    });
  } catch (error) {
    const what = isStorageError(error) ? `${error.code}: ${error.message}` : describe(error);
    process.stderr.write(`raftlock: node ${options.node} cannot start: ${what}\n`);
    return 1;
  }
  const peer = `${server.peerAddress.host}:${server.peerAddress.port}`;
  const client = `${server.clientAddress.host}:${server.clientAddress.port}`;
  const http = server.httpAddress === null ? '' : `, HTTP on ${server.httpAddress.host}:${server.httpAddress.port}`;
  const where = `serving clients on ${client}, peers on ${peer}${http}`;
  process.stdout.write(`${readyLinePrefix} ${options.node} of ${config.cluster.id} ${where}\n`);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) process.exit(130);
    logger.info('stopping', { signal });
    void server.close().then(() => fatal?.(0));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const stopReloading = reloadOnHangup(security.value, logger);
  if (options.stopOnStdinClose === true) {
    // The launcher holds the other end of this pipe; it closes when the launcher exits, however.
    // A closing pipe emits both 'end' and 'close': one lost lifeline is one SIGTERM, not the
    // second signal that would exit at once without the graceful stop.
    let lifelineLost = false;
    const onLifelineLost = (): void => {
      if (lifelineLost) return;
      lifelineLost = true;
      onSignal('SIGTERM');
    };
    process.stdin.resume();
    process.stdin.once('close', onLifelineLost);
    process.stdin.once('end', onLifelineLost);
  }
  const code = await stopped;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  stopReloading();
  if (code !== 0) await server.close().catch(() => undefined);
  return code;
}

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('run one node of the cluster described by a cluster.yml, until SIGTERM or Ctrl-C')
    .requiredOption('--node <id>', 'which node of the file to run', parseNodeId)
    .option('--config <file>', 'the cluster file', 'cluster.yml')
    .option(
      '--insecure',
      'plaintext and no authentication, as security.insecure: true (loopback addresses only)',
      false,
    )
    .addOption(new Option('--log-level <level>', 'error, warn, info or debug').choices(logLevels).default('warn'))
    .option(
      '--join <endpoints>',
      'join a running cluster (client addresses host:port,…) after members add; members come from it',
    )
    .option('--peer <host:port>', 'with --join: where this node listens for peers')
    .option('--client <host:port>', 'with --join: where this node listens for clients')
    .option('--data <dir>', "with --join: this node's data directory")
    .addOption(
      new Option('--log-format <format>', 'text (one readable line per event) or json (one object per line)')
        .choices(logFormats)
        .default('text'),
    )
    .option('--stop-on-stdin-close', 'stop gracefully when standard input closes (used by raftlock up)', false)
    .action(async (options: StartOptions) => {
      // Exit explicitly: a stopped node must not linger on a stray handle.
      process.exit(await runStart(options));
    });
}
