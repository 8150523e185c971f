/**
 * `raftlock up`: runs every node of a cluster.yml as a child process (`raftlock start --node …`),
 * relays their output with a `[id]` prefix, reports where each listens and who leads, and on
 * Ctrl-C / SIGTERM stops them all gracefully (SIGTERM, then SIGKILL after a grace period).
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { NodeId } from '../raft/types.js';
import type { ClientTlsPem } from '../security/tls-material.js';
import type { ClusterConfig, NodeConfig } from '../config/cluster-config.js';
import { probeStatus } from './server-probe.js';

/** The package root: the nearest directory above this file holding package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('raftlock package root not found');
    dir = parent;
  }
  return dir;
}

/**
 * How to run the CLI in a child: the compiled CLI when this code runs compiled (an installed
 * package, or a checkout after `npm run build`), else the TypeScript entry through tsx. Children
 * therefore always run the same code as the parent, never a stale dist/ beside newer sources.
 * `npm test` builds dist/ first and sets RAFTLOCK_CHILDREN_COMPILED=1: the suite's child processes
 * then skip tsx's start-up (about 1.2 s of CPU each, hundreds of children per run).
 */
export function cliCommand(): { readonly command: string; readonly args: readonly string[] } {
  const root = packageRoot();
  const compiled = join(root, 'dist', 'bin', 'raftlock.js');
  const runningCompiled = fileURLToPath(import.meta.url).startsWith(join(root, 'dist') + sep);
  const askedCompiled = process.env['RAFTLOCK_CHILDREN_COMPILED'] === '1';
  if ((runningCompiled || askedCompiled) && existsSync(compiled)) {
    return { command: process.execPath, args: [compiled] };
  }
  // Resolved from this package, so the child finds tsx whatever its working directory.
  const tsx = import.meta.resolve('tsx');
  return { command: process.execPath, args: ['--import', tsx, join(root, 'bin', 'raftlock.ts')] };
}

export interface LaunchOptions {
  readonly config: ClusterConfig;
  readonly logLevel: string;
  /** `json`: nodes log JSON lines, relayed as they are (each already names its node). */
  readonly logFormat?: string;
  /** Also start nodes marked `join: true` (they wait to be added). */
  readonly includeJoining: boolean;
  readonly out: (line: string) => void;
  /** Grace period between SIGTERM and SIGKILL when stopping. */
  readonly stopTimeoutMs?: number;
  /** How the launcher asks the nodes who leads: a secure cluster's CA and a user certificate. */
  readonly clientTls?: ClientTlsPem;
}

interface Child {
  readonly node: NodeConfig;
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  ready: boolean;
}

export class Launcher {
  private readonly children: Child[] = [];
  private stopping = false;

  constructor(private readonly options: LaunchOptions) {}

  /** Spawns the nodes; resolves once each has printed its ready line (or exited). */
  async start(): Promise<void> {
    const { config } = this.options;
    const nodes = config.nodes.filter((n) => this.options.includeJoining || !n.join);
    await Promise.all(nodes.map((node) => this.spawnNode(node)));
  }

  /** Starts a node again (after it exited or was killed); resolves when it is ready. */
  async restart(id: NodeId): Promise<void> {
    const node = this.options.config.nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    const index = this.children.findIndex((c) => c.node.id === id);
    const old = this.children[index];
    if (old !== undefined) {
      await old.exited;
      this.children.splice(index, 1);
    }
    await this.spawnNode(node);
  }

  private spawnNode(node: NodeConfig): Promise<void> {
    const { config } = this.options;
    const cli = cliCommand();
    const args = [
      ...cli.args,
      'start',
      '--node',
      node.id,
      '--config',
      config.file,
      '--log-level',
      this.options.logLevel,
      '--log-format',
      this.options.logFormat ?? 'text',
      '--stop-on-stdin-close',
    ];
    // Own process group: a terminal's Ctrl-C reaches the launcher only, which then stops each
    // node once, with SIGTERM (a second signal would make a node exit at once). The stdin pipe
    // is the lifeline: if the launcher dies, even by SIGKILL, it closes and the node stops.
    const child = spawn(cli.command, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code, signal) => {
        if (signal !== null && !this.stopping) this.options.out(`[${node.id}] killed by ${signal}`);
        resolve(code);
      });
    });
    const entry: Child = { node, process: child, exited, ready: false };
    this.children.push(entry);
    const ready = new Promise<void>((resolve) => {
      this.relay(entry, child.stdout, (line) => {
        if (!entry.ready && line.startsWith('raftlock node')) {
          entry.ready = true;
          resolve();
        }
      });
      this.relay(entry, child.stderr, () => undefined);
      void exited.then((code) => {
        if (!this.stopping && code !== null) this.options.out(`[${node.id}] exited with code ${code}`);
        resolve();
      });
    });
    return ready;
  }

  get pids(): ReadonlyMap<NodeId, number> {
    const pairs = this.children.flatMap((c) => {
      const pid = c.process.pid;
      return pid === undefined ? [] : [[c.node.id, pid] as const];
    });
    return new Map(pairs);
  }

  /** Asks each running node for its view; resolves with the leader all of them agree on, if any. */
  async leader(): Promise<NodeId | null> {
    const clusterId = this.options.config.cluster.id;
    const tls = this.options.clientTls;
    const probes = this.children.map((c) => probeStatus(c.node.client, clusterId, 2000, tls));
    const views = await Promise.all(probes);
    const leaders = views.flatMap((v) => (v === null || v.leader === null ? [] : [v.leader]));
    const first = leaders[0];
    return first !== undefined && leaders.every((l) => l === first) ? first : null;
  }

  async waitForLeader(timeoutMs: number): Promise<NodeId | null> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = await this.leader();
      if (found !== null) return found;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return null;
  }

  /** Resolves when every child has exited. */
  async whenAllExited(): Promise<void> {
    await Promise.all(this.children.map((c) => c.exited));
  }

  /** SIGTERM to every node, SIGKILL to those still running after the grace period. */
  async stop(): Promise<void> {
    this.stopping = true;
    const running = (): Child[] => this.children.filter((c) => c.process.exitCode === null);
    for (const child of running()) child.process.kill('SIGTERM');
    const graceMs = this.options.stopTimeoutMs ?? 10_000;
    const timer = setTimeout(() => {
      for (const child of running()) child.process.kill('SIGKILL');
    }, graceMs);
    await this.whenAllExited();
    clearTimeout(timer);
  }

  private relay(
    child: Child,
    stream: NodeJS.ReadableStream | null,
    onLine: (line: string) => void,
  ): void {
    if (stream === null) return;
    const lines = createInterface({ input: stream });
    lines.on('line', (line) => {
      onLine(line);
      const json = this.options.logFormat === 'json' && line.startsWith('{');
      this.options.out(json ? line : `[${child.node.id}] ${line}`);
    });
  }
}
