import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import { createRng } from '../util/rng.js';
import type { FaultEvent, Profile } from './faults.js';
import { drawFaultSchedule, drawWorld, faultKinds, profiles } from './faults.js';

/**
 * One simulation, fully described: the seed drives every random choice (the world's noise, the
 * workload, the Raft timers) and `events` are the faults, explicit, in time order. A scenario
 * from `scenarioFromSeed` replays from its seed alone; any other (a fast-check shrink, a user's
 * script) replays from its JSON.
 */
export interface Scenario {
  readonly seed: number;
  readonly nodes: number;
  readonly durationMs: number;
  readonly profile: Profile;
  readonly events: readonly FaultEvent[];
}

/** The seed's own scenario: its world and its nemesis schedule. */
export function scenarioFromSeed(seed: number, nodes: number, durationMs: number, profile: Profile): Scenario {
  const rng = createRng(seed);
  const world = drawWorld(rng.fork('world'), profile);
  const events = drawFaultSchedule(rng.fork('nemesis'), world, nodes, durationMs);
  return { seed, nodes, durationMs, profile, events };
}

export function stringifyScenario(scenario: Scenario): string {
  return `${JSON.stringify(scenario, null, 2)}\n`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNat = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isName = (v: unknown): v is string => typeof v === 'string' && /^n[1-9][0-9]*$/.test(v);

type FieldCheck = readonly [field: string, test: (v: unknown) => boolean, what: string];

const node = (field: string): FieldCheck => [field, isName, 'a node name'];
const nat = (field: string): FieldCheck => [field, isNat, 'a non-negative integer'];

/** The fields each fault kind needs beyond `atMs` and `kind`. */
const eventFields: Readonly<Record<FaultEvent['kind'], readonly FieldCheck[]>> = {
  partition: [
    [
      'groups',
      (v) => Array.isArray(v) && v.every((g) => Array.isArray(g) && g.every(isName)),
      'an array of node-name arrays',
    ],
  ],
  isolate: [node('node')],
  isolateLeader: [],
  bridge: [node('node')],
  oneWay: [node('from'), node('to')],
  clog: [node('from'), node('to'), nat('forMs')],
  heal: [],
  crash: [node('node'), ['losePageCache', (v) => typeof v === 'boolean', 'a boolean']],
  restart: [node('node')],
  crashLeader: [['losePageCache', (v) => typeof v === 'boolean', 'a boolean'], nat('downMs')],
  crashNextLeader: [nat('afterMs'), ['losePageCache', (v) => typeof v === 'boolean', 'a boolean'], nat('downMs')],
  crashWhenCaughtUp: [['losePageCache', (v) => typeof v === 'boolean', 'a boolean'], nat('downMs')],
  isolateNextLeader: [],
  pause: [node('node'), nat('forMs')],
  drift: [
    node('node'),
    ['ppm', (v) => typeof v === 'number' && Number.isFinite(v) && Math.abs(v) < 1_000_000, 'ppm within ±10^6'],
  ],
  clockJump: [node('node'), nat('jumpMs')],
  diskWriteError: [node('node')],
  diskCorruptRead: [node('node')],
  transfer: [node('to')],
};

function checkEvent(raw: unknown, at: string): Result<FaultEvent, string> {
  if (!isObject(raw)) return err(`${at}: not an object`);
  if (!isNat(raw['atMs'])) return err(`${at}.atMs: expected a non-negative integer`);
  const kind = raw['kind'];
  if (typeof kind !== 'string' || !(faultKinds as readonly string[]).includes(kind))
    return err(`${at}.kind: unknown fault ${JSON.stringify(kind)}`);
  for (const [field, test, what] of eventFields[kind as FaultEvent['kind']]) {
    if (!test(raw[field])) return err(`${at}.${field}: expected ${what}`);
  }
  return ok(raw as unknown as FaultEvent);
}

/** Parse and validate a scenario file; errors name the offending field. */
export function parseScenario(text: string): Result<Scenario, string> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return err(`not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObject(raw)) return err('scenario: expected an object');
  if (!isNat(raw['seed'])) return err('seed: expected a non-negative integer');
  if (!isNat(raw['nodes']) || raw['nodes'] < 1 || raw['nodes'] > 9) return err('nodes: expected 1..9');
  if (!isNat(raw['durationMs'])) return err('durationMs: expected a non-negative integer');
  const profile = raw['profile'];
  if (typeof profile !== 'string' || !(profiles as readonly string[]).includes(profile)) {
    return err(`profile: expected one of ${profiles.map((p) => JSON.stringify(p)).join(', ')}`);
  }
  const eventsRaw = raw['events'];
  if (!Array.isArray(eventsRaw)) return err('events: expected an array');
  const events: FaultEvent[] = [];
  for (let i = 0; i < eventsRaw.length; i++) {
    const e = checkEvent(eventsRaw[i], `events[${i}]`);
    if (!e.ok) return e;
    events.push(e.value);
  }
  events.sort((a, b) => a.atMs - b.atMs);
  return ok({
    seed: raw['seed'],
    nodes: raw['nodes'],
    durationMs: raw['durationMs'],
    profile: profile as Profile,
    events,
  });
}
