// A local 3-server ZooKeeper ensemble for the side-by-side benchmark: servers on 127.0.0.1 at free
// ports, data in a temp directory, ZooKeeper's default durability (fsync before every
// acknowledgement), each server a `java` process started directly (not through a wrapper script)
// so that its PID is the server's: its CPU is read from /proc, and it is killed by that PID when
// the run ends or this process is interrupted. A JVM takes seconds to start, so the ensemble is
// ready only once every server answers `srvr` as leader or follower.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/config/local-cluster-file.js';
import { MemberCluster } from '../member-cluster.js';
import type { MemberProcess } from '../member-cluster.js';
import type { FailoverControl } from '../etcd/workloads.js';
import { fourLetterWord, parseSrvrMode } from './four-letter.js';
import type { ZooKeeperMode } from './four-letter.js';
import { zooCfg } from './zoo-cfg.js';
import type { ZooKeeperServer } from './zoo-cfg.js';

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Where Debian's `zookeeper` package puts the server (its manifest names every other jar it needs). */
export const debianZooKeeperJar = '/usr/share/java/zookeeper.jar';
/** A logging backend for the servers, when installed: without one ZooKeeper logs nothing at all. */
const simpleLoggerJar = '/usr/share/java/slf4j-simple.jar';

export type ZooKeeperDetection =
  | { readonly found: true; readonly version: string; readonly jar: string; readonly java: string }
  | { readonly found: false; readonly reason: string };

export const zookeeperInstallHint =
  "ZooKeeper is not installed, so the ZooKeeper side of the benchmark is skipped. To run it, install Debian's package:\n" +
  '  apt-get install zookeeper\n' +
  `(or pass --zookeeper /path/to/zookeeper.jar; \`java\` must be on PATH). Nothing is installed automatically.`;

/** Asks the jar for its version; a missing jar or java is a normal outcome, not an error. */
export function detectZooKeeper(jar = debianZooKeeperJar, java = 'java'): ZooKeeperDetection {
  if (!existsSync(jar)) return { found: false, reason: `${jar} does not exist` };
  const run = spawnSync(java, ['-cp', jar, 'org.apache.zookeeper.version.VersionInfoMain'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (run.error !== undefined) return { found: false, reason: `${java}: ${run.error.message}` };
  const match = /Apache ZooKeeper, version (\S+)/.exec(run.stdout);
  if (run.status !== 0 || match === null)
    return {
      found: false,
      reason: `unexpected output of ${java} -cp ${jar} ...VersionInfoMain: ${run.stdout}${run.stderr}`,
    };
  return { found: true, version: match[1] as string, jar, java };
}

export type ZooKeeperMember = ZooKeeperServer &
  MemberProcess & {
    readonly dir: string;
  };

export class ZooKeeperCluster extends MemberCluster<ZooKeeperMember> {
  private constructor(
    readonly detection: Extract<ZooKeeperDetection, { found: true }>,
    root: string,
    members: readonly ZooKeeperMember[],
  ) {
    super(root, members, 'ZooKeeper', 'server');
  }

  /** Starts `size` servers and waits (up to `readyMs`) until every one serves, one of them as leader. */
  static async start(
    detection: Extract<ZooKeeperDetection, { found: true }>,
    size = 3,
    parentDir = tmpdir(),
    readyMs = 90_000,
  ): Promise<ZooKeeperCluster> {
    const root = mkdtempSync(join(parentDir, 'raftlock-zookeeper-'));
    const members: ZooKeeperMember[] = [];
    for (let id = 1; id <= size; id++) {
      members.push({
        id,
        name: `z${id}`,
        clientPort: await freePort(),
        quorumPort: await freePort(),
        electionPort: await freePort(),
        dir: join(root, `z${id}`),
        process: null,
      });
    }
    for (const m of members) {
      const dataDir = join(m.dir, 'data');
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(join(dataDir, 'myid'), `${m.id}\n`);
      writeFileSync(join(m.dir, 'zoo.cfg'), zooCfg({ dataDir, self: m, ensemble: members }));
    }
    const cluster = new ZooKeeperCluster(detection, root, members);
    try {
      for (const m of members) cluster.spawnMember(m);
      await cluster.waitReady(readyMs);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Every server's client address, as ZooKeeper clients take them ("host:port,host:port"). */
  get connectionString(): string {
    return this.members.map((m) => `127.0.0.1:${m.clientPort}`).join(',');
  }

  private logFile(m: ZooKeeperMember): string {
    return join(m.dir, 'server.log');
  }

  private spawnMember(m: ZooKeeperMember): void {
    const log = openSync(this.logFile(m), 'a');
    const classpath = [this.detection.jar, ...(existsSync(simpleLoggerJar) ? [simpleLoggerJar] : [])].join(':');
    m.process = spawn(
      this.detection.java,
      [
        '-cp',
        classpath,
        '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
        '-Dzookeeper.log.dir=' + m.dir,
        'org.apache.zookeeper.server.quorum.QuorumPeerMain',
        join(m.dir, 'zoo.cfg'),
      ],
      { stdio: ['ignore', log, log] },
    );
  }

  /** Each running server's role, or null while it is not serving (or does not answer). */
  async modes(): Promise<Map<string, ZooKeeperMode | null>> {
    const out = new Map<string, ZooKeeperMode | null>();
    await Promise.all(
      this.members.map(async (m) => {
        if (m.process === null) return;
        try {
          out.set(m.name, parseSrvrMode(await fourLetterWord(m.clientPort, 'srvr', 1000)));
        } catch {
          out.set(m.name, null);
        }
      }),
    );
    return out;
  }

  /** Waits until every running server serves and one leads; a server that exits, or the time limit, is an error. */
  async waitReady(limitMs: number): Promise<void> {
    const started = Date.now();
    for (;;) {
      const modes = await this.modes();
      const roles = [...modes.values()];
      if (roles.every((r) => r !== null) && roles.includes('leader')) return;
      for (const m of this.members) {
        if (m.process !== null && m.process.exitCode !== null)
          throw new Error(`ZooKeeper server ${m.name} exited with code ${m.process.exitCode}: see ${this.logFile(m)}`);
      }
      if (Date.now() - started > limitMs) {
        const states = this.members
          .map((m) => `${m.name} ${modes.has(m.name) ? (modes.get(m.name) ?? 'not serving') : 'stopped'}`)
          .join(', ');
        throw new Error(`ZooKeeper ensemble not ready after ${limitMs}ms (${states}); logs under ${this.root}`);
      }
      await pause(200);
    }
  }

  /** The server that reports itself as leader, or null while there is none. */
  async leader(): Promise<string | null> {
    for (const [name, mode] of await this.modes()) if (mode === 'leader') return name;
    return null;
  }

  protected respawn(m: ZooKeeperMember): void {
    this.spawnMember(m);
  }
}

/** Failover control over a local ensemble: SIGKILL the current leader, restart it, wait until all serve again. */
export function zookeeperControl(cluster: ZooKeeperCluster): FailoverControl {
  return cluster.failoverControl(() => cluster.waitReady(90_000));
}
