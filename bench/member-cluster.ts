// A local cluster of another system's server processes for the side-by-side benchmark (etcd
// members, ZooKeeper servers). Each subclass owns how a member starts and when the cluster is
// ready; this owns what is the same for both: finding a member by name, its PID, killing it by that
// PID (also when this process exits first, so no server outlives a run), restarting it, its
// resident memory, and removing the data once every member has exited.
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { killCurrentLeader } from './etcd/workloads.js';
import type { FailoverControl, KillableCluster } from './etcd/workloads.js';
import { residentBytes } from './resident-memory.js';

export type MemberProcess = {
  readonly name: string;
  /** Null while the member is not running (before its start, or once killed). */
  process: ChildProcess | null;
};

export abstract class MemberCluster<M extends MemberProcess> implements KillableCluster<string> {
  private readonly exitHook = (): void => this.killAll();

  /** `system` and `noun` name the cluster and one member in errors: "etcd" "member", "ZooKeeper" "server". */
  protected constructor(
    readonly root: string,
    readonly members: readonly M[],
    private readonly system: string,
    private readonly noun: string,
  ) {
    process.on('exit', this.exitHook);
  }

  /** Starts a killed member again on its data directory. */
  protected abstract respawn(m: M): void;

  /** The member that reports itself as leader, or null while there is none. */
  abstract leader(): Promise<string | null>;

  /**
   * The failover workload's control: SIGKILL the current leader; restart a killed member, then
   * wait until `recovered` resolves (the cluster serves again).
   */
  failoverControl(recovered: () => Promise<void>): FailoverControl {
    return {
      killLeader: () => killCurrentLeader(this.system, this),
      restart: async (name) => {
        this.restart(name);
        await recovered();
      },
    };
  }

  /** The PIDs of the running members (for their CPU). */
  get pids(): number[] {
    return this.members.flatMap((m) => (m.process?.pid === undefined ? [] : [m.process.pid]));
  }

  member(name: string): M {
    const m = this.members.find((x) => x.name === name);
    if (m === undefined) throw new RangeError(`no ${this.system} ${this.noun} ${name}`);
    return m;
  }

  /** SIGKILL one member (the failover workload); its data directory stays. */
  kill(name: string): void {
    const m = this.member(name);
    if (m.process !== null && m.process.exitCode === null) m.process.kill('SIGKILL');
    m.process = null;
  }

  /** Restarts a killed member on its data directory. */
  restart(name: string): void {
    const m = this.member(name);
    if (m.process === null) this.respawn(m);
  }

  /** Resident memory of each running member, from /proc (Linux). */
  rssBytes(): Map<string, number> {
    return residentBytes(
      this.members.flatMap((m) => (m.process?.pid === undefined ? [] : [[m.name, m.process.pid] as const])),
    );
  }

  /** Kills every member by PID, waits for them to exit and removes the data directories. */
  async stop(): Promise<void> {
    const exits = this.members
      .map((m) => m.process)
      .filter((p): p is ChildProcess => p !== null && p.exitCode === null && p.signalCode === null)
      .map((p) => new Promise<void>((resolve) => p.once('exit', () => resolve())));
    this.killAll();
    await Promise.all(exits);
    for (const m of this.members) m.process = null;
    process.off('exit', this.exitHook);
    rmSync(this.root, { recursive: true, force: true });
  }

  private killAll(): void {
    for (const m of this.members) {
      if (m.process !== null && m.process.exitCode === null) m.process.kill('SIGKILL');
    }
  }
}
