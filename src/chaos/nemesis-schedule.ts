/**
 * The nemesis's plan for a chaos run: a seeded, deterministic list of timed events, generated
 * before the run and printed as stable text, so a failure can name its seed and its schedule and
 * the same seed always gives the same plan. Each fault is followed by its own recovery; the plan
 * ends with a full heal (heal, resume, restart) so that convergence can be checked afterwards.
 *
 * Targets are node names or `leader`, resolved by the runner when the event fires (the leader is
 * not known in advance). Recovery events carry no target: `restart` restarts every killed node,
 * `resume` continues every paused one, `heal` passes every link.
 */
import { assertNever } from '../util/assert.js';
import { createRng } from '../util/rng.js';
import type { Rng } from '../util/rng.js';
import type { PartitionShape } from './partition.js';

export type NodeRef = string;
export const leaderRef: NodeRef = 'leader';

export type ShapeTemplate =
  | { readonly kind: 'split'; readonly minority: readonly NodeRef[] }
  | { readonly kind: 'isolate'; readonly node: NodeRef }
  | { readonly kind: 'bridge'; readonly bridge: NodeRef; readonly left: readonly NodeRef[] }
  | { readonly kind: 'one-way'; readonly from: readonly NodeRef[] };

export type NemesisEvent =
  /** SIGKILL; the data directory stays. */
  | { readonly kind: 'kill'; readonly nodes: readonly NodeRef[] }
  | { readonly kind: 'restart' }
  /** SIGSTOP for longer than a session TTL, so that sessions held there expire. */
  | { readonly kind: 'pause'; readonly nodes: readonly NodeRef[] }
  | { readonly kind: 'resume' }
  | { readonly kind: 'partition'; readonly shape: ShapeTemplate }
  /** Every peer link delayed by `delayMs` each way. */
  | { readonly kind: 'slow'; readonly delayMs: number }
  | { readonly kind: 'heal' }
  | { readonly kind: 'transfer-leadership'; readonly to: NodeRef }
  /** Remove a member through a configuration change, then (a later event) add it back empty. */
  | { readonly kind: 'remove-member'; readonly node: NodeRef }
  | { readonly kind: 'add-member'; readonly node: NodeRef };

export type TimedEvent = { readonly atMs: number; readonly event: NemesisEvent };

export type FaultKind =
  | 'kill'
  | 'kill-leader'
  | 'pause'
  | 'pause-leader'
  | 'split'
  | 'isolate'
  | 'isolate-leader'
  | 'bridge'
  | 'one-way'
  | 'slow'
  | 'transfer'
  | 'membership';

export const allFaultKinds: readonly FaultKind[] = [
  'kill',
  'kill-leader',
  'pause',
  'pause-leader',
  'split',
  'isolate',
  'isolate-leader',
  'bridge',
  'one-way',
  'slow',
  'transfer',
  'membership',
];

export type ScheduleOptions = {
  readonly seed: number;
  readonly durationMs: number;
  readonly nodes: readonly string[];
  /** The clients' session TTL: pauses last 1.5–3 TTLs so that held sessions expire. */
  readonly sessionTtlMs: number;
  readonly faults?: readonly FaultKind[];
  /** How long a fault lasts, and the calm between faults (defaults: 2–8 s and 1–4 s). */
  readonly faultMs?: readonly [number, number];
  readonly calmMs?: readonly [number, number];
};

export type NemesisSchedule = {
  readonly seed: number;
  readonly durationMs: number;
  readonly nodes: readonly string[];
  readonly events: readonly TimedEvent[];
};

/** The largest number of nodes that may be down at once without losing the majority. */
const minorityOf = (n: number): number => Math.floor((n - 1) / 2);

function someNodes(rng: Rng, nodes: readonly string[], count: number): string[] {
  return rng.shuffle(nodes).slice(0, count).sort();
}

function faultEvents(
  rng: Rng,
  kind: FaultKind,
  nodes: readonly string[],
  ttlMs: number,
  faultMs: number,
): { start: NemesisEvent[]; end: NemesisEvent[]; lastsMs: number } {
  const minority = Math.max(1, minorityOf(nodes.length));
  switch (kind) {
    case 'kill':
      return {
        start: [{ kind: 'kill', nodes: someNodes(rng, nodes, rng.int(1, minority)) }],
        end: [{ kind: 'restart' }],
        lastsMs: faultMs,
      };
    case 'kill-leader':
      return { start: [{ kind: 'kill', nodes: [leaderRef] }], end: [{ kind: 'restart' }], lastsMs: faultMs };
    case 'pause':
    case 'pause-leader': {
      const who = kind === 'pause' ? someNodes(rng, nodes, rng.int(1, minority)) : [leaderRef];
      // Longer than a TTL, so sessions kept alive through the paused node must expire meanwhile.
      const lastsMs = Math.round(ttlMs * (1.5 + rng.float() * 1.5));
      return { start: [{ kind: 'pause', nodes: who }], end: [{ kind: 'resume' }], lastsMs };
    }
    case 'split':
      return {
        start: [{ kind: 'partition', shape: { kind: 'split', minority: someNodes(rng, nodes, rng.int(1, minority)) } }],
        end: [{ kind: 'heal' }],
        lastsMs: faultMs,
      };
    case 'isolate':
      return {
        start: [{ kind: 'partition', shape: { kind: 'isolate', node: rng.pick(nodes) } }],
        end: [{ kind: 'heal' }],
        lastsMs: faultMs,
      };
    case 'isolate-leader':
      return {
        start: [{ kind: 'partition', shape: { kind: 'isolate', node: leaderRef } }],
        end: [{ kind: 'heal' }],
        lastsMs: faultMs,
      };
    case 'bridge': {
      const order = rng.shuffle(nodes);
      const bridge = order[0] as string;
      const rest = order.slice(1);
      return {
        start: [
          {
            kind: 'partition',
            shape: { kind: 'bridge', bridge, left: rest.slice(0, Math.floor(rest.length / 2)).sort() },
          },
        ],
        end: [{ kind: 'heal' }],
        lastsMs: faultMs,
      };
    }
    case 'one-way': {
      const from = rng.bernoulli(0.5) ? [leaderRef] : someNodes(rng, nodes, rng.int(1, minority));
      return {
        start: [{ kind: 'partition', shape: { kind: 'one-way', from } }],
        end: [{ kind: 'heal' }],
        lastsMs: faultMs,
      };
    }
    case 'slow':
      return { start: [{ kind: 'slow', delayMs: rng.int(20, 200) }], end: [{ kind: 'heal' }], lastsMs: faultMs };
    case 'transfer':
      return { start: [{ kind: 'transfer-leadership', to: rng.pick(nodes) }], end: [], lastsMs: 0 };
    case 'membership': {
      const node = rng.pick(nodes);
      return { start: [{ kind: 'remove-member', node }], end: [{ kind: 'add-member', node }], lastsMs: faultMs };
    }
    default:
      return assertNever(kind, 'fault kind');
  }
}

