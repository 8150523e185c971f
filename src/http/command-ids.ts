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
}

interface LaneGroup {
  readonly lanes: Lane[];
  readonly waiting: ((lane: Lane) => void)[];
  readonly session: number;
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
  /** The group keys of each session (one per principal that used it). */
  private readonly bySession = new Map<number, Set<string>>();
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
    const group = this.groups.get(key) ?? { lanes: [], waiting: [], session };
    this.groups.delete(key);
    this.groups.set(key, group);
    const keys = this.bySession.get(session) ?? new Set<string>();
    keys.add(key);
    this.bySession.set(session, keys);
    this.forgetIdle();
    const free = group.lanes.find((lane) => !lane.busy);
    if (free !== undefined) return Promise.resolve(this.take(group, free));
    if (group.lanes.length < this.options.lanesPerSession)
      return Promise.resolve(this.take(group, this.newLane(group)));
    return new Promise((resolve) => group.waiting.push((lane) => resolve(this.take(group, lane))));
  }

  /** The session ended: its lanes are of no more use. */
  sessionEnded(session: number): void {
    for (const key of [...(this.bySession.get(session) ?? [])]) {
      const group = this.groups.get(key);
      if (group !== undefined && this.isIdle(group)) this.forget(key);
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
        let free = lane;
        if (options.retire === true) {
          // Never used again: its last seq stays the client id's last, so a retry finds its result.
          group.lanes.splice(group.lanes.indexOf(lane), 1);
          if (group.waiting.length === 0) return;
          free = this.newLane(group);
        }
        group.waiting.shift()?.(free);
      },
    };
  }

  private newLane(group: LaneGroup): Lane {
    const lane: Lane = { clientId: `${this.prefix}${++this.counter}`, seq: 0, busy: false };
    group.lanes.push(lane);
    return lane;
  }

  private forgetIdle(): void {
    if (this.groups.size <= this.options.groupsMax) return;
    for (const [key, group] of this.groups) {
      if (this.groups.size <= this.options.groupsMax) return;
      if (this.isIdle(group)) this.forget(key);
    }
  }

  private isIdle(group: LaneGroup): boolean {
    return group.waiting.length === 0 && group.lanes.every((lane) => !lane.busy);
  }

  private forget(key: string): void {
    const group = this.groups.get(key);
    this.groups.delete(key);
    if (group === undefined) return;
    const keys = this.bySession.get(group.session);
    keys?.delete(key);
    if (keys?.size === 0) this.bySession.delete(group.session);
  }
}
