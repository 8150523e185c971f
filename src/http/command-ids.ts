/**
 * The `(clientId, seq)` of HTTP commands that carry no Idempotency-Key (docs/http.md, "Exactly
 * once"). The state machine keeps one result per client id, for its last seq, and refuses a lower
 * seq; so under one client id commands must go one at a time. Each (principal, session) gets a few
 * lanes, each a client id used by one command at a time with rising seqs; commands beyond the
 * lanes queue for a free one. A lane whose command's outcome the caller may not have learnt (503
 * UNAVAILABLE, or the caller left before the answer) is retired rather than reused, so a retry
 * with the Idempotency-Key the answer named finds that first result still in the table.
 */
import { randomBytes } from 'node:crypto';

/** One command's id; `done` frees its lane (`retire: true` retires the lane instead). */
export interface CommandId {
  readonly clientId: string;
  readonly seq: number;
  done(options?: { readonly retire?: boolean }): void;
}

interface Lane {
  readonly clientId: string;
  seq: number;
  busy: boolean;
  retired: boolean;
}

interface LaneGroup {
  readonly lanes: Lane[];
  readonly waiting: ((lane: Lane) => void)[];
}

export interface CommandIdOptions {
  /** Lanes per (principal, session): commands of one session in flight at once. */
  readonly lanesPerSession: number;
  /** (principal, session) groups remembered; idle ones beyond it are forgotten, oldest first. */
  readonly groupsMax: number;
}

export const defaultCommandIdOptions: CommandIdOptions = { lanesPerSession: 8, groupsMax: 100_000 };

export class CommandIds {
  private readonly prefix: string;
  private readonly options: CommandIdOptions;
  /** Insertion order is use order (re-inserted on use), so the least recently used is first. */
  private readonly groups = new Map<string, LaneGroup>();
  private counter = 0;

  /** Client ids start with `http-<node>-<random>-`, unique to this node and this process. */
  constructor(nodeId: string, options: Partial<CommandIdOptions> = {}) {
    this.prefix = `http-${nodeId}-${randomBytes(6).toString('hex')}-`;
    this.options = { ...defaultCommandIdOptions, ...options };
  }

  /** For opening a session: a fresh client id of its own (the session does not exist yet). */
  forOpen(): CommandId {
    const clientId = `${this.prefix}${++this.counter}`;
    return { clientId, seq: 1, done: () => undefined };
  }

  /** For a command in `session` as `principal`: a free lane's next seq (waits while all are busy). */
  forSession(principal: string | null, session: number): Promise<CommandId> {
    const key = `${principal ?? ''}\u0000${session}`;
    const group = this.groups.get(key) ?? { lanes: [], waiting: [] };
    this.groups.delete(key);
    this.groups.set(key, group);
    this.forgetIdle();
    const free = group.lanes.find((lane) => !lane.busy && !lane.retired);
    if (free !== undefined) return Promise.resolve(this.take(group, free));
    if (group.lanes.filter((lane) => !lane.retired).length < this.options.lanesPerSession) {
      const lane: Lane = { clientId: `${this.prefix}${++this.counter}`, seq: 0, busy: false, retired: false };
      group.lanes.push(lane);
      return Promise.resolve(this.take(group, lane));
    }
    return new Promise((resolve) => group.waiting.push((lane) => resolve(this.take(group, lane))));
  }

  /** The session ended: its lanes are of no more use. */
  sessionEnded(session: number): void {
    const suffix = `\u0000${session}`;
    for (const [key, group] of this.groups) {
      if (key.endsWith(suffix) && group.lanes.every((lane) => !lane.busy)) this.groups.delete(key);
    }
  }

  /** Groups remembered now (for tests and the bound). */
  get size(): number {
    return this.groups.size;
  }

  private take(group: LaneGroup, lane: Lane): CommandId {
    lane.busy = true;
    lane.seq += 1;
    let finished = false;
    return {
      clientId: lane.clientId,
      seq: lane.seq,
      done: (options = {}) => {
        if (finished) return;
        finished = true;
        lane.busy = false;
        if (options.retire === true) {
          lane.retired = true;
          const index = group.lanes.indexOf(lane);
          if (index >= 0) group.lanes.splice(index, 1);
          const next = group.waiting.shift();
          if (next === undefined) return;
          const fresh: Lane = { clientId: `${this.prefix}${++this.counter}`, seq: 0, busy: false, retired: false };
          group.lanes.push(fresh);
          next(fresh);
          return;
        }
        const next = group.waiting.shift();
        if (next !== undefined) next(lane);
      },
    };
  }

  private forgetIdle(): void {
    if (this.groups.size <= this.options.groupsMax) return;
    for (const [key, group] of this.groups) {
      if (this.groups.size <= this.options.groupsMax) return;
      if (group.lanes.every((lane) => !lane.busy) && group.waiting.length === 0) this.groups.delete(key);
    }
  }
}
