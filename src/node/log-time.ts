import type { Entry, LogIndex, NodeId, Term } from '../raft/types.js';
import { assert, assertNever } from '../util/assert.js';
import { decodeEnvelope } from './envelope.js';

/**
 * How far one entry's log time may run ahead of the log time before it. Log time drives session
 * expiry, so a single stamp far in the future (a broken clock, or a forged entry from a node with
 * a valid certificate) would expire every session at once; the bound makes such a jump impossible
 * in one entry. A minute is far above any legitimate step: an idle leader stamps an entry every
 * `logTimeTickMs`, and a new leader continues from the highest log time in its log.
 */
export const defaultLogTimeJumpMaxMs = 60_000;

/** What `LogTime.stamp` decided; `wantedMs` differs from `logTimeMs` only when the bound clamped it. */
export interface LogTimeStamp {
  readonly logTimeMs: number;
  /** The stamp the leader's clock asked for, before the jump bound. */
  readonly wantedMs: number;
  /** The highest log time seen before this stamp: what the bound is measured from. */
  readonly previousMs: number;
}

/**
 * Log time: the clock the state machine sees, carried in every command entry (see envelope.ts).
 *
 * The leader stamps `base + (now − anchor)`, where `base` is the highest log time in its log when
 * it became leader and `anchor` is its own monotonic clock at that moment. So log time advances
 * with the leader's clock, continues across leaders from what the log already holds (an election
 * pauses session clocks only for its own duration), never resets, and never goes backwards: every
 * stamp is also at least the previous stamp and the highest time observed in the log. And it never
 * runs more than `jumpMaxMs` ahead of that highest time in one stamp: a clock that leaps (a
 * suspended VM, a broken clock) is clamped, and the leader re-anchors at the clamped stamp, so log
 * time goes on at the clock's rate from there instead of racing to catch up. A leap costs at most
 * `jumpMaxMs` of log time, as an election pauses it: time the cluster could not observe is not
 * counted against anyone's session.
 */
export class LogTime {
  private highestSeenMs: number;
  private anchorNowMs = 0;
  private baseMs = 0;
  private leading = false;

  constructor(
    initialMs = 0,
    readonly jumpMaxMs = defaultLogTimeJumpMaxMs,
  ) {
    assert(Number.isFinite(initialMs) && initialMs >= 0, () => `invalid initial log time ${initialMs}`);
    assert(
      Number.isSafeInteger(jumpMaxMs) && jumpMaxMs > 0,
      () => `logTimeJumpMaxMs must be a positive integer, got ${jumpMaxMs}`,
    );
    this.highestSeenMs = initialMs;
  }

  /** Any log time found in the log (appended, applied or restored from a snapshot). */
  observe(logTimeMs: number): void {
    if (logTimeMs > this.highestSeenMs) this.highestSeenMs = logTimeMs;
  }

  /** The highest log time seen so far: the floor for every future stamp. */
  get highestMs(): number {
    return this.highestSeenMs;
  }

  becomeLeader(nowMs: number): void {
    this.leading = true;
    this.anchorNowMs = nowMs;
    this.baseMs = this.highestSeenMs;
  }

  stepDown(): void {
    this.leading = false;
  }

  get isLeading(): boolean {
    return this.leading;
  }

  /** The log time for an entry proposed now; leader only. */
  stamp(nowMs: number): LogTimeStamp {
    assert(this.leading, 'log time is stamped by the leader only');
    assert(nowMs >= this.anchorNowMs, () => `clock went back: ${nowMs} < ${this.anchorNowMs}`);
    const previousMs = this.highestSeenMs;
    // Whole milliseconds: a drifting clock's fractions would otherwise leak into the log.
    const wantedMs = Math.max(previousMs, Math.floor(this.baseMs + (nowMs - this.anchorNowMs)));
    const logTimeMs = Math.min(wantedMs, previousMs + this.jumpMaxMs);
    if (logTimeMs < wantedMs) {
      this.baseMs = logTimeMs;
      this.anchorNowMs = nowMs;
    }
    this.highestSeenMs = logTimeMs;
    return { logTimeMs, wantedMs, previousMs };
  }
}

