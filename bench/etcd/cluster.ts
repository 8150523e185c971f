// A local 3-member etcd cluster for the side-by-side benchmark: members on 127.0.0.1 at free ports,
// data in a temp directory, etcd's default durability (fsync on every commit), each member killed
// by its PID when the run ends (or when this process is interrupted). With TLS, every member runs
// with etcd's own flags for mutual TLS on both ports (a certificate from the run's throwaway CA,
// client and peer certificates required), on https URLs.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/config/local-cluster-file.js';
import { MemberCluster } from '../member-cluster.js';
import type { MemberProcess } from '../member-cluster.js';
import { getJson, newAgent, postJson } from './etcd-backend.js';
import type { EtcdAgent } from './etcd-backend.js';
import { writeEtcdPki } from './etcd-pki.js';
import type { ClientTlsPem, EtcdTlsFiles } from './etcd-pki.js';
import type { FailoverControl } from './workloads.js';

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export type EtcdDetection =
  | { readonly found: true; readonly version: string; readonly binary: string }
  | { readonly found: false; readonly reason: string };

export const etcdInstallHint =
  "etcd is not installed, so the etcd side of the benchmark is skipped. To run it, install Debian's package:\n" +
  '  apt-get install etcd-server\n' +
  '(or put an `etcd` binary on PATH, or pass --etcd /path/to/etcd). Nothing is installed automatically.';

/** Runs `etcd --version`; a missing binary is a normal outcome, not an error. */
export function detectEtcd(binary = 'etcd'): EtcdDetection {
  const run = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (run.error !== undefined) return { found: false, reason: run.error.message };
  const match = /etcd Version:\s*(\S+)/.exec(run.stdout);
  if (run.status !== 0 || match === null)
    return { found: false, reason: `unexpected output: ${run.stdout}${run.stderr}` };
  return { found: true, version: match[1] as string, binary };
}

export type EtcdMember = MemberProcess & {
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
};

/**
 * The etcd flags for mutual TLS on the client and peer ports of one member: its certificate for
 * both, the CA for both, and a client certificate required on both.
 */
export function etcdTlsFlags(tls: EtcdTlsFiles, member: string): string[] {
  const files = tls.members.get(member);
  if (files === undefined) throw new Error(`no TLS files for etcd member ${member}`);
  return [
    '--cert-file',
    files.cert,
    '--key-file',
    files.key,
    '--trusted-ca-file',
    tls.caFile,
    '--client-cert-auth',
    '--peer-cert-file',
    files.cert,
    '--peer-key-file',
    files.key,
    '--peer-trusted-ca-file',
    tls.caFile,
    '--peer-client-cert-auth',
  ];
}

export class EtcdCluster extends MemberCluster<EtcdMember> {
  /** The cluster's own requests (health, leader): no keep-alive, so nothing lingers. */
  private readonly probeAgent: EtcdAgent;

  private constructor(
    readonly binary: string,
    root: string,
    members: readonly EtcdMember[],
    private readonly initialCluster: string,
    /** Null: plaintext on both ports. */
    readonly tls: EtcdTlsFiles | null,
  ) {
    super(root, members, 'etcd', 'member');
    this.probeAgent = newAgent(this.clientTls, false);
  }

