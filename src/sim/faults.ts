import type { RaftConfig } from '../raft/config.js';
import { assertNever } from '../util/assert.js';
import type { Rng } from '../util/rng.js';
import type { DiskKnobs } from './disk.js';
import type { NetworkKnobs } from './network.js';

/** A node in a simulated cluster is named by its 1-based position: `n1`, `n2`, ... */
export type SimNodeName = string;

/** A fault of kind `K` that fires at `atMs`, with the fields `F` of its own. */
type Fault<K extends string, F extends object = object> = { readonly atMs: number; readonly kind: K } & Readonly<F>;

/**
 * Every fault the simulator can inject: a closed union. Events that do not apply when they fire
 * (restart a running node, crash a crashed one) do nothing, so any subsequence of a schedule is
 * a valid schedule: that is what lets fast-check shrink them.
 */
export type FaultEvent =
  | Fault<'partition', { groups: readonly (readonly SimNodeName[])[] }>
  | Fault<'isolate', { node: SimNodeName }>
  | Fault<'isolateLeader'>
  | Fault<'bridge', { node: SimNodeName }>
  | Fault<'oneWay', { from: SimNodeName; to: SimNodeName }>
  | Fault<'clog', { from: SimNodeName; to: SimNodeName; forMs: number }>
  | Fault<'heal'>
  | Fault<'crash', { node: SimNodeName; losePageCache: boolean }>
  | Fault<'restart', { node: SimNodeName }>
  /** Crash whoever leads at that moment, and restart it `downMs` later (nothing without a leader). */
  | Fault<'crashLeader', { losePageCache: boolean; downMs: number }>
  /**
   * Crash the next node to win an election, `afterMs` after it won (0: at once, before its first
   * messages leave), and restart it `downMs` later: the crash during an election.
   */
  | Fault<'crashNextLeader', { afterMs: number; losePageCache: boolean; downMs: number }>
  /**
   * Crash the next node to win an election the moment its commit index reaches the last entry it
   * held when it won (before the messages announcing it leave), and restart it `downMs` later.
   */
  | Fault<'crashWhenCaughtUp', { losePageCache: boolean; downMs: number }>
  /** Cut the next node to win an election off from every other node as it wins (until a heal). */
  | Fault<'isolateNextLeader'>
  | Fault<'pause', { node: SimNodeName; forMs: number }>
  | Fault<'drift', { node: SimNodeName; ppm: number }>
  | Fault<'clockJump', { node: SimNodeName; jumpMs: number }>
  | Fault<'diskWriteError', { node: SimNodeName }>
  | Fault<'diskCorruptRead', { node: SimNodeName }>
  | Fault<'transfer', { to: SimNodeName }>;

export type FaultKind = FaultEvent['kind'];

export const faultKinds: readonly FaultKind[] = [
  'partition',
  'isolate',
  'isolateLeader',
  'bridge',
  'oneWay',
  'clog',
  'heal',
  'crash',
  'restart',
  'crashLeader',
  'crashNextLeader',
  'crashWhenCaughtUp',
  'isolateNextLeader',
  'pause',
  'drift',
  'clockJump',
  'diskWriteError',
  'diskCorruptRead',
  'transfer',
];

/**
 * `calm`: a fast, lossless network and no faults. `swarm`: every seed draws its own world of
 * noise and faults. `elections`: faults aimed at leaders and elections, many of them, short and
 * close together (crash or isolate the leader, crash and restart nodes at once, partitions), under
 * heavy client traffic, with Raft settings drawn per seed too (see `drawWorld`). `partitions`: one
 * partition at a time, long enough for the majority side to elect and commit while a deposed
 * leader on the other side may not know it yet. `figure8`: rounds of the fault sequence of Raft's
 * Figure 8 (see `drawFigure8Schedule`).
 */
export type Profile = 'calm' | 'swarm' | 'elections' | 'partitions' | 'figure8';

export const profiles: readonly Profile[] = ['calm', 'swarm', 'elections', 'partitions', 'figure8'];

/** Raft settings a world may draw (the production defaults otherwise). */
export type RaftKnobs = Partial<Pick<RaftConfig, 'checkQuorum' | 'appendEntriesMax' | 'inflightAppendsMax'>>;

