/**
 * `raftlock up`: runs every node of a cluster.yml as a child process (`raftlock start --node …`),
 * relays their output with a `[id]` prefix, reports where each listens and who leads, and on
 * Ctrl-C / SIGTERM stops them all gracefully (SIGTERM, then SIGKILL after a grace period).
 */
import type { NodeId } from '../raft/types.js';
import type { ClientTlsPem } from '../security/tls-material.js';
import type { ClusterConfig, NodeConfig } from '../config/cluster-config.js';
import { describeExit, startNodeProcess } from './node-process.js';
import type { NodeProcess } from './node-process.js';
import { probeStatus } from './server-probe.js';

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
  readonly process: NodeProcess;
}

export class Launcher {
  private readonly children: Child[] = [];
  private stopping = false;

  constructor(private readonly options: LaunchOptions) {}

  /**
   * Spawns the nodes; resolves once each has printed its ready line or exited, with the ids of
   * those that serve (why the others ended was printed as they did).
   */
  async start(): Promise<NodeId[]> {
    const { config } = this.options;
    const nodes = config.nodes.filter((n) => this.options.includeJoining || !n.join);
    const serving = await Promise.all(nodes.map((node) => this.spawnNode(node)));
    return nodes.filter((_, i) => serving[i] === true).map((n) => n.id);
  }

  /** Starts a node again (after it exited or was killed); resolves when it is ready. */
  async restart(id: NodeId): Promise<void> {
    const node = this.options.config.nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    const index = this.children.findIndex((c) => c.node.id === id);
    const old = this.children[index];
    if (old !== undefined) {
      await old.process.exited;
      this.children.splice(index, 1);
    }
    await this.spawnNode(node);
  }

  /** Resolves true once the node serves, false once it has ended first. */
  private spawnNode(node: NodeConfig): Promise<boolean> {
    const json = this.options.logFormat === 'json';
    const child = startNodeProcess({
      node: node.id,
      configFile: this.options.config.file,
      logLevel: this.options.logLevel,
      logFormat: this.options.logFormat ?? 'text',
      // JSON lines are relayed as they are (each already names its node); text gets an `[id]` prefix.
      output: {
        kind: 'lines',
        onLine: (line) => this.options.out(json && line.startsWith('{') ? line : `[${node.id}] ${line}`),
      },
      // The stdin pipe is the lifeline: if the launcher dies, even by SIGKILL, it closes and the node stops.
      tether: 'stdin',
      // A terminal's Ctrl-C reaches the launcher only, which then stops each node once, with SIGTERM.
      ownProcessGroup: true,
    });
    this.children.push({ node, process: child });
    void child.exited.then((exit) => {
      if (!this.stopping) this.options.out(`[${node.id}] ${describeExit(exit)}`);
    });
    // What ended a node that never served was just printed.
    return child.ready.then(
      () => true,
      () => false,
    );
  }

  get pids(): ReadonlyMap<NodeId, number> {
    const pairs = this.children.flatMap((c) => {
      const pid = c.process.pid;
      return pid === undefined ? [] : [[c.node.id, pid] as const];
    });
    return new Map(pairs);
  }

  /**
   * Asks each running node for its view; resolves with the leader all of them agree on, if any.
   * Only this launcher's running nodes are asked: whatever else answers on an exited node's port
   * (the same cluster started elsewhere, say) is not this launch's cluster.
   */
  async leader(): Promise<NodeId | null> {
    const clusterId = this.options.config.cluster.id;
    const tls = this.options.clientTls;
    const running = this.children.filter((c) => c.process.running);
    const probes = running.map((c) => probeStatus(c.node.client, clusterId, 2000, tls));
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
    await Promise.all(this.children.map((c) => c.process.exited));
  }

  /** SIGTERM to every node, SIGKILL to those still running after the grace period. */
  async stop(): Promise<void> {
    this.stopping = true;
    const graceMs = this.options.stopTimeoutMs ?? 10_000;
    await Promise.all(this.children.map((c) => c.process.stop(graceMs)));
  }
}