  /** Starts `size` members (with mutual TLS on both ports when `tls`) and waits until every one reports healthy. */
  static async start(
    binary: string,
    size = 3,
    parentDir = tmpdir(),
    options: { readonly tls?: boolean } = {},
  ): Promise<EtcdCluster> {
    const root = mkdtempSync(join(parentDir, 'raftlock-etcd-'));
    const scheme = options.tls === true ? 'https' : 'http';
    const members: EtcdMember[] = [];
    for (let i = 1; i <= size; i++) {
      members.push({
        name: `e${i}`,
        clientUrl: `${scheme}://127.0.0.1:${await freePort()}`,
        peerUrl: `${scheme}://127.0.0.1:${await freePort()}`,
        dataDir: join(root, `e${i}`),
        process: null,
      });
    }
    const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    let tls: EtcdTlsFiles | null = null;
    try {
      if (options.tls === true)
        tls = await writeEtcdPki(
          join(root, 'tls'),
          members.map((m) => m.name),
        );
    } catch (error) {
      rmSync(root, { recursive: true, force: true });
      throw error;
    }
    const cluster = new EtcdCluster(binary, root, members, initialCluster, tls);
    try {
      for (const m of members) cluster.spawnMember(m, 'new');
      await cluster.waitHealthy(60_000);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get clientUrls(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  /** What this cluster's clients present and trust; null for a plaintext cluster. */
  get clientTls(): ClientTlsPem | null {
    return this.tls?.client ?? null;
  }

  /** A connection pool for this cluster's clients (HTTPS with the client certificate under TLS). */
  newAgent(): EtcdAgent {
    return newAgent(this.clientTls);
  }

  private spawnMember(m: EtcdMember, state: 'new' | 'existing'): void {
    const log = openSync(join(this.root, `${m.name}.log`), 'a');
    m.process = spawn(
      this.binary,
      [
        '--name',
        m.name,
        '--data-dir',
        m.dataDir,
        '--listen-client-urls',
        m.clientUrl,
        '--advertise-client-urls',
        m.clientUrl,
        '--listen-peer-urls',
        m.peerUrl,
        '--initial-advertise-peer-urls',
        m.peerUrl,
        '--initial-cluster',
        this.initialCluster,
        '--initial-cluster-state',
        state,
        '--initial-cluster-token',
        'raftlock-bench',
        '--logger',
        'zap',
        '--log-outputs',
        'stderr',
        ...(this.tls === null ? [] : etcdTlsFlags(this.tls, m.name)),
      ],
      { stdio: ['ignore', log, log] },
    );
  }

  /** Waits until every running member answers /health with true. */
  async waitHealthy(limitMs: number): Promise<void> {
    const started = Date.now();
    for (const m of this.members) {
      if (m.process === null) continue;
      while (!(await healthy(this.probeAgent, m.clientUrl))) {
        if (m.process.exitCode !== null)
          throw new Error(`etcd member ${m.name} exited: see ${join(this.root, `${m.name}.log`)}`);
        if (Date.now() - started > limitMs) throw new Error(`etcd member ${m.name} not healthy after ${limitMs}ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** The member that reports itself as leader, or null while there is none. */
  async leader(): Promise<string | null> {
    for (const m of this.members) {
      if (m.process === null) continue;
      try {
        const body = (await postJson(this.probeAgent, m.clientUrl, '/v3/maintenance/status', {}, 1000)) as {
          header?: { member_id?: unknown };
          leader?: unknown;
        };
        if (body.leader !== undefined && body.leader === body.header?.member_id) return m.name;
      } catch {
        // A member that does not answer is not the leader we can kill.
      }
    }
    return null;
  }

  /** The leader's client URL, waiting up to `limitMs` for one to be elected. */
  async leaderClientUrl(limitMs = 10_000): Promise<string> {
    const started = Date.now();
    for (;;) {
      const name = await this.leader();
      if (name !== null) return this.member(name).clientUrl;
      if (Date.now() - started > limitMs) throw new Error(`no etcd leader within ${limitMs}ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  protected respawn(m: EtcdMember): void {
    this.spawnMember(m, 'existing');
  }

  override async stop(): Promise<void> {
    await super.stop();
    this.probeAgent.agent.destroy();
  }
}

async function healthy(agent: EtcdAgent, clientUrl: string): Promise<boolean> {
  try {
    const body = await getJson(agent, clientUrl, '/health', 1000);
    return typeof body === 'object' && body !== null && (body as Record<string, unknown>)['health'] === 'true';
  } catch {
    return false;
  }
}

/** Failover control over a local etcd cluster: SIGKILL the current leader, restart it, wait for a leader. */
export function etcdControl(cluster: EtcdCluster): FailoverControl {
  return cluster.failoverControl(async () => {
    await cluster.waitHealthy(60_000);
    while ((await cluster.leader()) === null) await pause(50);
  });
}
