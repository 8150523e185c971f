// Model-based tests of apply(): random runs of sessions, mutexes, semaphores, read/write locks and
// keys are compared, entry by entry, with the reference model in fixtures/model.ts (results, grants, timeouts, expiries,
// holders, FIFO queues, keys, the client table). The same runs check the invariants after every
// entry, that fencing tokens only grow, that each (clientId, seq) takes effect at most once
// (Raft dissertation §6.3), and that a snapshot taken at a random point restores to a replica that
// re-encodes byte-identically and then behaves identically (Raft §7: snapshots replace the log).
import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import fc from 'fast-check';
import type { Command, Operation } from '../../src/statemachine/commands.js';
import { encodeCommand } from '../../src/statemachine/commands.js';
import { defaultLockMachineConfig } from '../../src/statemachine/config.js';
import { sessionId } from '../../src/statemachine/ids.js';
import { checkInvariants } from '../../src/statemachine/invariants.js';
import { LockStateMachine } from '../../src/statemachine/machine.js';
import { waitersOf } from '../../src/statemachine/queue.js';
import type { ApplyOutput, CommandResult } from '../../src/statemachine/results.js';
import type { LogIndex, Term } from '../../src/raft/types.js';
import type { ModelCommand, ModelOp, ModelResult } from './fixtures/model.js';
import { Model } from './fixtures/model.js';

const clients = ['c0', 'c1', 'c2', 'c3'];
const lockNames = ['L0', 'L1', 'S0', 'R0', 'R1'];
const kindOf = (name: string): 'mutex' | 'semaphore' | 'rwlock' =>
  name.startsWith('S') ? 'semaphore' : name.startsWith('R') ? 'rwlock' : 'mutex';
const keyNames = ['k0', 'k1'];

type OpDesc =
  | { readonly t: 'open'; readonly ttlMs: number }
  | { readonly t: 'keep' }
  | { readonly t: 'close' }
  | {
      readonly t: 'acquire';
      readonly lock: number;
      readonly waitMs: number;
      readonly lockDelayMs: number;
      readonly write: boolean;
      readonly permits: number;
    }
  | { readonly t: 'release'; readonly lock: number }
  | {
      readonly t: 'put';
      readonly key: number;
      readonly ifv: 'none' | 'zero' | 'current' | 'wrong';
      readonly eph: boolean;
      readonly fence: 'none' | 'current' | 'stale';
      readonly lock: number;
    }
  | { readonly t: 'delete'; readonly key: number; readonly ifv: 'none' | 'zero' | 'current' | 'wrong' };

type StepDesc =
  | { readonly s: 'tick'; readonly advanceMs: number }
  | { readonly s: 'batch'; readonly advanceMs: number; readonly who: readonly number[] }
  | { readonly s: 'op'; readonly advanceMs: number; readonly client: number; readonly op: OpDesc }
  | { readonly s: 'retry'; readonly advanceMs: number; readonly client: number }
  | { readonly s: 'snapshot' };

const index = (n: number) => fc.nat({ max: n - 1 });
const ifv = fc.constantFrom('none', 'zero', 'current', 'wrong') as fc.Arbitrary<'none' | 'zero' | 'current' | 'wrong'>;
const opDesc: fc.Arbitrary<OpDesc> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('open' as const), ttlMs: fc.integer({ min: 1_000, max: 6_000 }) }),
  },
  { weight: 2, arbitrary: fc.constant({ t: 'keep' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'close' as const }) },
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('acquire' as const),
      lock: index(lockNames.length),
      waitMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3_000 })),
      lockDelayMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1_500 })),
      write: fc.boolean(),
      permits: fc.oneof({ weight: 6, arbitrary: fc.constant(2) }, { weight: 1, arbitrary: fc.constant(3) }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('release' as const), lock: index(lockNames.length) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('put' as const),
      key: index(keyNames.length),
      ifv,
      eph: fc.boolean(),
      fence: fc.constantFrom('none', 'current', 'stale') as fc.Arbitrary<'none' | 'current' | 'stale'>,
      lock: index(lockNames.length),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('delete' as const), key: index(keyNames.length), ifv }) },
);
const advance = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 300 }) },
  { weight: 1, arbitrary: fc.integer({ min: 300, max: 4_000 }) },
);
const stepDesc: fc.Arbitrary<StepDesc> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ s: fc.constant('tick' as const), advanceMs: advance }) },
  {
    weight: 2,
    arbitrary: fc.record({
      s: fc.constant('batch' as const),
      advanceMs: advance,
      who: fc.oneof(fc.constant([0, 1, 2, 3]), fc.array(index(clients.length), { maxLength: 4 })),
    }),
  },
  {
    weight: 12,
    arbitrary: fc.record({
      s: fc.constant('op' as const),
      advanceMs: advance,
      client: index(clients.length),
      op: opDesc,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ s: fc.constant('retry' as const), advanceMs: advance, client: index(clients.length) }),
  },
  { weight: 1, arbitrary: fc.constant({ s: 'snapshot' as const }) },
);