/** The first entry of an AppendEntries whose log time runs too far ahead (see `checkLogTimeJumps`). */
export interface LogTimeJump {
  readonly index: LogIndex;
  readonly term: Term;
  readonly logTimeMs: number;
  /** The log time it was measured from: the previous entry's, or the follower's own. */
  readonly previousMs: number;
}

export interface LogTimeCheck {
  /** How many leading entries stay within the bound (all of them when `jump` is null). */
  readonly accepted: number;
  readonly jump: LogTimeJump | null;
  /** The highest log time among the accepted entries (at least `floorMs`). */
  readonly highestMs: number;
}

/**
 * A follower's check of the entries an AppendEntries offers: walking them in log order, each
 * command's log time must be at most `jumpMaxMs` beyond the highest log time before it — the
 * earlier entries of the message, or `floorMs`, the follower's own (its log and snapshot, and what
 * it was already offered). Measuring from the highest rather than the immediately preceding entry
 * only ever accepts more, never refuses a legitimate entry: a leader stamps from its own highest,
 * which is at least every earlier entry's. Entries without a log time (noops, configuration
 * changes, undecodable commands, which apply with the previous log time) pass.
 */
export function checkLogTimeJumps(entries: readonly Entry[], floorMs: number, jumpMaxMs: number): LogTimeCheck {
  let highestMs = floorMs;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as Entry;
    if (entry.kind !== 'command') continue;
    const envelope = decodeEnvelope(entry.data);
    if (!envelope.ok) continue;
    const { logTimeMs } = envelope.value;
    if (logTimeMs - highestMs > jumpMaxMs) {
      const jump: LogTimeJump = { index: entry.index, term: entry.term, logTimeMs, previousMs: highestMs };
      return { accepted: i, jump, highestMs };
    }
    if (logTimeMs > highestMs) highestMs = logTimeMs;
  }
  return { accepted: entries.length, jump: null, highestMs };
}

/**
 * What the host reports about the log-time bound (`HostOutput.logTimeEvents`), for the node's log.
 * - `clamped`: this leader's clock asked for a stamp more than the bound ahead; it stamped less.
 * - `refused`: an AppendEntries from `from` carried an entry whose log time jumps too far; the
 *   entry and every later one in that message were not appended (`dropped` entries). The earlier
 *   entries and the message's header were still stepped, so Raft's log matching goes on and the
 *   node keeps serving; the leader sends the refused entries again, and they are refused again.
 */
export type LogTimeEvent =
  | {
      readonly kind: 'clamped';
      readonly wantedMs: number;
      readonly stampedMs: number;
      readonly previousMs: number;
      readonly jumpMaxMs: number;
    }
  | {
      readonly kind: 'refused';
      readonly from: NodeId;
      readonly term: Term;
      readonly jump: LogTimeJump;
      readonly dropped: number;
      readonly jumpMaxMs: number;
    };

/** One line for the node's log, naming the sender, the entry and both times. */
export function describeLogTimeEvent(event: LogTimeEvent): string {
  switch (event.kind) {
    case 'clamped':
      return (
        `log time clamped: the clock asked for ${event.wantedMs} ms, ${event.wantedMs - event.previousMs} ms ` +
        `after the log's ${event.previousMs} ms; stamped ${event.stampedMs} ms (logTimeJumpMaxMs ${event.jumpMaxMs})`
      );
    case 'refused': {
      const { jump } = event;
      return (
        `refused ${event.dropped} entr${event.dropped === 1 ? 'y' : 'ies'} from ${event.from} (term ${event.term}): ` +
        `entry ${jump.index} has log time ${jump.logTimeMs} ms, ${jump.logTimeMs - jump.previousMs} ms after ` +
        `${jump.previousMs} ms, more than logTimeJumpMaxMs ${event.jumpMaxMs}`
      );
    }
    default:
      return assertNever(event, 'log time event');
  }
}
