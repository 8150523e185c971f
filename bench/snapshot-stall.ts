// Part of `npx tsx bench/statemachine.ts [--short]`: how long a node's event loop stalls while a
// snapshot of a large state is taken inline (encoded on the event loop) versus in the background
// (encoded by the worker's copy of the state machine), while commands keep being applied; what
// feeding the copy costs the event loop per command; and the copy's memory.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { LogIndex, Term } from '../src/raft/types.js';
import type { Command } from '../src/statemachine/commands.js';
import { encodeCommand } from '../src/statemachine/commands.js';
import type { SessionId } from '../src/statemachine/ids.js';
import { LockStateMachine } from '../src/statemachine/machine.js';
import { MirroredStateMachine } from '../src/node/mirrored-state-machine.js';
import { SnapshotMirror } from '../src/server/snapshot-mirror.js';
import type { ReplicatedStateMachine } from '../src/raft/state-machine.js';
import type { ApplyOutput } from '../src/statemachine/results.js';

type Row = (name: string, value: string) => void;

/** Commands applied per event-loop turn, about what one drain of a busy node applies. */
const batch = 200;

class Feed {
  index = 0;
  nowMs = 1_000;
  private seq = 0;
  constructor(private readonly machine: ReplicatedStateMachine<ApplyOutput>) {}
  apply(payload: Uint8Array): void {
    this.index++;
    this.machine.apply({ index: this.index as LogIndex, term: 1 as Term, logTimeMs: this.nowMs, payload });
  }
  client(op: Extract<Command, { type: 'client' }>['op'], clientId: string): Uint8Array {
    this.seq++;
    return encodeCommand({ type: 'client', clientId, seq: this.seq, op });
  }
}

interface Stall {
  /** Longest gap between two consecutive turns of the applying loop, in ms. */
  readonly gapMaxMs: number;
  /** monitorEventLoopDelay's maximum, in ms. */
  readonly delayMaxMs: number;
  /** Commands applied from the moment the snapshot started until it completed. */
  readonly appliedMeanwhile: number;
  readonly snapshotWallMs: number;
}

/**
 * Applies `batch` commands per turn (acquire/release on a live session, pre-encoded) for
 * `warmTurns`, then starts a snapshot with `start` and keeps applying until `done` resolves,
 * then `coolTurns` more. Returns the longest stall seen over the whole run.
 */
async function applyingLoop(
  feed: Feed,
  payloads: readonly Uint8Array[],
  flush: () => void,
  start: (index: number) => Promise<void>,
): Promise<Stall> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  let next = 0;
  const turn = (): void => {
    for (let i = 0; i < batch; i++) feed.apply(payloads[next++ % payloads.length] as Uint8Array);
    flush();
  };
  let gapMaxMs = 0;
  let last = performance.now();
  const tick = async (): Promise<void> => {
    await new Promise((resolve) => setImmediate(resolve));
    const now = performance.now();
    gapMaxMs = Math.max(gapMaxMs, now - last);
    last = now;
    turn();
  };
  for (let i = 0; i < 50; i++) await tick();
  const before = feed.index;
  const began = performance.now();
  let finished = false;
  const done = start(feed.index).then(() => {
    finished = true;
  });
  while (!finished) await tick();
  await done;
  const snapshotWallMs = performance.now() - began;
  const appliedMeanwhile = feed.index - before;
  for (let i = 0; i < 50; i++) await tick();
  histogram.disable();
  return { gapMaxMs, delayMaxMs: histogram.max / 1e6, appliedMeanwhile, snapshotWallMs };
}

function ms(value: number): string {
  return `${Math.round(value).toLocaleString('en-US')} ms`;
}

/** Builds `locksN` held locks (1,000 sessions) through `feed`, in chunks so the mirror keeps up. */
function build(feed: Feed, locksN: number, flush: () => void): SessionId {
  const holders: SessionId[] = [];
  for (let i = 0; i < 1_000; i++) {
    feed.apply(feed.client({ type: 'openSession', ttlMs: 86_400_000 }, `h-${i}`));
    holders.push(feed.index as SessionId);
  }
  for (let i = 0; i < locksN; i++) {
    const session = holders[i % holders.length] as SessionId;
    feed.apply(
      feed.client(
        { type: 'acquire', session, name: `lock-${i}`, waitMs: 0, lockDelayMs: 0 },
        `h-${i % holders.length}`,
      ),
    );
    if (i % 10_000 === 0) flush();
  }
  flush();
  return holders[0] as SessionId;
}

function workload(feed: Feed, session: SessionId): Uint8Array[] {
  const payloads: Uint8Array[] = [];
  for (let i = 0; i < 5_000; i++) {
    const name = `busy-${i % 100}`;
    payloads.push(feed.client({ type: 'acquire', session, name, waitMs: 0, lockDelayMs: 0 }, 'h-0'));
    payloads.push(feed.client({ type: 'release', session, name }, 'h-0'));
  }
  return payloads;
}