/** The world one seed draws: noise levels and how often each kind of fault strikes. */
export interface WorldKnobs {
  readonly network: NetworkKnobs;
  readonly disk: DiskKnobs;
  /** Mean time between fault events (each kind weighted below); Infinity = no faults. */
  readonly faultMeanGapMs: number;
  readonly weights: Readonly<
    Record<'partition' | 'crash' | 'pause' | 'clock' | 'disk' | 'transfer' | 'leader', number>
  >;
  /** How long a partition, crash or pause lasts before it is healed/restarted/resumed (mean). */
  readonly faultMeanLengthMs: number;
  /** Largest |drift| drawn, in ppm. */
  readonly driftPpmMax: number;
  /** Mean gap between client requests. */
  readonly requestMeanGapMs: number;
  readonly raft: RaftKnobs;
  /** How the nemesis draws the faults: at random from the weights, or in Figure 8 rounds. */
  readonly nemesis: 'random' | 'figure8';
}

/**
 * Swarm testing: each seed draws its own world, so some seeds run a quiet cluster and others a
 * hostile one, and every fault kind is sometimes switched off entirely (faults that mask each
 * other get their own runs).
 */
export function drawWorld(rng: Rng, profile: Profile): WorldKnobs {
  if (profile === 'calm') {
    return {
      network: { delayMinMs: 1, delayMeanMs: 2, lossRate: 0, duplicateRate: 0 },
      disk: { latencyMinMs: 1, latencyMeanMs: 1 },
      faultMeanGapMs: Number.POSITIVE_INFINITY,
      weights: { partition: 0, crash: 0, pause: 0, clock: 0, disk: 0, transfer: 0, leader: 0 },
      faultMeanLengthMs: 1000,
      driftPpmMax: 0,
      requestMeanGapMs: rng.pick([5, 20, 50]),
      raft: {},
      nemesis: 'random',
    };
  }
  if (profile === 'elections') return drawElectionsWorld(rng);
  if (profile === 'partitions') return drawPartitionsWorld(rng);
  if (profile === 'figure8') return drawFigure8World(rng);
  const on = (): number => (rng.chance(3, 4) ? rng.int(1, 4) : 0);
  return {
    network: {
      delayMinMs: rng.int(0, 3),
      delayMeanMs: rng.pick([1, 3, 10, 30]),
      lossRate: rng.pick([0, 0, 0.01, 0.05, 0.2]),
      duplicateRate: rng.pick([0, 0, 0.01, 0.05]),
    },
    disk: { latencyMinMs: rng.int(0, 2), latencyMeanMs: rng.pick([0.5, 2, 8]) },
    faultMeanGapMs: rng.pick([300, 1000, 3000]),
    weights: { partition: on(), crash: on(), pause: on(), clock: on(), disk: on(), transfer: on(), leader: 0 },
    faultMeanLengthMs: rng.pick([200, 1000, 3000]),
    driftPpmMax: rng.pick([0, 100, 10_000, 50_000]),
    requestMeanGapMs: rng.pick([2, 10, 40]),
    raft: {},
    nemesis: 'random',
  };
}

/**
 * The `elections` world: a leader is crashed, isolated or cut off with part of the cluster every
 * few hundred milliseconds, nodes crash and restart within an election, and clients keep writing
 * and reading throughout, so uncommitted suffixes of several terms pile up and get overwritten,
 * and votes are cast, persisted and recovered all the time. Raft settings vary per seed: appends
 * of one entry and one in flight (so a new leader's followers acknowledge an earlier term's
 * entries on their own: the Figure 8 hazard of Raft §5.4.2), and CheckQuorum off in some seeds (a
 * deposed leader then believes it leads until it hears of the new term, which ReadIndex must
 * survive on its own).
 */
