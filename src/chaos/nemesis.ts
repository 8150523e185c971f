/**
 * Plays a nemesis schedule against a running cluster. The cluster (node processes, admin calls) and
 * the links (a `ProxyMesh`) are interfaces, so the player is the same for any launcher. `leader`
 * targets are resolved when an event fires; an event that cannot be carried out (no leader to
 * kill, a transfer refused) is logged and skipped: the nemesis's failures are not the system's.
 */
import { assertNever } from '../util/assert.js';
import { describeEvent, leaderRef, resolveRef, resolveShape } from './nemesis-schedule.js';
import type { NemesisEvent, NemesisSchedule, ShapeTemplate } from './nemesis-schedule.js';
import type { PartitionShape } from './partition.js';
import type { LinkMode } from './proxy.js';

/** What the nemesis needs from the cluster launcher. */
export interface ChaosCluster {
  /** The current leader as the cluster reports it, or null while there is none. */
  leader(): Promise<string | null>;
  /** SIGKILL; the data directory stays. */
  kill(node: string): Promise<void>;
  /** Starts a killed node again on its data directory. */
  restart(node: string): Promise<void>;
  /** SIGSTOP / SIGCONT. */
  pause(node: string): void;
  resume(node: string): void;
  transferLeadership(to: string): Promise<void>;
  removeMember(node: string): Promise<void>;
  /** Adds the node back as a new, empty member (fresh data directory). */
  addMember(node: string): Promise<void>;
}

/** What the nemesis needs from the links; `ProxyMesh` provides it. */
export interface ChaosLinks {
  /** Cuts the links the shape blocks; returns their names. */
  partition(shape: PartitionShape): readonly string[];
  setAll(mode: LinkMode): void;
  heal(): void;
  resetNode(node: string): void;
}

export type AppliedEvent = {
  readonly atMs: number;
  readonly event: NemesisEvent;
  /** What was done, with `leader` resolved, or why it was skipped. */
  readonly outcome: string;
};

/** An event's outcome for the nodes it acted on: `<done> n1 n2`, or that there was nothing to `<verb>`. */
function summary(nodes: readonly string[], verb: string, done: string): string {
  return nodes.length === 0 ? `nothing to ${verb}` : `${done} ${nodes.join(' ')}`;
}

export class Nemesis {
  private readonly killed = new Set<string>();
  private readonly paused = new Set<string>();
  private readonly removed = new Set<string>();
  readonly applied: AppliedEvent[] = [];

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly links: ChaosLinks,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /** Nodes currently killed, paused or removed (for the workload and the final checks). */
  get down(): { killed: string[]; paused: string[]; removed: string[] } {
    return { killed: [...this.killed].sort(), paused: [...this.paused].sort(), removed: [...this.removed].sort() };
  }

  /** Applies one event now; never throws for an action the cluster refused. */
  async apply(event: NemesisEvent, atMs = 0): Promise<AppliedEvent> {
    let outcome: string;
    try {
      outcome = await this.carryOut(event);
    } catch (error) {
      outcome = `skipped: ${error instanceof Error ? error.message : String(error)}`;
    }
    const applied = { atMs, event, outcome };
    this.applied.push(applied);
    this.log(`${(atMs / 1000).toFixed(3).padStart(9)}s  ${describeEvent(event)}  => ${outcome}`);
    return applied;
  }

  /**
   * Plays every event at its time. `now` is milliseconds since the run started; `sleep` waits.
   * Returns once the last event (the final heal, resume and restart) has been applied.
   */
  async play(schedule: NemesisSchedule, clock: { now(): number; sleep(ms: number): Promise<void> }): Promise<void> {
    for (const { atMs, event } of schedule.events) {
      const wait = atMs - clock.now();
      if (wait > 0) await clock.sleep(wait);
      await this.apply(event, atMs);
    }
  }

  private async leaderOrThrow(): Promise<string> {
    const leader = await this.cluster.leader();
    if (leader === null) throw new Error('no leader to target');
    return leader;
  }

  private async resolveAll(refs: readonly string[]): Promise<string[]> {
    const leader = refs.includes(leaderRef) ? await this.leaderOrThrow() : '';
    return [...new Set(refs.map((r) => resolveRef(r, leader)))].sort();
  }

  private async resolveShape(shape: ShapeTemplate): Promise<PartitionShape> {
    const refs = JSON.stringify(shape).includes(`"${leaderRef}"`);
    return resolveShape(shape, refs ? await this.leaderOrThrow() : '');
  }

  /** Whether the node's process runs, paused or not: it was neither killed nor removed. */
  private runs(node: string): boolean {
    return !this.killed.has(node) && !this.removed.has(node);
  }

  /**
   * A node event: `act` on each of `nodes` in turn, then the outcome. An asynchronous act (kill,
   * restart) is awaited before the next; synchronous ones (pause, resume) follow within one turn.
   */
  private async onEach(
    nodes: readonly string[],
    verb: string,
    done: string,
    act: (node: string) => Promise<void> | void,
  ): Promise<string> {
    for (const n of nodes) {
      const acting = act(n);
      if (acting !== undefined) await acting;
    }
    return summary(nodes, verb, done);
  }

  private async carryOut(event: NemesisEvent): Promise<string> {
    switch (event.kind) {
      case 'kill': {
        const nodes = (await this.resolveAll(event.nodes)).filter((n) => this.runs(n));
        return this.onEach(nodes, 'kill', 'killed', async (n) => {
          // A paused process dies under SIGKILL too; it is then killed, not paused.
          this.paused.delete(n);
          await this.cluster.kill(n);
          this.links.resetNode(n);
          this.killed.add(n);
        });
      }
      case 'restart':
        return this.onEach([...this.killed].sort(), 'restart', 'restarted', async (n) => {
          await this.cluster.restart(n);
          this.killed.delete(n);
        });
      case 'pause': {
        const nodes = (await this.resolveAll(event.nodes)).filter((n) => this.runs(n) && !this.paused.has(n));
        return this.onEach(nodes, 'pause', 'paused', (n) => {
          this.cluster.pause(n);
          this.paused.add(n);
        });
      }
      case 'resume':
        return this.onEach([...this.paused].sort(), 'resume', 'resumed', (n) => {
          this.cluster.resume(n);
          this.paused.delete(n);
        });
      case 'partition': {
        const shape = await this.resolveShape(event.shape);
        const blocked = this.links.partition(shape);
        return `blocked ${blocked.join(' ')}`;
      }
      case 'slow':
        this.links.setAll({ kind: 'delay', delayMs: event.delayMs });
        return `every link delayed ${event.delayMs}ms`;
      case 'heal':
        this.links.heal();
        return 'every link passes';
      case 'transfer-leadership': {
        const [to] = await this.resolveAll([event.to]);
        if (to === undefined || !this.runs(to) || this.paused.has(to)) return `skipped: ${to ?? '?'} is down`;
        await this.cluster.transferLeadership(to);
        return `asked to transfer to ${to}`;
      }
      case 'remove-member': {
        const [node] = await this.resolveAll([event.node]);
        if (node === undefined || this.removed.has(node)) return 'skipped: already removed';
        await this.cluster.removeMember(node);
        this.removed.add(node);
        return `removed ${node}`;
      }
      case 'add-member': {
        const [node] = await this.resolveAll([event.node]);
        if (node === undefined || !this.removed.has(node)) return 'skipped: not removed';
        await this.cluster.addMember(node);
        this.removed.delete(node);
        this.killed.delete(node);
        return `added ${node} back, empty`;
      }
      default:
        return assertNever(event, 'nemesis event');
    }
  }
}