function normalize(result: CommandResult): { code: string; kind: string } {
  return { code: result.code, kind: result.code === 'OK' ? result.value.kind : '' };
}

/** Runs one random scenario; returns a description of the first disagreement, or null. */
function runScenario(steps: readonly StepDesc[]): string | null {
  let machine = new LockStateMachine();
  let twin: LockStateMachine | null = null;
  const model = new Model();
  const seqs = clients.map(() => 0);
  const sessions = clients.map(() => 0);
  const last: (Command | null)[] = clients.map(() => null);
  const firstResults = new Map<string, ModelResult>();
  let idx = 0;
  let nowMs = 1_000;
  let lastGrantToken = 0;
  const tokenHistory: number[] = [];

  const lookupVersion = (key: string): number => machine.state.keys.get(key)?.version ?? 0;
  const currentToken = (lock: string): number => machine.state.locks.get(lock)?.holders.first()?.token ?? 0;
  const version = (key: string, how: 'none' | 'zero' | 'current' | 'wrong'): number | null =>
    how === 'none' ? null : how === 'zero' ? 0 : how === 'current' ? lookupVersion(key) : lookupVersion(key) + 7;

  const toOp = (client: number, d: OpDesc): ModelOp => {
    const session = sessions[client] ?? 0;
    // A client's first command opens its session, so runs spend their time on locks and keys.
    // A dead session is re-opened too, except by keepalives, which keep SESSION_EXPIRED covered.
    if (session === 0 || (!machine.state.sessions.has(sessionId(session)) && d.t !== 'keep')) {
      return { type: 'openSession', ttlMs: 4_000 };
    }
    switch (d.t) {
      case 'open':
        return { type: 'openSession', ttlMs: d.ttlMs };
      case 'keep':
        return { type: 'keepAlive', session };
      case 'close':
        return { type: 'closeSession', session };
      case 'acquire': {
        const name = lockNames[d.lock] ?? 'L0';
        const kind = kindOf(name);
        const mode = kind === 'mutex' || (kind === 'rwlock' && d.write) ? 'exclusive' : 'shared';
        const permits = kind === 'semaphore' ? d.permits : kind === 'mutex' ? 1 : 0;
        return { type: 'acquire', kind, session, name, mode, permits, waitMs: d.waitMs, lockDelayMs: d.lockDelayMs };
      }
      case 'release': {
        // Mostly release something held, so that queues move and grants come from them.
        const held = [...(machine.state.sessions.get(sessionId(session))?.holds ?? [])].sort();
        const name = held.length > 0 && d.lock % 5 !== 0 ? held[d.lock % held.length] : lockNames[d.lock];
        return { type: 'release', session, name: name ?? 'L0' };
      }
      case 'put': {
        const key = keyNames[d.key] ?? 'k0';
        const lock = lockNames[d.lock] ?? 'L0';
        const stale = tokenHistory[Math.floor(tokenHistory.length / 2)] ?? 1;
        const fence = d.fence === 'none' ? null : { lock, token: d.fence === 'current' ? currentToken(lock) : stale };
        return { type: 'put', session, key, ifVersion: version(key, d.ifv), ephemeral: d.eph, fence };
      }
      case 'delete': {
        const key = keyNames[d.key] ?? 'k0';
        return { type: 'delete', session, key, ifVersion: version(key, d.ifv) };
      }
    }
  };

  const toWire = (op: ModelOp): Operation => {
    const value = new Uint8Array([1, 2, 3]);
    switch (op.type) {
      case 'openSession':
        return op;
      case 'keepAlive':
      case 'closeSession':
        return { type: op.type, session: sessionId(op.session) };
      case 'acquire': {
        const common = {
          session: sessionId(op.session),
          name: op.name,
          waitMs: op.waitMs,
          lockDelayMs: op.lockDelayMs,
        };
        if (op.kind === 'mutex') return { type: 'acquire', ...common };
        if (op.kind === 'semaphore') return { type: 'acquireSemaphore', ...common, permits: op.permits };
        return { type: 'acquireRw', ...common, mode: op.mode === 'exclusive' ? 'write' : 'read' };
      }
      case 'release':
        return { ...op, session: sessionId(op.session) };
      case 'put':
        return { ...op, session: sessionId(op.session), value };
      case 'delete':
        return { ...op, session: sessionId(op.session), fence: null };
    }
  };

  for (const [n, step] of steps.entries()) {
    if (step.s === 'snapshot') {
      const bytes = machine.snapshot();
      const restored = new LockStateMachine();
      const outcome = restored.restore(bytes);
      if (!outcome.ok) return `step ${n}: restore failed: ${outcome.error}`;
      if (Buffer.compare(Buffer.from(restored.snapshot()), Buffer.from(bytes)) !== 0)
        return `step ${n}: re-encoding differs`;
      // Continue on the restored replica; the original runs alongside as the twin to compare with.
      twin = machine;
      machine = restored;
      continue;
    }
    nowMs += step.advanceMs;
    idx += 1;
    let modelCommand: ModelCommand;
    let wire: Command | null;
    if (step.s === 'tick') {
      modelCommand = { type: 'tick' };
      wire = null;
    } else if (step.s === 'batch') {
      const ids = step.who.map((c) => sessions[c] ?? 0).filter((id) => id > 0);
      modelCommand = { type: 'keepAliveBatch', sessions: ids };
      wire = { type: 'keepAliveBatch', sessions: ids.map(sessionId) };
    } else if (step.s === 'retry') {
      const previous = last[step.client];
      if (previous === null || previous === undefined || previous.type !== 'client') {
        modelCommand = { type: 'tick' };
        wire = null;
      } else {
        wire = previous;
        modelCommand = { type: 'client', clientId: previous.clientId, seq: previous.seq, op: fromWire(previous.op) };
      }
    } else {
      const clientId = clients[step.client] ?? 'c0';
      const seq = (seqs[step.client] ?? 0) + 1;
      seqs[step.client] = seq;
      const op = toOp(step.client, step.op);
      modelCommand = { type: 'client', clientId, seq, op };
      wire = { type: 'client', clientId, seq, op: toWire(op) };
      last[step.client] = wire;
    }
    const state0HasClient =
      wire !== null && wire.type === 'client' && machine.state.clients.get(wire.clientId)?.seq === wire.seq;
    const payload = wire === null ? new Uint8Array(0) : encodeCommand(wire);
    const entry = { index: idx as LogIndex, term: 1 as Term, logTimeMs: nowMs, payload };
    const output: ApplyOutput = machine.apply(entry);
    if (twin !== null) {
      const other = twin.apply(entry);
      if (!isDeepStrictEqual(other, output)) return `step ${n}: the restored replica's output differs`;
    }
    const expected = model.apply(idx, nowMs, modelCommand);
    const where = `step ${n} (index ${idx}, ${JSON.stringify(modelCommand)})`;

    const problems = checkInvariants(machine.state);
    if (problems.length > 0) return `${where}: invariants: ${problems.join('; ')}`;
    const got = normalize(output.result);
    if (got.code !== expected.result.code || got.kind !== expected.result.kind) {
      return `${where}: result ${JSON.stringify(output.result)}, model ${JSON.stringify(expected.result)}`;
    }
    if (expected.result.freshToken !== null && output.result.code === 'OK' && output.result.value.kind === 'granted') {
      if (output.result.value.token !== expected.result.freshToken)
        return `${where}: token ${output.result.value.token}, model ${expected.result.freshToken}`;
    }
    // Exactly once: a retried seq whose entry is still kept answers as the first attempt did
    // (or with the final outcome of a queued acquire), never by running again.
    if (modelCommand.type === 'client') {
      const key = `${modelCommand.clientId}#${modelCommand.seq}`;
      const first = firstResults.get(key);
      if (first === undefined) firstResults.set(key, expected.result);
      else if (
        state0HasClient &&
        first.kind !== 'queued' &&
        first.code !== got.code &&
        got.code !== 'SESSION_EXPIRED'
      ) {
        return `${where}: retry answered ${got.code}, first attempt ${first.code}`;
      }
    }
    if (
      wire !== null &&
      wire.type === 'client' &&
      wire.op.type === 'openSession' &&
      output.result.code === 'OK' &&
      output.result.value.kind === 'session'
    ) {
      sessions[clients.indexOf(wire.clientId)] = output.result.value.session;
    }
    // Grants, timeouts and expiries as sets; tokens strictly increasing in issue order.
    const granted = output.notifications.flatMap((x) => (x.kind === 'granted' ? [`${x.session}:${x.name}`] : []));
    const timedOut = output.notifications.flatMap((x) => (x.kind === 'timeout' ? [`${x.session}:${x.name}`] : []));
    const expired = output.notifications.flatMap((x) => (x.kind === 'sessionExpired' ? [x.session as number] : []));
    if (!isDeepStrictEqual([...granted].sort(), [...expected.granted].sort()))
      return `${where}: granted ${granted}, model ${expected.granted}`;
    if (!isDeepStrictEqual([...timedOut].sort(), [...expected.timedOut].sort()))
      return `${where}: timed out ${timedOut}, model ${expected.timedOut}`;
    if (!isDeepStrictEqual([...expired].sort(), [...expected.expired].sort()))
      return `${where}: expired ${expired}, model ${expected.expired}`;
    for (const x of output.notifications) {
      if (x.kind === 'event' && x.event.type === 'grant') {
        if (x.event.token <= lastGrantToken || x.event.token < idx)
          return `${where}: token ${x.event.token} does not grow`;
        lastGrantToken = x.event.token;
        tokenHistory.push(x.event.token);
      }
    }
    // State: sessions, holders, FIFO queues, lock-delays, keys, client table.
    const state = machine.state;
    if (!isDeepStrictEqual([...state.sessions.keys()].sort(), [...model.sessions.keys()].sort()))
      return `${where}: sessions differ`;
    for (const name of new Set([...state.locks.keys(), ...model.locks.keys()])) {
      const real = state.locks.get(name);
      const ref = model.locks.get(name);
      const holders = real === undefined ? [] : [...real.holders.keys()].map(Number);
      const queue = real === undefined ? [] : waitersOf(real).map((w) => w.session as number);
      const refHolders = ref?.holders.map((h) => h.session) ?? [];
      if (!isDeepStrictEqual(holders, refHolders)) return `${where}: ${name} held by ${holders}, model ${refHolders}`;
      if (!isDeepStrictEqual(queue, ref?.queue.map((w) => w.session) ?? []))
        return `${where}: ${name} queue ${queue}, model ${ref?.queue.map((w) => w.session)}`;
      if ((real?.delayUntilMs ?? 0) !== (ref?.delayUntilMs ?? 0)) return `${where}: ${name} delay differs`;
      // The model does not fix which of one entry's grants gets which token: adopt the machine's.
      for (const h of ref?.holders ?? []) {
        const token = real?.holders.get(sessionId(h.session))?.token;
        if (token !== undefined) h.token = token;
      }
    }
    model.lastToken = state.lastToken;
    for (const name of new Set([...state.keys.keys(), ...model.keys.keys()])) {
      const real = state.keys.get(name);
      const ref = model.keys.get(name);
      if (real?.version !== ref?.version || (real?.session ?? null) !== (ref?.owner ?? null))
        return `${where}: key ${name} differs`;
    }
    for (const [clientId, entry] of state.clients) {
      const ref = model.clients.get(clientId);
      if (ref === undefined || ref.seq !== entry.seq || ref.session !== entry.session)
        return `${where}: client ${clientId} differs`;
    }
    if (state.clients.size !== model.clients.size) return `${where}: client tables differ in size`;
  }
  if (twin !== null && Buffer.compare(Buffer.from(twin.snapshot()), Buffer.from(machine.snapshot())) !== 0) {
    return 'the restored replica and the original end with different snapshots';
  }
  return null;
}