function drawElectionsWorld(rng: Rng): WorldKnobs {
  const small = rng.chance(2, 3);
  return {
    network: {
      delayMinMs: rng.int(0, 2),
      delayMeanMs: rng.pick([1, 3, 10, 30]),
      lossRate: rng.pick([0, 0.01, 0.05]),
      duplicateRate: rng.pick([0, 0.01, 0.05]),
    },
    disk: { latencyMinMs: rng.int(0, 1), latencyMeanMs: rng.pick([0.5, 2, 8]) },
    faultMeanGapMs: rng.pick([100, 200, 400]),
    weights: {
      partition: rng.int(0, 2),
      crash: rng.int(1, 2),
      pause: rng.int(0, 1),
      clock: 0,
      disk: 0,
      transfer: rng.int(0, 1),
      leader: 4,
    },
    faultMeanLengthMs: rng.pick([50, 150, 400]),
    driftPpmMax: 0,
    requestMeanGapMs: rng.pick([1, 3, 10]),
    raft: {
      checkQuorum: rng.chance(1, 2),
      appendEntriesMax: small ? 1 : 1024,
      inflightAppendsMax: small ? rng.pick([1, 4]) : 64,
    },
    nemesis: 'random',
  };
}

/**
 * The `partitions` world: partitions of every shape (the leader cut off alone, random halves, a
 * bridge node, one-way cuts, clogs), one at a time and long, a leader transfer now and then, under
 * heavy traffic, with CheckQuorum off in two seeds of three (a deposed leader then keeps believing
 * it leads until it hears of the new term). No crashes: what is tested is who knows what.
 */
function drawPartitionsWorld(rng: Rng): WorldKnobs {
  return {
    network: {
      delayMinMs: rng.int(0, 2),
      delayMeanMs: rng.pick([1, 3, 10]),
      lossRate: rng.pick([0, 0.01]),
      duplicateRate: rng.pick([0, 0.01]),
    },
    disk: { latencyMinMs: rng.int(0, 1), latencyMeanMs: rng.pick([0.5, 2]) },
    faultMeanGapMs: rng.pick([1000, 2000]),
    weights: { partition: 4, crash: 0, pause: 0, clock: 0, disk: 0, transfer: 1, leader: 0 },
    faultMeanLengthMs: rng.pick([600, 1200]),
    driftPpmMax: 0,
    requestMeanGapMs: rng.pick([1, 3, 10]),
    raft: { checkQuorum: rng.chance(1, 3) },
    nemesis: 'random',
  };
}

/**
 * The `figure8` world: a quick network, heavy writes, appends of one entry with one in flight (a
 * follower then acknowledges an earlier term's entries one by one, before the new leader's own
 * entry), and the faults of `drawFigure8Schedule` only.
 */
function drawFigure8World(rng: Rng): WorldKnobs {
  return {
    network: {
      delayMinMs: rng.int(0, 1),
      delayMeanMs: rng.pick([1, 3]),
      lossRate: rng.pick([0, 0.01]),
      duplicateRate: 0,
    },
    disk: { latencyMinMs: 0, latencyMeanMs: rng.pick([0.5, 2]) },
    faultMeanGapMs: 1000,
    weights: { partition: 0, crash: 0, pause: 0, clock: 0, disk: 0, transfer: 0, leader: 1 },
    faultMeanLengthMs: 300,
    driftPpmMax: 0,
    requestMeanGapMs: rng.pick([1, 2, 5]),
    raft: { checkQuorum: rng.chance(1, 2), appendEntriesMax: 1, inflightAppendsMax: 1 },
    nemesis: 'figure8',
  };
}

/**
 * Rounds of Raft's Figure 8 (§5.4.2), each with its own jitter: the leader crashes while the tail
 * of its log is on a minority (a); the next node to win is cut off as it wins, so the first entry
 * of its term stays its own (b); the one after it crashes the moment it has committed every entry
 * it held when it won (c); the network heals and every node competes again, the cut-off one with
 * the newest last term (d). A correct leader commits those entries only with the first entry of
 * its own term, which (d) cannot then overwrite; one that commits earlier terms' entries by
 * counting replicas in (c) lets (d) elect a node without them, which overwrites them.
 */
