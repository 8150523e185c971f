// Lock state machine benchmark: `npx tsx bench/statemachine.ts [--short]`.
// Prints applied commands/s (decode + apply, payloads pre-encoded as the log holds them), memory
// per session / held lock / waiter, grant cost against queue length, and snapshot cost. Figures
// only, never assertions; --short is the quick CI version.
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Command } from '../src/statemachine/commands.js';
import { encodeCommand } from '../src/statemachine/commands.js';
import type { SessionId } from '../src/statemachine/ids.js';
import { LockStateMachine } from '../src/statemachine/machine.js';
import type { LogIndex, Term } from '../src/raft/types.js';

const short = process.argv.includes('--short');
v8.setFlagsFromString('--expose_gc');
const gc = vm.runInNewContext('gc') as () => void;

const rows: [string, string][] = [];
function row(name: string, value: string): void {
  rows.push([name, value]);
  console.error(`${name}: ${value}`);
}

class Bench {
  readonly machine = new LockStateMachine();
  index = 0;
  nowMs = 1_000;
  private seq = 0;
  apply(payload: Uint8Array): void {
    this.index++;
    this.machine.apply({ index: this.index as LogIndex, term: 1 as Term, logTimeMs: this.nowMs, payload });
  }
  client(op: Extract<Command, { type: 'client' }>['op'], clientId = 'bench'): Uint8Array {
    this.seq++;
    return encodeCommand({ type: 'client', clientId, seq: this.seq, op });
  }
  open(clientId: string): SessionId {
    this.apply(this.client({ type: 'openSession', ttlMs: 86_400_000 }, clientId));
    return this.index as SessionId;
  }
}

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function throughput(pairs: number, print: boolean): void {
  const b = new Bench();
  const session = b.open('c');
  // Pre-encoded payloads: the log holds bytes, and encoding is the client's cost.
  const payloads: Uint8Array[] = [];
  for (let i = 0; i < pairs; i++) {
    const name = `lock-${i % 1000}`;
    payloads.push(b.client({ type: 'acquire', session, name, waitMs: 0, lockDelayMs: 0 }, 'c'));
    payloads.push(b.client({ type: 'release', session, name }, 'c'));
  }
  let start = performance.now();
  for (const p of payloads) b.apply(p);
  let seconds = (performance.now() - start) / 1_000;
  if (print) row('acquire+release: applied commands/s', `${Math.round(payloads.length / seconds).toLocaleString('en-US')}`);

  const puts: Uint8Array[] = [];
  const value = new Uint8Array(64);
  for (let i = 0; i < pairs * 2; i++) {
    const key = `key-${i % 1000}`;
    puts.push(b.client({ type: 'put', session, key, value, ifVersion: Math.floor(i / 1000), ephemeral: false, fence: null }, 'c'));
  }
  start = performance.now();
  for (const p of puts) b.apply(p);
  seconds = (performance.now() - start) / 1_000;
  const versionOk = b.machine.state.keys.get('key-0')?.version === pairs * 2 / 1000;
  if (print) row('CAS put (64 B): applied commands/s', `${Math.round(puts.length / seconds).toLocaleString('en-US')}${versionOk ? '' : ' (CAS FAILED)'}`);

  const ticks = pairs * 2;
  const empty = new Uint8Array(0);
  start = performance.now();
  for (let i = 0; i < ticks; i++) {
    b.nowMs++;
    b.apply(empty);
  }
  seconds = (performance.now() - start) / 1_000;
  if (print) row('time-advance ticks/s (1 session live)', Math.round(ticks / seconds).toLocaleString('en-US'));
}