/** Builds the schedule for a seed. Pure: the same options always give the same events. */
export function buildSchedule(options: ScheduleOptions): NemesisSchedule {
  const { seed, durationMs, nodes, sessionTtlMs } = options;
  if (nodes.length < 3) throw new RangeError('a chaos cluster needs at least 3 nodes');
  const faults = options.faults ?? allFaultKinds;
  if (faults.length === 0) throw new RangeError('no fault kinds to choose from');
  const [faultMin, faultMax] = options.faultMs ?? [2000, 8000];
  const [calmMin, calmMax] = options.calmMs ?? [1000, 4000];
  const rng = createRng(seed).fork('nemesis');
  const sorted = [...nodes].sort();
  const events: TimedEvent[] = [];
  let now = rng.int(calmMin, calmMax);
  while (true) {
    const kind = rng.pick(faults);
    const plan = faultEvents(rng, kind, sorted, sessionTtlMs, rng.int(faultMin, faultMax));
    if (now + plan.lastsMs >= durationMs) break;
    for (const event of plan.start) events.push({ atMs: now, event });
    now += plan.lastsMs;
    for (const event of plan.end) events.push({ atMs: now, event });
    now += rng.int(calmMin, calmMax);
  }
  // Whatever happened, the run ends healed, resumed and restarted, for the convergence check.
  const endMs = Math.max(now, durationMs);
  for (const event of [{ kind: 'heal' }, { kind: 'resume' }, { kind: 'restart' }] as const)
    events.push({ atMs: endMs, event });
  return { seed, durationMs, nodes: sorted, events };
}

function refs(nodes: readonly NodeRef[]): string {
  return nodes.join(' ');
}

export function describeEvent(event: NemesisEvent): string {
  switch (event.kind) {
    case 'kill':
      return `kill ${refs(event.nodes)}`;
    case 'restart':
      return 'restart killed nodes';
    case 'pause':
      return `pause ${refs(event.nodes)}`;
    case 'resume':
      return 'resume paused nodes';
    case 'partition': {
      const s = event.shape;
      switch (s.kind) {
        case 'split':
          return `partition split [${refs(s.minority)}] | rest`;
        case 'isolate':
          return `partition isolate ${s.node}`;
        case 'bridge':
          return `partition bridge ${s.bridge} between [${refs(s.left)}] and the rest`;
        case 'one-way':
          return `partition one-way [${refs(s.from)}] -/-> rest`;
        default:
          return assertNever(s, 'shape');
      }
    }
    case 'slow':
      return `slow every link by ${event.delayMs}ms`;
    case 'heal':
      return 'heal every link';
    case 'transfer-leadership':
      return `transfer leadership to ${event.to}`;
    case 'remove-member':
      return `remove member ${event.node}`;
    case 'add-member':
      return `add member ${event.node} (empty)`;
    default:
      return assertNever(event, 'nemesis event');
  }
}

/** Stable text: a header line, then one line per event with its time in seconds. */
export function formatSchedule(schedule: NemesisSchedule): string {
  const lines = [
    `nemesis schedule seed=${schedule.seed} duration=${schedule.durationMs}ms nodes=${schedule.nodes.join(',')}`,
  ];
  for (const { atMs, event } of schedule.events) {
    lines.push(`${(atMs / 1000).toFixed(3).padStart(9)}s  ${describeEvent(event)}`);
  }
  return lines.join('\n');
}

/** Resolves `leader` to the current leader's name. */
export function resolveRef(ref: NodeRef, leader: string): string {
  return ref === leaderRef ? leader : ref;
}

/**
 * A shape with every `leader` resolved. Resolving can put the leader on both sides of a bridge or
 * twice in a list; duplicates are removed and a bridge keeps the node as the bridge.
 */
export function resolveShape(shape: ShapeTemplate, leader: string): PartitionShape {
  const list = (names: readonly NodeRef[]): string[] => [...new Set(names.map((n) => resolveRef(n, leader)))].sort();
  switch (shape.kind) {
    case 'split':
      return { kind: 'split', minority: list(shape.minority) };
    case 'isolate':
      return { kind: 'isolate', node: resolveRef(shape.node, leader) };
    case 'bridge': {
      const bridge = resolveRef(shape.bridge, leader);
      return { kind: 'bridge', bridge, left: list(shape.left).filter((n) => n !== bridge) };
    }
    case 'one-way':
      return { kind: 'one-way', from: list(shape.from) };
    default:
      return assertNever(shape, 'shape');
  }
}