function drawFigure8Schedule(rng: Rng, nodeCount: number, durationMs: number): FaultEvent[] {
  const events: FaultEvent[] = [];
  const nodes = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`);
  for (let t = rng.int(300, 600); t < durationMs; t += rng.int(1500, 2000)) {
    const downMs = rng.int(100, 250);
    const healAtMs = t + downMs + rng.int(500, 800);
    // Past three nodes, enough of the others sit the round out that the cluster plays it as
    // three: with the cut-off winner away, the rest cannot elect without the crashed leader.
    for (const node of rng.shuffle(nodes).slice(0, Math.floor((nodeCount - 3) / 2))) {
      events.push(
        { atMs: t - 50, kind: 'crash', node, losePageCache: false },
        { atMs: healAtMs + 100, kind: 'restart', node },
      );
    }
    events.push({ atMs: t, kind: 'crashLeader', losePageCache: false, downMs });
    events.push({ atMs: t + 1, kind: 'isolateNextLeader' });
    events.push({ atMs: t + 2, kind: 'crashWhenCaughtUp', losePageCache: false, downMs: rng.int(600, 1000) });
    events.push({ atMs: healAtMs, kind: 'heal' });
  }
  return nodeCount < 3 ? [] : events.sort((a, b) => a.atMs - b.atMs);
}

/**
 * The nemesis: a fault schedule drawn from the seed's world. Every disruption it starts it also
 * ends (heal, restart, resume), at most a minority of nodes is crashed at once and at most one
 * disk is corrupted per run, so the
 * cluster keeps a chance to make progress between faults; the liveness phase ends them all anyway.
 */
export function drawFaultSchedule(rng: Rng, world: WorldKnobs, nodeCount: number, durationMs: number): FaultEvent[] {
  if (world.nemesis === 'figure8') return drawFigure8Schedule(rng, nodeCount, durationMs);
  const nodes = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`);
  const events: FaultEvent[] = [];
  const kinds = Object.entries(world.weights).filter(([, w]) => w > 0);
  const total = kinds.reduce((s, [, w]) => s + w, 0);
  if (!Number.isFinite(world.faultMeanGapMs) || total === 0) return events;
  const downUntil = new Map<string, number>();
  // A corrupt disk, or one that lost synced writes, costs a replacement (remove, wipe, re-add,
  // promote); losing more disks than the cluster has spare voters is data loss no procedure
  // recovers from, so one per run.
  let corruptions = 0;
  let t = 0;
  for (;;) {
    t += Math.ceil(rng.exponential(world.faultMeanGapMs)) + 1;
    if (t >= durationMs) break;
    const length = Math.ceil(rng.exponential(world.faultMeanLengthMs)) + 10;
    let pick = rng.float() * total;
    let kind = kinds[0]?.[0] ?? 'crash';
    for (const [k, w] of kinds) {
      pick -= w;
      if (pick < 0) {
        kind = k;
        break;
      }
    }
    const node = rng.pick(nodes);
    switch (kind) {
      case 'partition': {
        const shape = rng.int(0, 4);
        // A one-way cut or a clog is a link between two different nodes; a single node has none.
        const peers = nodes.filter((other) => other !== node);
        if (shape >= 3 && peers.length === 0) break;
        if (shape === 0) {
          const shuffled = rng.shuffle(nodes);
          const cut = rng.int(1, nodes.length - 1);
          events.push({ atMs: t, kind: 'partition', groups: [shuffled.slice(0, cut), shuffled.slice(cut)] });
        } else if (shape === 1) events.push({ atMs: t, kind: 'isolateLeader' });
        else if (shape === 2) events.push({ atMs: t, kind: 'bridge', node });
        else if (shape === 3) events.push({ atMs: t, kind: 'oneWay', from: node, to: rng.pick(peers) });
        else events.push({ atMs: t, kind: 'clog', from: node, to: rng.pick(peers), forMs: length });
        events.push({ atMs: t + length, kind: 'heal' });
        break;
      }
      case 'crash':
      case 'disk': {
        const busy = [...downUntil.values()].filter((until) => until > t).length;
        if (busy >= Math.floor((nodeCount - 1) / 2) || (downUntil.get(node) ?? 0) > t) break;
        downUntil.set(node, t + length);
        if (kind === 'crash') events.push({ atMs: t, kind: 'crash', node, losePageCache: rng.chance(1, 2) });
        else if (corruptions > 0 || nodeCount < 3 || rng.chance(1, 2))
          events.push({ atMs: t, kind: 'diskWriteError', node });
        else {
          corruptions += 1;
          downUntil.set(node, t + length + 5000);
          events.push({ atMs: t, kind: 'diskCorruptRead', node });
          // A process kill finds the armed corruption as a checksum failure; a power loss makes the
          // disk lose synced writes instead (disk.ts). Which one comes from the event's time rather
          // than a fresh draw, so every other event of the seed's schedule stays as it was.
          events.push({ atMs: t, kind: 'crash', node, losePageCache: t % 2 === 1 });
        }
        events.push({ atMs: t + length, kind: 'restart', node });
        break;
      }
      case 'pause':
        events.push({ atMs: t, kind: 'pause', node, forMs: length });
        break;
      case 'leader': {
        // Whoever leads when it fires: crashed (restarted `length` later) or cut off alone. Or
        // the next node to win an election: crashed as it wins or a few round trips later, cut
        // off as it wins (so its first entry stays its own), or crashed at its first commit.
        const shape = rng.int(0, 4);
        const losePageCache = rng.chance(1, 2);
        if (shape === 0) events.push({ atMs: t, kind: 'crashLeader', losePageCache, downMs: length });
        // Cut off long enough for the others to elect and commit (a deposed leader that does not
        // know it yet is what ReadIndex must not be fooled by).
        else if (shape === 1)
          events.push({ atMs: t, kind: 'isolateLeader' }, { atMs: t + length + rng.int(200, 600), kind: 'heal' });
        else if (shape === 2)
          events.push({
            atMs: t,
            kind: 'crashNextLeader',
            afterMs: rng.chance(1, 3) ? 0 : rng.int(1, 40),
            losePageCache,
            downMs: length,
          });
        else if (shape === 3)
          events.push({ atMs: t, kind: 'isolateNextLeader' }, { atMs: t + length + 500, kind: 'heal' });
        else events.push({ atMs: t, kind: 'crashWhenCaughtUp', losePageCache, downMs: length });
        break;
      }
      case 'clock':
        if (rng.chance(1, 3)) events.push({ atMs: t, kind: 'clockJump', node, jumpMs: rng.int(0, 2000) });
        else events.push({ atMs: t, kind: 'drift', node, ppm: rng.int(-world.driftPpmMax, world.driftPpmMax) });
        break;
      case 'transfer':
        events.push({ atMs: t, kind: 'transfer', to: node });
        break;
      default:
        break;
    }
  }
  return events.sort((a, b) => a.atMs - b.atMs);
}

