// Robustness and replication properties of the lock state machine:
// - apply never throws on random bytes or structurally wrong commands (a bad command is a
//   deterministic INVALID_ARGUMENT; an exception on one replica would be divergence);
// - random runs over every lock kind keep the invariants after every entry, fencing tokens only
//   grow, two replicas agree byte for byte, and a replica restored from a snapshot taken at a
//   random point behaves identically afterwards (Raft §7);
// - a watcher resuming from any index gets exactly the events after it, or COMPACTED;
// - log time only advances by what leaders stamp, so repeated elections (entries with equal log
//   time) cannot keep a dead session alive: it expires exactly when logTime − lastSeen > ttl.
import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import type { Command, Operation } from '../../src/statemachine/commands.js';
import { encodeCommand } from '../../src/statemachine/commands.js';
import { defaultLockMachineConfig } from '../../src/statemachine/config.js';
import { sessionId } from '../../src/statemachine/ids.js';
import { checkInvariants } from '../../src/statemachine/invariants.js';
import { LockStateMachine } from '../../src/statemachine/machine.js';
import { eventsSince } from '../../src/statemachine/queries.js';
import type { WatchEvent } from '../../src/statemachine/results.js';
import type { LogIndex, Term } from '../../src/raft/types.js';
import { Replicas } from './fixtures/replicas.js';

const packr = new Packr({ useRecords: false });

function entry(index: number, logTimeMs: number, payload: Uint8Array) {
  return { index: index as LogIndex, term: 1 as Term, logTimeMs, payload };
}

const validOps: Operation[] = [
  { type: 'openSession', ttlMs: 5_000 },
  { type: 'acquire', session: sessionId(1), name: 'L', waitMs: 100, lockDelayMs: 0 },
  { type: 'acquireSemaphore', session: sessionId(1), name: 'S', permits: 2, waitMs: 0, lockDelayMs: 0 },
  { type: 'acquireRw', session: sessionId(1), name: 'R', mode: 'read', waitMs: 0, lockDelayMs: 0 },
  { type: 'campaign', session: sessionId(1), name: 'E', value: new Uint8Array([1]), waitMs: 0, lockDelayMs: 0 },
  {
    type: 'put',
    session: sessionId(1),
    key: 'k',
    value: new Uint8Array([1]),
    ifVersion: null,
    ephemeral: false,
    fence: { lock: 'L', token: 2 },
  },
  { type: 'delete', session: sessionId(1), key: 'k', ifVersion: 0, fence: null },
  { type: 'release', session: sessionId(1), name: 'L' },
];

t.test('apply never throws on random bytes or structurally wrong commands', async (t) => {
  const machine = new LockStateMachine();
  let index = 0;
  // A live session so that mutated commands get past the session check and into every handler.
  machine.apply(
    entry(
      ++index,
      0,
      encodeCommand({ type: 'client', clientId: 'x', seq: 1, op: { type: 'openSession', ttlMs: 86_400_000 } }),
    ),
  );
  const payloads = fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 64 }),
    fc.anything().map((v) => packr.pack(v) as Uint8Array),
    fc
      .record({
        op: fc.constantFrom(...validOps),
        position: fc.nat({ max: 11 }),
        value: fc.anything(),
        cut: fc.boolean(),
        seq: fc.integer({ min: 1, max: 1_000_000 }),
      })
      .map(({ op, position, value, cut, seq }) => {
        // A valid command with one field replaced by a random value, or cut short there.
        const fields = packr.unpack(encodeCommand({ type: 'client', clientId: 'x', seq, op })) as unknown[];
        if (cut) fields.length = Math.min(fields.length, position);
        else fields[Math.min(position, fields.length)] = value;
        return packr.pack(fields) as Uint8Array;
      }),
  );
  fc.assert(
    fc.property(payloads, (payload) => {
      const output = machine.apply(entry(++index, index, payload));
      if (typeof output.result.code !== 'string') return false;
      return checkInvariants(machine.state).length === 0;
    }),
    { numRuns: 3_000 },
  );
  t.pass('3000 hostile payloads applied without an exception');
});

