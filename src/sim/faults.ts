import { assertNever } from '../util/assert.js';
import type { Rng } from '../util/rng.js';
import type { DiskKnobs } from './disk.js';
import type { NetworkKnobs } from './network.js';

/** A node in a simulated cluster is named by its 1-based position: `n1`, `n2`, ... */
export type SimNodeName = string;

/**
 * Every fault the simulator can inject: a closed union. Events that do not apply when they fire
 * (restart a running node, crash a crashed one) do nothing, so any subsequence of a schedule is
 * a valid schedule: that is what lets fast-check shrink them.
 */
export type FaultEvent =
  | { readonly atMs: number; readonly kind: 'partition'; readonly groups: readonly (readonly SimNodeName[])[] }
  | { readonly atMs: number; readonly kind: 'isolate'; readonly node: SimNodeName }
  | { readonly atMs: number; readonly kind: 'isolateLeader' }
  | { readonly atMs: number; readonly kind: 'bridge'; readonly node: SimNodeName }
  | { readonly atMs: number; readonly kind: 'oneWay'; readonly from: SimNodeName; readonly to: SimNodeName }
  | { readonly atMs: number; readonly kind: 'clog'; readonly from: SimNodeName; readonly to: SimNodeName; readonly forMs: number }
  | { readonly atMs: number; readonly kind: 'heal' }
  | { readonly atMs: number; readonly kind: 'crash'; readonly node: SimNodeName; readonly losePageCache: boolean }
  | { readonly atMs: number; readonly kind: 'restart'; readonly node: SimNodeName }
  | { readonly atMs: number; readonly kind: 'pause'; readonly node: SimNodeName; readonly forMs: number }
  | { readonly atMs: number; readonly kind: 'drift'; readonly node: SimNodeName; readonly ppm: number }
  | { readonly atMs: number; readonly kind: 'clockJump'; readonly node: SimNodeName; readonly jumpMs: number }
  | { readonly atMs: number; readonly kind: 'diskWriteError'; readonly node: SimNodeName }
  | { readonly atMs: number; readonly kind: 'diskCorruptRead'; readonly node: SimNodeName }
  | { readonly atMs: number; readonly kind: 'transfer'; readonly to: SimNodeName };

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
  'pause',
  'drift',
  'clockJump',
  'diskWriteError',
  'diskCorruptRead',
  'transfer',
];

export type Profile = 'calm' | 'swarm';

/** The world one seed draws: noise levels and how often each kind of fault strikes. */
export interface WorldKnobs {
  readonly network: NetworkKnobs;
  readonly disk: DiskKnobs;
  /** Mean time between fault events (each kind weighted below); Infinity = no faults. */
  readonly faultMeanGapMs: number;
  readonly weights: Readonly<Record<'partition' | 'crash' | 'pause' | 'clock' | 'disk' | 'transfer', number>>;
  /** How long a partition, crash or pause lasts before it is healed/restarted/resumed (mean). */
  readonly faultMeanLengthMs: number;
  /** Largest |drift| drawn, in ppm. */
  readonly driftPpmMax: number;
  /** Mean gap between client requests. */
  readonly requestMeanGapMs: number;
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
      weights: { partition: 0, crash: 0, pause: 0, clock: 0, disk: 0, transfer: 0 },
      faultMeanLengthMs: 1000,
      driftPpmMax: 0,
      requestMeanGapMs: rng.pick([5, 20, 50]),
    };
  }
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
    weights: { partition: on(), crash: on(), pause: on(), clock: on(), disk: on(), transfer: on() },
    faultMeanLengthMs: rng.pick([200, 1000, 3000]),
    driftPpmMax: rng.pick([0, 100, 10_000, 50_000]),
    requestMeanGapMs: rng.pick([2, 10, 40]),
  };
}

/**
 * The nemesis: a fault schedule drawn from the seed's world. Every disruption it starts it also
 * ends (heal, restart, resume), at most a minority of nodes is crashed at once and at most one
 * disk is corrupted per run, so the
 * cluster keeps a chance to make progress between faults; the liveness phase ends them all anyway.
 */
export function drawFaultSchedule(rng: Rng, world: WorldKnobs, nodeCount: number, durationMs: number): FaultEvent[] {
  const nodes = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`);
  const events: FaultEvent[] = [];
  const kinds = Object.entries(world.weights).filter(([, w]) => w > 0);
  const total = kinds.reduce((s, [, w]) => s + w, 0);
  if (!Number.isFinite(world.faultMeanGapMs) || total === 0) return events;
  const downUntil = new Map<string, number>();
  // A corrupt disk costs a replacement (remove, wipe, re-add, promote); losing more disks than
  // the cluster has spare voters is data loss no procedure recovers from, so one per run.
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
        else if (corruptions > 0 || nodeCount < 3 || rng.chance(1, 2)) events.push({ atMs: t, kind: 'diskWriteError', node });
        else {
          corruptions += 1;
          downUntil.set(node, t + length + 5000);
          events.push({ atMs: t, kind: 'diskCorruptRead', node });
          events.push({ atMs: t, kind: 'crash', node, losePageCache: false });
        }
        events.push({ atMs: t + length, kind: 'restart', node });
        break;
      }
      case 'pause':
        events.push({ atMs: t, kind: 'pause', node, forMs: length });
        break;
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