/** The canonical one-line text of a fault event (traces, CLI output). */
export function describeFault(event: FaultEvent): string {
  switch (event.kind) {
    case 'partition':
      return `partition ${event.groups.map((g) => `[${g.join(',')}]`).join(' ')}`;
    case 'isolate':
      return `isolate ${event.node}`;
    case 'isolateLeader':
      return 'isolate the leader';
    case 'bridge':
      return `bridge via ${event.node}`;
    case 'oneWay':
      return `cut ${event.from}->${event.to}`;
    case 'clog':
      return `clog ${event.from}->${event.to} for ${event.forMs}ms`;
    case 'heal':
      return 'heal';
    case 'crash':
      return `crash ${event.node}${event.losePageCache ? ' (power loss)' : ''}`;
    case 'restart':
      return `restart ${event.node}`;
    case 'crashLeader':
      return `crash the leader${event.losePageCache ? ' (power loss)' : ''} for ${event.downMs}ms`;
    case 'crashNextLeader':
      return `crash the next leader ${event.afterMs}ms after it wins${event.losePageCache ? ' (power loss)' : ''}, for ${event.downMs}ms`;
    case 'crashWhenCaughtUp':
      return `crash the next leader once it commits what it held${event.losePageCache ? ' (power loss)' : ''}, for ${event.downMs}ms`;
    case 'isolateNextLeader':
      return 'isolate the next leader as it wins';
    case 'pause':
      return `pause ${event.node} for ${event.forMs}ms`;
    case 'drift':
      return `drift ${event.node} ${event.ppm}ppm`;
    case 'clockJump':
      return `clock jump ${event.node} +${event.jumpMs}ms`;
    case 'diskWriteError':
      return `disk write error armed on ${event.node}`;
    case 'diskCorruptRead':
      return `disk corruption armed on ${event.node}`;
    case 'transfer':
      return `transfer leadership to ${event.to}`;
    default:
      return assertNever(event, 'fault event');
  }
}