export async function snapshotStall(short: boolean, heapUsed: () => number, row: Row): Promise<void> {
  const locksN = short ? 100_000 : 1_000_000;
  const label = `${locksN.toLocaleString('en-US')} held locks`;

  // Inline: the node's own machine encodes on the event loop.
  {
    const machine = new LockStateMachine();
    const feed = new Feed(machine);
    const session = build(feed, locksN, () => undefined);
    const payloads = workload(feed, session);
    let size = 0;
    const stall = await applyingLoop(
      feed,
      payloads,
      () => undefined,
      async () => {
        await new Promise((resolve) => setImmediate(resolve));
        size = machine.snapshot().byteLength;
      },
    );
    row(
      `snapshot of ${label} (${(size / 1_048_576).toFixed(1)} MiB), inline: longest event-loop stall`,
      `${ms(stall.gapMaxMs)} (loop-delay max ${ms(stall.delayMaxMs)})`,
    );
  }

  // Background: the worker's copy encodes; the event loop keeps applying and feeding it.
  const primary = new LockStateMachine();
  const heapBefore = heapUsed();
  const mirror = SnapshotMirror.start(primary.config);
  const waiting = new Map<number, () => void>();
  mirror.attach({
    onSnapshot: (index) => waiting.get(index)?.(),
    onFailure: (error) => {
      throw error;
    },
  });
  const workerEmpty = await mirror.heapUsedBytes();
  const feed = new Feed(new MirroredStateMachine(primary, mirror));
  const session = build(feed, locksN, () => mirror.flush());
  const workerFull = await mirror.heapUsedBytes();
  const primaryBytes = heapUsed() - heapBefore;
  const payloads = workload(feed, session);
  const stall = await applyingLoop(
    feed,
    payloads,
    () => mirror.flush(),
    (index) => {
      const done = new Promise<void>((resolve) => waiting.set(index, resolve));
      mirror.snapshotAt(index as LogIndex);
      mirror.flush();
      return done;
    },
  );
  row(
    `snapshot of ${label}, background: longest event-loop stall`,
    `${ms(stall.gapMaxMs)} (loop-delay max ${ms(stall.delayMaxMs)}); the snapshot took ${ms(stall.snapshotWallMs)}, ${stall.appliedMeanwhile.toLocaleString('en-US')} commands applied meanwhile`,
  );
  // The same loop for as long, feeding the copy but with no snapshot: the stall floor here.
  const floor = await applyingLoop(
    feed,
    payloads,
    () => mirror.flush(),
    () => new Promise((resolve) => setTimeout(resolve, stall.snapshotWallMs)),
  );
  row(
    'the same loop without any snapshot (floor: GC, the shared CPU)',
    `${ms(floor.gapMaxMs)} (loop-delay max ${ms(floor.delayMaxMs)})`,
  );
  const mib = (bytes: number): string => `${(bytes / 1_048_576).toFixed(0)} MiB`;
  row(
    `memory of the worker's copy (${label})`,
    `${mib(workerFull - workerEmpty)} worker heap, beside ${mib(primaryBytes)} for the node's own machine`,
  );

  // What feeding the copy costs the event loop: the same commands with and without it (wall
  // time on the event loop; the worker applies them on another core meanwhile). Best of three.
  const cost = (f: Feed, flush: () => void): number => {
    const commands = workload(f, 1 as SessionId);
    let best = Infinity;
    for (let run = 0; run < 3; run++) {
      const began = performance.now();
      for (let round = 0; round < 10; round++) {
        for (let i = 0; i < commands.length; i += batch) {
          for (let j = i; j < i + batch && j < commands.length; j++) f.apply(commands[j] as Uint8Array);
          flush();
        }
      }
      best = Math.min(best, ((performance.now() - began) * 1_000) / (10 * commands.length));
    }
    return best;
  };
  const plain = new Feed(new LockStateMachine());
  plain.apply(plain.client({ type: 'openSession', ttlMs: 86_400_000 }, 'h-0'));
  // A fresh pair: both copies start empty again.
  const fresh = new LockStateMachine();
  mirror.restore(fresh.snapshot());
  const mirrored = new Feed(new MirroredStateMachine(fresh, mirror));
  mirrored.apply(mirrored.client({ type: 'openSession', ttlMs: 86_400_000 }, 'h-0'));
  const without = cost(plain, () => undefined);
  const withMirror = cost(mirrored, () => mirror.flush());
  await mirror.heapUsedBytes();
  row(
    'event-loop time per applied command (acquire/release), without / with the worker copy',
    `${without.toFixed(2)} / ${withMirror.toFixed(2)} µs`,
  );
  await mirror.close();
}