// ---- random runs over every kind ----

type Step = { readonly advanceMs: number; readonly client: number; readonly pick: number; readonly arg: number };

const names = ['m', 's', 'r', 'e', 'k'];

function buildCommand(step: Step, seqs: number[], sessions: number[], liveOf: (id: number) => boolean): Command | null {
  const c = step.client;
  const clientId = `c${c}`;
  const session = sessionId(sessions[c] ?? 0);
  let op: Operation;
  const name = `${names[step.arg % names.length]}${step.arg % 2}`;
  if ((sessions[c] ?? 0) === 0 || (!liveOf(session) && step.pick % 3 !== 0)) {
    op = { type: 'openSession', ttlMs: 1_000 + (step.arg % 5) * 1_000 };
  } else {
    const waitMs = step.arg % 3 === 0 ? 0 : 200 + step.arg * 37;
    const lockDelayMs = step.arg % 4 === 0 ? 300 : 0;
    switch (step.pick % 12) {
      case 0:
        return { type: 'keepAliveBatch', sessions: sessions.filter((s) => s > 0).map(sessionId) };
      case 1:
        op = { type: 'acquire', session, name: `m${step.arg % 3}`, waitMs, lockDelayMs };
        break;
      case 2:
        op = { type: 'acquireSemaphore', session, name: `s${step.arg % 2}`, permits: 2, waitMs, lockDelayMs };
        break;
      case 3:
        op = {
          type: 'acquireRw',
          session,
          name: `r${step.arg % 2}`,
          mode: step.arg % 3 === 1 ? 'write' : 'read',
          waitMs,
          lockDelayMs,
        };
        break;
      case 4:
        op = { type: 'campaign', session, name: `e${step.arg % 2}`, value: new Uint8Array([c]), waitMs, lockDelayMs };
        break;
      case 5:
      case 6:
        op = {
          type: 'release',
          session,
          name: [`m${step.arg % 3}`, `s${step.arg % 2}`, `r${step.arg % 2}`][step.arg % 3] ?? 'm0',
        };
        break;
      case 7:
        op =
          step.arg % 2 === 0
            ? { type: 'resign', session, name: `e${step.arg % 2}` }
            : { type: 'proclaim', session, name: `e${step.arg % 2}`, value: new Uint8Array([step.arg]) };
        break;
      case 8:
        op = {
          type: 'put',
          session,
          key: name,
          value: new Uint8Array([step.arg]),
          ifVersion: step.arg % 3 === 0 ? 0 : null,
          ephemeral: step.arg % 2 === 0,
          fence: step.arg % 5 === 0 ? { lock: 'm0', token: step.arg } : null,
        };
        break;
      case 9:
        op = { type: 'delete', session, key: name, ifVersion: null, fence: null };
        break;
      case 10:
        op = { type: 'keepAlive', session };
        break;
      default:
        op = { type: 'closeSession', session };
    }
  }
  const seq = (seqs[c] ?? 0) + 1;
  seqs[c] = seq;
  return { type: 'client', clientId, seq, op };
}

const stepArb: fc.Arbitrary<Step> = fc.record({
  advanceMs: fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 250 }) },
    { weight: 1, arbitrary: fc.integer({ min: 250, max: 5_000 }) },
  ),
  client: fc.nat({ max: 4 }),
  pick: fc.nat({ max: 1_000 }),
  arg: fc.nat({ max: 1_000 }),
});