function memory(): void {
  const sessionsN = short ? 10_000 : 100_000;
  let b = new Bench();
  let before = heapUsed();
  for (let i = 0; i < sessionsN; i++) b.open(`client-${i}`);
  row('memory per session (with its client entry)', `${Math.round((heapUsed() - before) / sessionsN)} B`);

  const locksN = short ? 100_000 : 1_000_000;
  const holdersN = 1_000;
  b = new Bench();
  const holders: SessionId[] = [];
  for (let i = 0; i < holdersN; i++) holders.push(b.open(`h-${i}`));
  const payloads: Uint8Array[] = [];
  for (let i = 0; i < locksN; i++) {
    const session = holders[i % holdersN] as SessionId;
    payloads.push(b.client({ type: 'acquire', session, name: `lock-${i}`, waitMs: 0, lockDelayMs: 0 }, `h-${i % holdersN}`));
  }
  before = heapUsed();
  for (const p of payloads) b.apply(p);
  const perLock = (heapUsed() - before) / locksN;
  payloads.length = 0;
  row(`memory per held lock (${locksN.toLocaleString('en-US')} locks, events ring included)`, `${Math.round(perLock)} B`);

  const snapStart = performance.now();
  const bytes = b.machine.snapshot();
  const encodeMs = performance.now() - snapStart;
  const restored = new LockStateMachine();
  const decodeStart = performance.now();
  const outcome = restored.restore(bytes);
  const decodeMs = performance.now() - decodeStart;
  row(`snapshot of ${locksN.toLocaleString('en-US')} held locks: size`, `${(bytes.length / 1_048_576).toFixed(1)} MiB`);
  row('snapshot encode', `${Math.round(encodeMs)} ms`);
  row(`snapshot decode + restore + invariant check${outcome.ok ? '' : ' (FAILED)'}`, `${Math.round(decodeMs)} ms`);

  // Waiters: 1,000 sessions each wait on every lock held by one holder.
  const waitLocks = short ? 100 : 1_000;
  const waitersPer = 1_000;
  b = new Bench();
  const owner = b.open('owner');
  for (let i = 0; i < waitLocks; i++) b.apply(b.client({ type: 'acquire', session: owner, name: `w-${i}`, waitMs: 0, lockDelayMs: 0 }, 'owner'));
  const waiters: SessionId[] = [];
  for (let i = 0; i < waitersPer; i++) waiters.push(b.open(`w-${i}`));
  const waits: Uint8Array[] = [];
  for (let l = 0; l < waitLocks; l++) {
    for (let w = 0; w < waitersPer; w++) {
      waits.push(b.client({ type: 'acquire', session: waiters[w] as SessionId, name: `w-${l}`, waitMs: 3_600_000, lockDelayMs: 0 }, `w-${w}`));
    }
  }
  before = heapUsed();
  for (const p of waits) b.apply(p);
  const count = waits.length;
  row(`memory per waiter (${count.toLocaleString('en-US')} waiters, with its timer)`, `${Math.round((heapUsed() - before) / count)} B`);
  waits.length = 0;
}

function grantCost(queueLength: number): number {
  const b = new Bench();
  const sessions: SessionId[] = [];
  for (let i = 0; i <= queueLength; i++) sessions.push(b.open(`q-${i}`));
  const seqs = sessions.map(() => 1);
  const op = (i: number, release: boolean): Uint8Array => {
    const session = sessions[i] as SessionId;
    seqs[i] = (seqs[i] ?? 1) + 1;
    const command: Command = {
      type: 'client',
      clientId: `q-${i}`,
      seq: seqs[i] ?? 1,
      op: release ? { type: 'release', session, name: 'hot' } : { type: 'acquire', session, name: 'hot', waitMs: 3_600_000, lockDelayMs: 0 },
    };
    return encodeCommand(command);
  };
  for (let i = 0; i <= queueLength; i++) b.apply(op(i, false));
  // Steady state: the holder releases (granting the head) and queues again at the tail.
  const rounds = short ? 20_000 : 200_000;
  const payloads: Uint8Array[] = [];
  for (let r = 0; r < rounds; r++) {
    const holder = r % (queueLength + 1);
    payloads.push(op(holder, true), op(holder, false));
  }
  const start = performance.now();
  for (const p of payloads) b.apply(p);
  return ((performance.now() - start) * 1_000) / rounds;
}

// Warm the JIT first: the figures are for steady state, as on a long-running node.
throughput(20_000, false);
throughput(short ? 100_000 : 500_000, true);
const small = grantCost(10);
const large = grantCost(10_000);
row('grant cost, 10 waiters (release + re-queue)', `${small.toFixed(2)} µs`);
row('grant cost, 10,000 waiters (release + re-queue)', `${large.toFixed(2)} µs`);
memory();

const width = Math.max(...rows.map(([name]) => name.length));
console.log(`\nraftlock state machine bench${short ? ' (--short)' : ''}, node ${process.version}`);
for (const [name, value] of rows) console.log(`${name.padEnd(width)}  ${value}`);