function fromWire(op: Operation): ModelOp {
  switch (op.type) {
    case 'openSession':
    case 'keepAlive':
    case 'closeSession':
    case 'release':
      return op;
    case 'acquire':
      return { ...op, kind: 'mutex', mode: 'exclusive', permits: 1 };
    case 'acquireSemaphore':
      return { ...op, type: 'acquire', kind: 'semaphore', mode: 'shared' };
    case 'acquireRw':
      return { ...op, type: 'acquire', kind: 'rwlock', mode: op.mode === 'write' ? 'exclusive' : 'shared', permits: 0 };
    case 'put':
      return {
        type: 'put',
        session: op.session,
        key: op.key,
        ifVersion: op.ifVersion,
        ephemeral: op.ephemeral,
        fence: op.fence,
      };
    case 'delete':
      return { type: 'delete', session: op.session, key: op.key, ifVersion: op.ifVersion };
    default:
      throw new Error(`the model does not cover ${op.type}`);
  }
}

t.test(
  'apply agrees with the reference model on random runs of every lock kind (FIFO, no waiter skipped, exactly once, snapshots)',
  async (t) => {
    fc.assert(
      fc.property(fc.array(stepDesc, { minLength: 1, maxLength: 150, size: 'max' }), (steps) => {
        const problem = runScenario(steps);
        if (problem !== null) throw new Error(problem);
      }),
      { numRuns: 300 },
    );
    t.pass('300 random runs agree with the model');
  },
);

t.test('the default config is the one the model assumes', async (t) => {
  t.equal(defaultLockMachineConfig.ttlMsMin, 1_000);
});
