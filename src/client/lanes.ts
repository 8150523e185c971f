/**
 * Command lanes: how one client keeps several commands in flight and still has each applied
 * exactly once.
 *
 * The cluster keeps one result per client id (Raft dissertation §6.3), so a retry is only safe if
 * it is of that id's latest seq: under one id, commands must go one at a time. A lane is one such
 * id with its own seq. Lane 0 is the client id itself; lane k is `${clientId}#${k}`. Concurrent
 * calls take separate lanes, lowest free first, so a caller that waits for each answer always uses
 * lane 0. Lanes are opened as concurrency needs them, up to `lanesMax`; past that, calls wait for
 * a lane in call order. The cluster binds every lane id it sees to the connection and to the
 * session the command ran in, and forgets it when that session ends.
 */

/** The id and seq a command goes out under. */
export interface LaneTicket {
  readonly laneId: string;
  readonly seq: number;
}

interface Lane {
  readonly id: string;
  seq: number;
  busy: boolean;
  /** Calls that must use this very lane (a wait's re-check), in call order. */
  readonly pinned: Array<() => void>;
}

/** The separator between a client id and its lane number. */
const laneSeparator = '#';

/** The most lanes one client may open: lane ids then end in at most `#999`. */
export const lanesMaxLimit = 1000;

/** Lane ids are the client id plus `#k`: the room the client id must leave under the cluster's limit. */
export const laneSuffixBytesMax = laneSeparator.length + String(lanesMaxLimit - 1).length;

export class CommandLanes {
  private readonly lanes: Lane[] = [];
  /** Calls waiting for any lane, in call order. */
  private readonly queued: Array<() => void> = [];

  /**
   * `firstSeq` gives each new lane's starting seq: a restarted client reusing its id must never
   * repeat a seq the cluster may still hold a result for, so it comes from the wall clock.
   */
  constructor(
    private readonly clientId: string,
    private readonly lanesMax: number,
    private readonly firstSeq: () => number,
  ) {
    if (!Number.isSafeInteger(lanesMax) || lanesMax < 1 || lanesMax > lanesMaxLimit) {
      throw new RangeError(`lanesMax must be an integer in [1, ${lanesMaxLimit}]`);
    }
  }

  /** Lanes opened so far (each is one entry in the cluster's exactly-once table while its session lives). */
  get opened(): number {
    return this.lanes.length;
  }

  /**
   * Runs `send` under the next seq of a free lane, or of lane `pinTo` once that one is free, and
   * frees the lane when `send` settles: one command per lane in flight, whatever its outcome.
   */
  async run<T>(send: (ticket: LaneTicket) => Promise<T>, pinTo?: string): Promise<T> {
    const lane = await this.take(pinTo);
    lane.seq += 1;
    try {
      return await send({ laneId: lane.id, seq: lane.seq });
    } finally {
      this.free(lane);
    }
  }

  private take(pinTo: string | undefined): Promise<Lane> {
    const pinned = pinTo === undefined ? undefined : this.lanes.find((lane) => lane.id === pinTo);
    if (pinned !== undefined) {
      if (!pinned.busy) return Promise.resolve(this.claim(pinned));
      return new Promise((resolve) => pinned.pinned.push(() => resolve(this.claim(pinned))));
    }
    const idle = this.lanes.find((lane) => !lane.busy);
    if (idle !== undefined) return Promise.resolve(this.claim(idle));
    if (this.lanes.length < this.lanesMax) return Promise.resolve(this.claim(this.open()));
    return new Promise((resolve) => {
      this.queued.push(() => {
        const lane = this.lanes.find((candidate) => !candidate.busy);
        // free() hands a lane over only when one is idle, so `lane` is always found.
        if (lane !== undefined) resolve(this.claim(lane));
      });
    });
  }

  private open(): Lane {
    const index = this.lanes.length;
    const id = index === 0 ? this.clientId : `${this.clientId}${laneSeparator}${index}`;
    const lane: Lane = { id, seq: this.firstSeq(), busy: false, pinned: [] };
    this.lanes.push(lane);
    return lane;
  }

  private claim(lane: Lane): Lane {
    lane.busy = true;
    return lane;
  }

  private free(lane: Lane): void {
    lane.busy = false;
    // A call pinned to this lane goes first: it cannot use any other.
    const next = lane.pinned.shift() ?? this.queued.shift();
    next?.();
  }
}
