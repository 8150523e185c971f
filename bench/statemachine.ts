// Lock state machine benchmark: `npx tsx bench/statemachine.ts [--short]`.
// Prints applied commands/s (decode + apply, payloads pre-encoded as the log holds them), memory
// per session / held lock / waiter, grant cost against queue length, snapshot cost, and the event-loop
// stall of a snapshot taken inline versus by the background worker (bench/snapshot-stall.ts). Figures
// only, never assertions; --short is the quick CI version.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Command } from '../src/statemachine/commands.js';
import { encodeCommand } from '../src/statemachine/commands.js';
import type { SessionId } from '../src/statemachine/ids.js';
import { LockStateMachine } from '../src/statemachine/machine.js';
import type { LogIndex, Term } from '../src/raft/types.js';
import { snapshotStall } from './snapshot-stall.js';

const short = process.argv.includes('--short');
v8.setFlagsFromString('--expose_gc');
const gc = vm.runInNewContext('gc') as () => void;

// Each part runs in its own process, so one part's heap and JIT feedback cannot skew another's.
const partIndex = process.argv.indexOf('--part');
const part = partIndex >= 0 ? process.argv[partIndex + 1] : undefined;

function row(name: string, value: string): void {
  console.log(JSON.stringify([name, value]));
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

/**
 * CPU milliseconds the process spent in `fn` (user + system, all threads). The machine is shared,
 * so CPU time measures the work better than wall time; wall time is returned too.
 */
function measure(fn: () => void): { readonly cpuMs: number; readonly wallMs: number } {
  const cpu = process.cpuUsage();
  const start = performance.now();
  fn();
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1_000, wallMs };
}

function rate(count: number, m: { readonly cpuMs: number; readonly wallMs: number }): string {
  const perCpu = Math.round((count / m.cpuMs) * 1_000).toLocaleString('en-US');
  const perWall = Math.round((count / m.wallMs) * 1_000).toLocaleString('en-US');
  return `${perCpu} per CPU-second (${perWall}/s wall)`;
}

function heapUsed(): number {
  gc();
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

interface Measured {
  readonly cpuMs: number;
  readonly wallMs: number;
}

/** Runs the throughput workloads once; returns the measurements keyed by row name and count. */
function throughput(pairs: number): Map<string, { readonly count: number; readonly m: Measured }> {
  const out = new Map<string, { readonly count: number; readonly m: Measured }>();
  const b = new Bench();
  const session = b.open('c');
  // Pre-encoded payloads: the log holds bytes, and encoding is the client's cost.
  const payloads: Uint8Array[] = [];
  for (let i = 0; i < pairs; i++) {
    const name = `lock-${i % 1000}`;
    payloads.push(b.client({ type: 'acquire', session, name, waitMs: 0, lockDelayMs: 0 }, 'c'));
    payloads.push(b.client({ type: 'release', session, name }, 'c'));
  }
  const pairsRun = measure(() => {
    for (const p of payloads) b.apply(p);
  });
  out.set('acquire+release: applied commands', { count: payloads.length, m: pairsRun });

  const puts: Uint8Array[] = [];
  const value = new Uint8Array(64);
  for (let i = 0; i < pairs * 2; i++) {
    const key = `key-${i % 1000}`;
    puts.push(
      b.client(
        { type: 'put', session, key, value, ifVersion: Math.floor(i / 1000), ephemeral: false, fence: null },
        'c',
      ),
    );
  }
  const putsRun = measure(() => {
    for (const p of puts) b.apply(p);
  });
  const versionOk = b.machine.state.keys.get('key-0')?.version === (pairs * 2) / 1000;
  out.set(`CAS put (64 B): applied commands${versionOk ? '' : ' (CAS FAILED)'}`, { count: puts.length, m: putsRun });

  const ticks = pairs * 2;
  const empty = new Uint8Array(0);
  const ticksRun = measure(() => {
    for (let i = 0; i < ticks; i++) {
      b.nowMs++;
      b.apply(empty);
    }
  });
  out.set('time-advance ticks (1 session live)', { count: ticks, m: ticksRun });
  return out;
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
    payloads.push(
      b.client({ type: 'acquire', session, name: `lock-${i}`, waitMs: 0, lockDelayMs: 0 }, `h-${i % holdersN}`),
    );
  }
  before = heapUsed();
  for (const p of payloads) b.apply(p);
  const perLock = (heapUsed() - before) / locksN;
  payloads.length = 0;
  row(
    `memory per held lock (${locksN.toLocaleString('en-US')} locks, events ring included)`,
    `${Math.round(perLock)} B`,
  );

  let bytes: Uint8Array = new Uint8Array(0);
  const encode = measure(() => {
    bytes = b.machine.snapshot();
  });
  const restored = new LockStateMachine();
  let restoredOk = false;
  const decode = measure(() => {
    restoredOk = restored.restore(bytes).ok;
  });
  const same = restoredOk && Buffer.compare(Buffer.from(restored.snapshot()), Buffer.from(bytes)) === 0;
  row(`snapshot of ${locksN.toLocaleString('en-US')} held locks: size`, `${(bytes.length / 1_048_576).toFixed(1)} MiB`);
  row('snapshot encode', `${Math.round(encode.cpuMs)} CPU ms (${Math.round(encode.wallMs)} ms wall)`);
  row(
    `snapshot decode + restore + invariant check${same ? '' : ' (FAILED)'}`,
    `${Math.round(decode.cpuMs)} CPU ms (${Math.round(decode.wallMs)} ms wall)`,
  );

  // Waiters: 1,000 sessions each wait on every lock held by one holder.
  const waitLocks = short ? 100 : 1_000;
  const waitersPer = 1_000;
  b = new Bench();
  const owner = b.open('owner');
  for (let i = 0; i < waitLocks; i++)
    b.apply(b.client({ type: 'acquire', session: owner, name: `w-${i}`, waitMs: 0, lockDelayMs: 0 }, 'owner'));
  const waiters: SessionId[] = [];
  for (let i = 0; i < waitersPer; i++) waiters.push(b.open(`w-${i}`));
  const waits: Uint8Array[] = [];
  for (let l = 0; l < waitLocks; l++) {
    for (let w = 0; w < waitersPer; w++) {
      waits.push(
        b.client(
          { type: 'acquire', session: waiters[w] as SessionId, name: `w-${l}`, waitMs: 3_600_000, lockDelayMs: 0 },
          `w-${w}`,
        ),
      );
    }
  }
  before = heapUsed();
  for (const p of waits) b.apply(p);
  const count = waits.length;
  row(
    `memory per waiter (${count.toLocaleString('en-US')} waiters, with its timer)`,
    `${Math.round((heapUsed() - before) / count)} B`,
  );
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
      op: release
        ? { type: 'release', session, name: 'hot' }
        : { type: 'acquire', session, name: 'hot', waitMs: 3_600_000, lockDelayMs: 0 },
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
  const run = measure(() => {
    for (const p of payloads) b.apply(p);
  });
  return (run.cpuMs * 1_000) / rounds;
}

