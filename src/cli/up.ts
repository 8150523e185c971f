import type { Command } from 'commander';
import { Option } from 'commander';
import { join, relative, resolve } from 'node:path';
import { defaultPkiPath, pkiEnvVar, readClientPki } from '../client/client-pki.js';
import { ensureLocalPki, PkiError, pkiLayout } from '../security/pki.js';
import type { ClusterConfig } from '../config/cluster-config.js';
import { loadConfigForNodes } from './load-config.js';
import { Launcher } from '../server/launcher.js';
import { logFormats, logLevels } from '../util/logger.js';

interface UpOptions {
  readonly config: string;
  readonly logLevel: string;
  readonly logFormat: string;
  readonly joining: boolean;
}

/** A path as the user would type it from here: relative when under the working directory. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') ? `./${rel}` : path;
}

/**
 * The first start of a secure cluster: its CA, every node's certificate and root's, made where
 * missing under `security.pki` (./data/pki). Prints where they are and how clients find them;
 * false after a refusal (printed).
 */
async function preparePki(config: ClusterConfig, out: (line: string) => void): Promise<boolean> {
  const dir = config.security.pkiDir;
  const nodes = config.nodes.map((n) => ({
    id: n.id,
    hosts: [...new Set([n.peer.host, n.client.host, ...(n.http === undefined ? [] : [n.http.host])])],
  }));
  let created: readonly string[];
  try {
    ({ created } = await ensureLocalPki(dir, nodes));
  } catch (error: unknown) {
    if (!(error instanceof PkiError)) throw error;
    process.stderr.write(`raftlock: cannot prepare the PKI in ${dir}: ${error.message}\n`);
    return false;
  }
  const root = pkiLayout.user(dir, 'root');
  out(created.length > 0 ? `created the cluster's certificates in ${shown(dir)}:` : `certificates in ${shown(dir)}:`);
  out(`  CA: ${shown(pkiLayout.ca(dir).cert)} (ca.key beside it signs new certificates: keep it private)`);
  out(`  nodes: ${shown(join(dir, 'nodes'))}/<id>.crt and .key`);
  out(`  root (the admin user): ${shown(root.cert)} and ${shown(root.key)}`);
  const foundByDefault = resolve(defaultPkiPath) === resolve(dir);
  const how = foundByDefault
    ? `they find them in ${defaultPkiPath} (run from ${process.cwd()}), or with ${pkiEnvVar}=${dir}`
    : `give them ${pkiEnvVar}=${dir} (the CLI also finds them with --config ${config.file})`;
  out(`  the CLI and connect() use root's certificate from there: ${how}`);
  return true;
}

/**
 * `raftlock up [--config cluster.yml]`: every node of the file as a child process, until Ctrl-C.
 * A secure cluster's certificates are made on first start (preparePki). Exit codes: 0 after a
 * clean stop, 1 when every node exited on its own, 2 bad configuration or a PKI directory it
 * cannot complete. When no node starts (each says why), it says so and exits 1 at once.
 */
export async function runUp(options: UpOptions): Promise<number> {
  const config = await loadConfigForNodes(options.config);
  if (config === null) return 2;
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  const includeJoining = options.joining;
  const secure = !config.security.insecure;
  if (secure && !(await preparePki(config, out))) return 2;
  if (!secure) out('the cluster is insecure (security.insecure): plaintext, no authentication');
  const rootTls = secure ? readClientPki(config.security.pkiDir, true) : null;
  const launcher = new Launcher({
    config,
    logLevel: options.logLevel,
    logFormat: options.logFormat,
    includeJoining,
    out,
    ...(rootTls === null ? {} : { clientTls: rootTls }),
  });
  let interrupted = false;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (): void => {
      if (interrupted) return;
      interrupted = true;
      out('stopping every node...');
      void launcher.stop().then(resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  out(`starting cluster ${config.cluster.id} from ${config.file}`);
  const serving = await launcher.start();
  if (!interrupted && serving.length === 0) {
    // Each node's own refusal was printed above (a data directory in use: the cluster already runs).
    await launcher.whenAllExited();
    out('no node started: why each one stopped is printed above');
    return 1;
  }
  if (!interrupted) {
    for (const node of config.nodes) {
      const client = `${node.client.host}:${node.client.port}`;
      const http =
        node.http === undefined ? '' : `, HTTP ${secure ? 'https' : 'http'}://${node.http.host}:${node.http.port}`;
      const where = `clients ${client}, peers ${node.peer.host}:${node.peer.port}${http}`;
      const state = node.join ? ' (joins later)' : serving.includes(node.id) ? '' : ' (did not start: see above)';
      out(`  ${node.id}: ${where}, data ${node.dataDir}${state}`);
    }
    const electionMs = config.timing.electionTicks * config.timing.tickMs * 10;
    const leader = await launcher.waitForLeader(Math.max(5000, electionMs));
    out(leader === null ? 'no leader elected yet' : `leader: ${leader}`);
    out('press Ctrl-C to stop the cluster');
  }
  await Promise.race([stopped, launcher.whenAllExited()]);
  if (interrupted) {
    await stopped;
    out('cluster stopped');
    return 0;
  }
  out('every node has exited');
  return 1;
}

export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('start every node of a cluster.yml as child processes; stop them all on Ctrl-C')
    .option('--config <file>', 'the cluster file', 'cluster.yml')
    .option('--joining', 'also start nodes marked join: true', false)
    .addOption(new Option('--log-level <level>', 'log level of every node').choices(logLevels).default('info'))
    .addOption(
      new Option('--log-format <format>', 'log format of every node: text or json (node lines are relayed unprefixed)')
        .choices(logFormats)
        .default('text'),
    )
    .action(async (options: UpOptions) => {
      process.exit(await runUp(options));
    });
}