t.test(
  'random runs over every lock kind: invariants, growing tokens, identical replicas, snapshot round trips, gap-free watches',
  async (t) => {
    fc.assert(
      fc.property(
        fc.array(stepArb, { minLength: 1, maxLength: 200, size: 'max' }),
        fc.nat({ max: 199 }),
        (steps, snapAt) => {
          const config = { ...defaultLockMachineConfig, eventHistoryMax: 64 };
          const replicas = new Replicas(config);
          const a = replicas.main;
          const seqs = [0, 0, 0, 0, 0];
          const sessions = [0, 0, 0, 0, 0];
          const seen: WatchEvent[] = [];
          let nowMs = 0;
          let lastToken = 0;
          for (const [i, step] of steps.entries()) {
            nowMs += step.advanceMs;
            const command = buildCommand(step, seqs, sessions, (id) => a.state.sessions.has(sessionId(id)));
            const payload = command === null ? new Uint8Array(0) : encodeCommand(command);
            const e = entry(i + 1, nowMs, payload);
            const out = replicas.apply(e);
            if (
              command?.type === 'client' &&
              command.op.type === 'openSession' &&
              out.result.code === 'OK' &&
              out.result.value.kind === 'session'
            ) {
              sessions[Number(command.clientId.slice(1))] = out.result.value.session;
            }
            for (const n of out.notifications) {
              if (n.kind !== 'event') continue;
              seen.push(n.event);
              if (n.event.type === 'grant' || (n.event.type === 'leader' && n.event.token > lastToken)) {
                if (n.event.token <= lastToken) throw new Error(`token ${n.event.token} after ${lastToken}`);
                lastToken = n.event.token;
              }
            }
            if (i === snapAt) replicas.restoreFromSnapshot();
          }
          // Watches: from every index, exactly the later events (in order), or COMPACTED.
          for (let after = 0; after <= steps.length; after += 7) {
            const answer = eventsSince(a.state, '', after, 1_000_000);
            const expected = seen.filter((ev) => ev.index > after);
            if (answer.code === 'OK') {
              if (!isDeepStrictEqual(answer.events, expected)) throw new Error(`events after ${after} have a gap`);
            } else if (answer.code !== 'COMPACTED' || after >= a.state.events.evictedThroughIndex) {
              throw new Error(`unexpected ${answer.code} after ${after}`);
            }
          }
          const { twin, restored } = replicas;
          if (Buffer.compare(Buffer.from(a.snapshot()), Buffer.from(twin.snapshot())) !== 0)
            throw new Error('final snapshots differ');
          if (restored !== null && Buffer.compare(Buffer.from(a.snapshot()), Buffer.from(restored.snapshot())) !== 0) {
            throw new Error('the restored replica ends in a different state');
          }
        },
      ),
      { numRuns: 150 },
    );
    t.pass('150 random runs');
  },
);

t.test(
  'repeated elections cannot keep a dead session alive: expiry exactly when logTime − lastSeen > ttl',
  async (t) => {
    // Each "election" is modelled as several entries stamped with the same log time (a new leader
    // continues from the last committed log time), followed by entries whose time advances.
    fc.assert(
      fc.property(
        fc.integer({ min: 1_000, max: 10_000 }),
        fc.array(fc.record({ pauseEntries: fc.nat({ max: 4 }), advanceMs: fc.integer({ min: 0, max: 700 }) }), {
          minLength: 1,
          maxLength: 80,
        }),
        (ttlMs, elections) => {
          const machine = new LockStateMachine();
          let index = 1;
          const openedAt = 1_000;
          machine.apply(
            entry(
              index,
              openedAt,
              encodeCommand({ type: 'client', clientId: 'c', seq: 1, op: { type: 'openSession', ttlMs } }),
            ),
          );
          const id = sessionId(1);
          let nowMs = openedAt;
          for (const election of elections) {
            for (let k = 0; k <= election.pauseEntries; k++) {
              // A stale leader's stamp below the committed log time must not move time back either.
              const stamp = k === 1 ? nowMs - 500 : nowMs;
              machine.apply(entry(++index, stamp, new Uint8Array(0)));
              const live = machine.state.sessions.has(id);
              if (live !== nowMs - openedAt <= ttlMs) return false;
            }
            nowMs += election.advanceMs;
          }
          return true;
        },
      ),
      { numRuns: 300 },
    );
    t.pass('the session lives exactly while logTime − lastSeen ≤ ttl');
  },
);