async function runPart(name: string): Promise<void> {
  switch (name) {
    case 'stall':
      await snapshotStall(short, heapUsed, row);
      return;
    case 'memory':
      memory();
      return;
    case 'throughput': {
      // Steady state, as on a long-running node: one warm-up run, then the best of three.
      const pairs = short ? 100_000 : 500_000;
      throughput(pairs);
      const best = new Map<string, { readonly count: number; readonly m: Measured }>();
      for (let run = 0; run < 3; run++) {
        for (const [name, result] of throughput(pairs)) {
          const previous = best.get(name);
          if (previous === undefined || result.m.cpuMs < previous.m.cpuMs) best.set(name, result);
        }
      }
      for (const [name, result] of best) row(name, rate(result.count, result.m));
      return;
    }
    case 'grant': {
      // Warm up both shapes, then the best of three each.
      grantCost(10);
      grantCost(10_000);
      const small = Math.min(grantCost(10), grantCost(10), grantCost(10));
      const large = Math.min(grantCost(10_000), grantCost(10_000), grantCost(10_000));
      row('grant cost, 10 waiters (release + re-queue)', `${small.toFixed(2)} CPU µs`);
      row('grant cost, 10,000 waiters (release + re-queue)', `${large.toFixed(2)} CPU µs`);
      return;
    }
    default:
      throw new Error(`unknown part ${name}`);
  }
}

if (part !== undefined) {
  await runPart(part);
} else {
  const rows: [string, string][] = [];
  const script = fileURLToPath(import.meta.url);
  for (const name of ['throughput', 'grant', 'memory', 'stall']) {
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, script, '--part', name, ...(short ? ['--short'] : [])],
      {
        encoding: 'utf8',
        maxBuffer: 16 * 1_048_576,
      },
    );
    if (child.status !== 0) throw new Error(`part ${name} failed: ${child.stderr}`);
    for (const line of child.stdout.split('\n')) {
      if (line.startsWith('[')) rows.push(JSON.parse(line) as [string, string]);
    }
  }
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(
    `raftlock state machine bench${short ? ' (--short)' : ''}, node ${process.version}, one process per part`,
  );
  for (const [name, value] of rows) console.log(`${name.padEnd(width)}  ${value}`);
}
