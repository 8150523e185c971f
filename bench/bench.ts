// `npm run bench`: the lock workloads against a local 3-node raftlock cluster of real node
// processes (fsync on), and, when etcd or ZooKeeper is installed, the very same workloads against a
// local 3-member etcd and a local 3-server ZooKeeper ensemble in the same run, with ratio columns
// and the machine's physical limits.
//
//   npx tsx bench/bench.ts [--short] [--json] [--seconds N] [--warmup N] [--scaling 1,8,64,256,1024]
//                          [--queue N] [--failover-rounds N] [--memory-locks N] [--memory-sessions N]
//                          [--only uncontended,shared,contended,shared-contended,shared-runs,scaling,queue,failover,memory]
//                          [--tls both|on|off] [--rounds N] [--no-etcd | --etcd-only] [--etcd PATH]
//                          [--no-zookeeper | --zookeeper-only] [--zookeeper PATH/zookeeper.jar] [--dir PATH]
//
// --tls both (the default) runs every workload on each system twice: on a plaintext cluster and on
// one with TLS on every port (raftlock's secure mode; etcd with its own mutual-TLS flags), clients
// on TLS too, so the cost of TLS is a measured ratio. `on` or `off` runs one of the two.
// Every throughput row carries the server CPU per operation: user + system time of all the
// cluster's member processes over the measured window (/proc), over the operations counted in it.
// --short (CI): a couple of seconds per workload, smaller counts, raftlock only (unless
// --etcd-only or --zookeeper-only), plaintext only unless --tls says otherwise, no physical limits.
// --warmup N: each looping workload runs N s (default 10, --short 1) before its measured --seconds;
// a fresh Node.js process takes about that long under load to finish compiling its hot paths.
// shared-runs is shared-contended with raftlock's client in runs of turns (turnsPerGrant 16,
// docs/client.md): one grant serves every worker queued at the time. ZooKeeper runs its usual
// recipe there (it has nothing like it), so the row's ratio is raftlock with runs beside it.
// --json prints one JSON object (results, memory lines, physical limits) instead of the table.
// --rounds N repeats the wanted workloads N times on both systems (in odd rounds raftlock plain,
// raftlock TLS, etcd TLS, etcd plain; the reverse in even ones); each row is labelled with its
// round, and the table is followed by each ratio (raftlock/etcd per transport, TLS/plain per
// system) of each workload within each round and their median.
// --etcd-only (`npm run bench:etcd`) runs etcd alone; without etcd installed it says how to
// install it and exits 0, since the project never requires it.
// ZooKeeper (Debian's `zookeeper` package, Curator's InterProcessMutex recipe through
// node-zookeeper-client, see bench/zookeeper/) runs on the plaintext transport only: that client
// has no TLS. It goes first in odd rounds and last in even ones, next to raftlock's plaintext
// cluster both times. --zookeeper-only runs it alone, and without it installed says how to
// install it and exits 0.
import { tmpdir } from 'node:os';
import { assertNever } from '../src/util/assert.js';
import { formatPhysicalLimits, measurePhysicalLimits } from './physical.js';
import type { PhysicalLimits } from './physical.js';
import type { BackendFactory } from './etcd/backend.js';
import { detectEtcd, EtcdCluster, etcdControl, etcdInstallHint } from './etcd/cluster.js';
import { etcdFactory } from './etcd/etcd-backend.js';
import { procCpuSampler } from './etcd/cpu.js';
import type { ServerCpu } from './etcd/cpu.js';
import { heldLocksMemory } from './etcd/memory.js';
import { EtcdGrpcClient } from './etcd/etcd-grpc.js';
import {
  detectZooKeeper,
  debianZooKeeperJar,
  ZooKeeperCluster,
  zookeeperControl,
  zookeeperInstallHint,
} from './zookeeper/cluster.js';
import { ZooKeeperLockClient, zookeeperFactory } from './zookeeper/mutex.js';
import { RaftlockCluster, raftlockControl, raftlockFactory, raftlockSharedFactory } from './etcd/raftlock-backend.js';
import { roundLabel, roundRatios } from './etcd/rounds.js';
import type { RoundRatios, RoundResult, RowKey, RatioMetric } from './etcd/rounds.js';
import { sharedClientFactory } from './etcd/shared.js';
import { formatTable } from './etcd/table.js';
import type { BenchRow } from './etcd/table.js';
import { contended, failover, ownLockEach, queueDepth } from './etcd/workloads.js';
import type { FailoverControl, WorkloadResult } from './etcd/workloads.js';
import { flag, has } from './args.js';

const short = has('--short');
const json = has('--json');
const seconds = Number(flag('--seconds') ?? (short ? '2' : '5'));
const warmupSeconds = Number(flag('--warmup') ?? (short ? '1' : '10'));
const scaling = (flag('--scaling') ?? (short ? '1,8,64' : '1,8,64,256,1024')).split(',').map(Number);
// Every waiter is its own client (one connection, one session, blocked in acquire), so the bench
// cluster raises cluster.yml's limits.connectionsMax (1,024 per node by default) to hold them.
const queueWaiters = Number(flag('--queue') ?? (short ? '500' : '10000'));
const failoverRounds = Number(flag('--failover-rounds') ?? (short ? '2' : '5'));
// The full scale: 1,000,000 held locks over 100,000 sessions (about 5 minutes to fill here).
const memoryLocks = Number(flag('--memory-locks') ?? (short ? '5000' : '1000000'));
const memorySessions = Number(flag('--memory-sessions') ?? (short ? '500' : '100000'));
// Rounds repeat every wanted workload on both systems, raftlock first in odd rounds and etcd first
// in even ones, so that a machine slowing down or speeding up over the run weighs on both sides.
const rounds = Number(flag('--rounds') ?? '1');
// Which transports: a plaintext cluster, one with TLS everywhere, or both (each system twice).
const tlsChoices = ['both', 'on', 'off'] as const;
type TlsChoice = (typeof tlsChoices)[number];
const tlsFlag = flag('--tls') ?? (short ? 'off' : 'both');
const tlsChoice: TlsChoice | undefined = tlsChoices.find((c) => c === tlsFlag);
const transports: readonly boolean[] = tlsChoice === 'on' ? [true] : tlsChoice === 'off' ? [false] : [false, true];
const etcdOnly = has('--etcd-only');
const zookeeperOnly = has('--zookeeper-only');
const withEtcd = etcdOnly || (!short && !zookeeperOnly && !has('--no-etcd'));
const withZooKeeper = zookeeperOnly || (!short && !etcdOnly && !has('--no-zookeeper'));
const workloadNames = [
  'uncontended',
  'shared',
  'contended',
  'shared-contended',
  'shared-runs',
  'scaling',
  'queue',
  'failover',
  'memory',
] as const;
const only = new Set((flag('--only') ?? workloadNames.join(',')).split(','));
const unknownNames = [...only].filter((name) => !(workloadNames as readonly string[]).includes(name));
const wanted = (name: (typeof workloadNames)[number]): boolean => only.has(name);
const dataParent = flag('--dir') ?? tmpdir();
const counts = [...scaling, queueWaiters, failoverRounds, memoryLocks, memorySessions];
const badCounts = counts.some((n) => !(Number.isInteger(n) && n >= 0)) || !(Number.isInteger(rounds) && rounds >= 1);
const bothOnly = etcdOnly && zookeeperOnly;
if (
  !(seconds > 0) ||
  !(warmupSeconds >= 0) ||
  badCounts ||
  unknownNames.length > 0 ||
  tlsChoice === undefined ||
  bothOnly
) {
  console.error(
    'usage: bench/bench.ts [--short] [--json] [--seconds N] [--warmup N] [--scaling 1,8,64] [--queue N] [--failover-rounds N]',
  );
  console.error(
    '                      [--memory-locks N] [--memory-sessions N] [--only uncontended,shared,contended,shared-contended,shared-runs,scaling,queue,failover,memory]',
  );
  console.error('                      [--tls both|on|off] [--rounds N] [--no-etcd | --etcd-only] [--etcd PATH]');
  console.error(
    '                      [--no-zookeeper | --zookeeper-only] [--zookeeper PATH/zookeeper.jar] [--dir PATH]',
  );
  if (unknownNames.length > 0) console.error(`unknown workload(s) in --only: ${unknownNames.join(', ')}`);
  if (bothOnly) console.error('--etcd-only and --zookeeper-only exclude each other');
  if (tlsChoice === undefined) console.error(`--tls takes both, on or off, not ${JSON.stringify(tlsFlag)}`);
  process.exit(2);
}
// An interrupted run still kills every node and member (their exit hooks run on process.exit).
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

const log = (text: string): void => console.error(text);
const mb = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
const rssLine = (rss: Map<string, number>): string =>
  [...rss].map(([name, bytes]) => `${name} ${mb(bytes)}`).join(', ');

type Run = {
  readonly backend: BackendFactory<unknown>;
  /** Workers sharing one client (one connection, one session or lease). */
  readonly sharedBackend: BackendFactory<unknown>;
  /**
   * Workers sharing one client and queueing on one lock; null, with the reason, where the system's
   * lock cannot tell one session's workers apart.
   */
  readonly sharedLockBackend: BackendFactory<unknown> | { readonly skipped: string };
  /** As sharedLockBackend, with raftlock's client passing the lock in runs of turns. */
  readonly runsLockBackend: BackendFactory<unknown> | { readonly skipped: string };
  /** Clients spread over every member: for runs past one node's connection limit. */
  readonly spreadBackend: BackendFactory<unknown>;
  /** Long sessions, so thousands of idle waiters need few keepalives. */
  readonly queueBackend: BackendFactory<unknown>;
  /** A short per-attempt timeout, so a call stuck on a killed member moves on quickly. */
  readonly failoverBackend: BackendFactory<unknown>;
  readonly control: FailoverControl;
  readonly memory: () => string;
  /** The member processes, whose CPU is charged to each workload's operations. */
  readonly serverCpu: ServerCpu;
  /** Both the cluster's ports and its clients use TLS. */
  readonly tls: boolean;
};

/** Reads every member's CPU from /proc; null figures where there is none. */
const cpuSampler = procCpuSampler();

/** Every row as measured, with its round; the table labels rows with their round. */
const measured: RoundResult[] = [];
const memoryLines: string[] = [];
let round = 1;
/** A memory line, marked with its round when there are several. */
function memo(line: string): void {
  memoryLines.push(rounds > 1 ? `round ${round}: ${line}` : line);
}
/** A workload that could not finish still gets a row, with its error, and the run goes on. */
function failedRow(workload: string, backend: string, error: unknown): WorkloadResult {
  const message = error instanceof Error ? error.message : String(error);
  return {
    workload,
    backend,
    unit: 'ops/s',
    rate: NaN,
    p50Ms: NaN,
    p99Ms: NaN,
    maxMs: NaN,
    errors: 1,
    firstError: `aborted: ${message}`,
    serverCpuMicrosPerOp: null,
  };
}

const transportName = (tls: boolean): string => (tls ? 'TLS' : 'plain');

function note(r: WorkloadResult, tls: boolean): void {
  const cpu = r.serverCpuMicrosPerOp === null ? '' : `, server CPU ${r.serverCpuMicrosPerOp.toFixed(0)} µs/op`;
  log(
    `  ${r.backend} (${transportName(tls)}) ${roundLabel(r.workload, round, rounds)}: ${r.rate.toFixed(r.rate < 10 ? 2 : 0)} ${r.unit}, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, errors ${r.errors}${cpu}`,
  );
  measured.push({ round, result: { ...r, tls } });
}

async function runAll(run: Run): Promise<void> {
  const options = { durationMs: seconds * 1000, warmupMs: warmupSeconds * 1000, serverCpu: run.serverCpu };
  const step = async (label: string, what: () => Promise<WorkloadResult>): Promise<void> => {
    note(await what().catch((error: unknown) => failedRow(label, run.backend.name, error)), run.tls);
  };
  if (wanted('uncontended')) await step('uncontended (32 clients)', () => ownLockEach(run.backend, 32, options));
  if (wanted('shared')) {
    const label = 'uncontended (32 workers, 1 client)';
    await step(label, () => ownLockEach(run.sharedBackend, 32, options, label));
  }
  if (wanted('contended')) await step('contended (16 clients, 1 lock)', () => contended(run.backend, 16, options));
  const sharedLock = async (label: string, shared: Run['sharedLockBackend']): Promise<void> => {
    if ('skipped' in shared)
      log(
        `  ${run.backend.name} (${transportName(run.tls)}) ${roundLabel(label, round, rounds)}: skipped: ${shared.skipped}`,
      );
    else await step(label, () => contended(shared, 16, options, label));
  };
  if (wanted('shared-contended')) await sharedLock('contended (16 workers, 1 client, 1 lock)', run.sharedLockBackend);
  if (wanted('shared-runs')) {
    await sharedLock('contended (16 workers, 1 client, 1 lock, raftlock in runs)', run.runsLockBackend);
  }
  for (const n of wanted('scaling') ? scaling : []) {
    const label = `scaling (${n} clients)`;
    await step(label, () => ownLockEach(n > spreadAboveClients ? run.spreadBackend : run.backend, n, options, label));
  }
  if (queueWaiters > 0 && wanted('queue')) {
    const onQueued = (): void => {
      memo(`${run.backend.name} (${transportName(run.tls)}) with ${queueWaiters} queued waiters: ${run.memory()}`);
    };
    await step(`queue depth (${queueWaiters} waiters, 1 lock)`, () =>
      queueDepth(run.queueBackend, queueWaiters, { ...options, onQueued }),
    );
  }
  if (failoverRounds > 0 && wanted('failover')) {
    const failoverOptions = { rounds: failoverRounds, steadyMs: 1000, recoveryLimitMs: 30_000 };
    await step(`failover (SIGKILL leader, ${failoverRounds} rounds)`, () =>
      failover(run.failoverBackend, run.control, failoverOptions),
    );
  }
}

const etcdSharedLease =
  "etcd's lock key is the name and the lease, so workers sharing one lease would hold the lock together";

/** Above this many clients raftlock's clients stay on the member they reach (see `spread`). */
const spreadAboveClients = 900;

/**
 * Client connections per node: every queue waiter spread evenly over the nodes, twice over (a
 * spread is by client index, and the workloads before the queue may still be closing theirs),
 * and never below the default.
 */
function benchConnectionsMax(nodes: number): number {
  return Math.max(1024, 2 * Math.ceil((queueWaiters + 1) / nodes) + 256);
}

/** The failover client presumes a member dead after this long without an answer. */
const failoverAttemptMs = 300;

// etcd alone without etcd installed: say how to get it, and succeed (the project never needs it).
const detected = withEtcd ? detectEtcd(flag('--etcd') ?? 'etcd') : null;
if (etcdOnly && detected !== null && !detected.found) {
  console.log(etcdInstallHint);
  console.log(`(etcd --version: ${detected.reason})`);
  process.exit(0);
}

// ZooKeeper alone without it installed: the same (the project never needs it either).
const zookeeper = withZooKeeper ? detectZooKeeper(flag('--zookeeper') ?? debianZooKeeperJar) : null;
if (zookeeperOnly && zookeeper !== null && !zookeeper.found) {
  console.log(zookeeperInstallHint);
  console.log(`(${zookeeper.reason})`);
  process.exit(0);
}
/** Why ZooKeeper gets no rows in this run although it was wanted; null when it runs. */
const zookeeperSkipped: string | null =
  zookeeper === null
    ? null
    : !zookeeper.found
      ? `ZooKeeper not found (${zookeeper.reason}); to compare with it: apt-get install zookeeper`
      : !transports.includes(false)
        ? 'ZooKeeper skipped: its client here (node-zookeeper-client) has no TLS, and this run is TLS only (--tls on)'
        : null;
if (zookeeperSkipped !== null) log(zookeeperSkipped);
if (zookeeperOnly && zookeeperSkipped !== null) process.exit(0);

let limits: PhysicalLimits | null = null;
if (!short) {
  log(`measuring physical limits under ${dataParent} ...`);
  limits = await measurePhysicalLimits(dataParent, Math.min(3000, seconds * 1000));
}

/**
 * The workloads on a local 3-node raftlock cluster (secure with `tls`, else insecure), then its
 * memory workload when `withMemory`.
 */
async function runRaftlock(tls: boolean, withMemory: boolean): Promise<void> {
  const mode = tls ? "secure: TLS on every port, clients with root's certificate" : 'insecure: plaintext';
  log(`starting a 3-node raftlock cluster (real node processes, fsync on, ${mode}) ...`);
  const raftlock = await RaftlockCluster.start(3, dataParent, { connectionsMax: benchConnectionsMax(3), tls });
  const name = `raftlock (${transportName(tls)})`;
  try {
    const run: Run = {
      backend: raftlockFactory(raftlock),
      sharedBackend: raftlockSharedFactory(raftlock),
      sharedLockBackend: raftlockSharedFactory(raftlock),
      runsLockBackend: raftlockSharedFactory(raftlock, { turnsPerGrant: 16 }),
      spreadBackend: raftlockFactory(raftlock, { spread: true }),
      queueBackend: raftlockFactory(raftlock, { ttlMs: 900_000, spread: queueWaiters > spreadAboveClients }),
      failoverBackend: raftlockFactory(raftlock, { attemptTimeoutMs: failoverAttemptMs }),
      control: raftlockControl(raftlock),
      memory: () => rssLine(raftlock.rssBytes()),
      serverCpu: { pids: () => raftlock.pids, sampler: cpuSampler },
      tls,
    };
    memo(`${name} idle, before the workloads: ${run.memory()}`);
    await runAll(run);
    if (withMemory) {
      const label = `memory (${memoryLocks.toLocaleString('en-US')} locks held, ${memorySessions.toLocaleString('en-US')} sessions)`;
      try {
        const sample = (): string =>
          `${name} with ${memoryLocks.toLocaleString('en-US')} locks held by ${memorySessions.toLocaleString('en-US')} sessions: ${run.memory()}`;
        const { row, memory } = await heldLocksMemory({
          endpoints: raftlock.endpoints,
          connectOptions: raftlock.connectOptions,
          locks: memoryLocks,
          sessions: memorySessions,
          clients: short ? 64 : 256,
          sample,
          serverCpu: run.serverCpu,
        });
        note(row, tls);
        memo(memory);
      } catch (error) {
        note(failedRow(label, 'raftlock', error), tls);
      }
    }
    memo(`${name} after the workloads: ${run.memory()}`);
  } finally {
    await raftlock.stop();
  }
}

/** The same workloads on a local 3-member etcd (with etcd's mutual-TLS flags when `tls`), when one is installed. */
async function runEtcd(tls: boolean): Promise<void> {
  if (detected === null) return;
  if (!detected.found) {
    if (round === 1 && tls === transports[0]) log(`etcd not found (${detected.reason}); no etcd figures`);
    return;
  }
  log(
    `starting a 3-member etcd ${detected.version} cluster (${tls ? 'mutual TLS on client and peer ports' : 'plaintext'}) ...`,
  );
  const cluster = await EtcdCluster.start(detected.binary, 3, dataParent, { tls });
  const agent = cluster.newAgent();
  const name = `etcd ${detected.version} (${transportName(tls)})`;
  try {
    const control = etcdControl(cluster);
    const run: Run = {
      backend: etcdFactory(agent, cluster.clientUrls),
      sharedBackend: sharedClientFactory('etcd', async () =>
        EtcdGrpcClient.open(await cluster.leaderClientUrl(), cluster.clientTls),
      ),
      // etcd's lock key is the lock's name and the lease: workers on one lease would all "hold" it.
      sharedLockBackend: { skipped: etcdSharedLease },
      runsLockBackend: { skipped: etcdSharedLease },
      spreadBackend: etcdFactory(agent, cluster.clientUrls),
      queueBackend: etcdFactory(agent, cluster.clientUrls, { ttlSec: 900 }),
      failoverBackend: etcdFactory(agent, cluster.clientUrls, { requestTimeoutMs: failoverAttemptMs }),
      control,
      memory: () => rssLine(cluster.rssBytes()),
      serverCpu: { pids: () => cluster.pids, sampler: cpuSampler },
      tls,
    };
    memo(`${name} idle, before the workloads: ${run.memory()}`);
    await runAll(run);
    memo(`${name} after the workloads: ${run.memory()}`);
  } finally {
    agent.agent.destroy();
    await cluster.stop();
  }
}

/**
 * The same workloads on a local 3-server ZooKeeper ensemble with Curator's lock recipe, when one is
 * installed; plaintext only (see `zookeeperSkipped`). The memory workload is raftlock's alone.
 */
async function runZooKeeper(): Promise<void> {
  if (zookeeper === null || !zookeeper.found || zookeeperSkipped !== null) return;
  log(`starting a 3-server ZooKeeper ${zookeeper.version} ensemble (java processes, fsync on, plaintext) ...`);
  const cluster = await ZooKeeperCluster.start(zookeeper, 3, dataParent);
  const name = `ZooKeeper ${zookeeper.version} (plain)`;
  const connection = cluster.connectionString;
  try {
    const shared = sharedClientFactory('zookeeper', () => ZooKeeperLockClient.open(connection));
    const run: Run = {
      backend: zookeeperFactory(connection),
      sharedBackend: shared,
      sharedLockBackend: shared,
      runsLockBackend: shared,
      spreadBackend: zookeeperFactory(connection),
      queueBackend: zookeeperFactory(connection),
      failoverBackend: zookeeperFactory(connection),
      control: zookeeperControl(cluster),
      memory: () => rssLine(cluster.rssBytes()),
      serverCpu: { pids: () => cluster.pids, sampler: cpuSampler },
      tls: false,
    };
    memo(`${name} idle, before the workloads: ${run.memory()}`);
    await runAll(run);
    memo(`${name} after the workloads: ${run.memory()}`);
  } finally {
    await cluster.stop();
  }
}

/**
 * One round's clusters, in order: ZooKeeper, raftlock plaintext, raftlock TLS, etcd TLS, etcd
 * plaintext in odd rounds and the reverse in even ones, so that each ratio (raftlock/ZooKeeper on
 * plaintext, raftlock TLS/plain, raftlock/etcd with TLS) compares clusters measured one after the
 * other, and a machine that drifts over the run weighs on both sides of every ratio across rounds.
 */
type Step = { readonly system: 'raftlock' | 'etcd' | 'zookeeper'; readonly tls: boolean };
function roundPlan(r: number): Step[] {
  const alone = etcdOnly || zookeeperOnly;
  const zk: Step[] = withZooKeeper && zookeeperSkipped === null ? [{ system: 'zookeeper', tls: false }] : [];
  const raftlock: Step[] = alone ? [] : transports.map((tls) => ({ system: 'raftlock', tls }));
  const etcd: Step[] = withEtcd ? [...transports].reverse().map((tls) => ({ system: 'etcd', tls })) : [];
  const plan = [...zk, ...raftlock, ...etcd];
  return r % 2 === 1 ? plan : plan.reverse();
}

const memoryWanted = memoryLocks > 0 && memorySessions > 0 && wanted('memory');
for (; round <= rounds; round++) {
  if (rounds > 1) log(`round ${round} of ${rounds}`);
  for (const step of roundPlan(round)) {
    // The memory workload measures the state machine, not the transport: once per round, on the
    // plaintext cluster when there is one.
    switch (step.system) {
      case 'raftlock':
        await runRaftlock(step.tls, memoryWanted && step.tls === transports[0]);
        break;
      case 'etcd':
        await runEtcd(step.tls);
        break;
      case 'zookeeper':
        await runZooKeeper();
        break;
      default:
        assertNever(step.system);
    }
  }
}

/** The ratios the table's ratio columns show, taken within each round when there are several. */
const comparisons: readonly {
  readonly label: string;
  readonly own: RowKey;
  readonly base: RowKey;
  readonly metric: RatioMetric;
}[] = [
  ...(transports.includes(false)
    ? [
        {
          label: 'raftlock/zookeeper rate, plain',
          own: { backend: 'raftlock', tls: false },
          base: { backend: 'zookeeper', tls: false },
          metric: 'rate' as const,
        },
        {
          label: 'raftlock/zookeeper server CPU per op, plain',
          own: { backend: 'raftlock', tls: false },
          base: { backend: 'zookeeper', tls: false },
          metric: 'cpu' as const,
        },
      ]
    : []),
  ...transports.flatMap((tls) => [
    {
      label: `raftlock/etcd rate, ${transportName(tls)}`,
      own: { backend: 'raftlock', tls },
      base: { backend: 'etcd', tls },
      metric: 'rate' as const,
    },
    {
      label: `raftlock/etcd server CPU per op, ${transportName(tls)}`,
      own: { backend: 'raftlock', tls },
      base: { backend: 'etcd', tls },
      metric: 'cpu' as const,
    },
  ]),
  ...(transports.length === 2
    ? ['raftlock', 'etcd'].flatMap((backend) => [
        {
          label: `${backend} TLS/plain rate`,
          own: { backend, tls: true },
          base: { backend, tls: false },
          metric: 'rate' as const,
        },
        {
          label: `${backend} TLS/plain server CPU per op`,
          own: { backend, tls: true },
          base: { backend, tls: false },
          metric: 'cpu' as const,
        },
      ])
    : []),
];
const ratiosByRound: { readonly comparison: string; readonly workloads: readonly RoundRatios[] }[] =
  rounds > 1
    ? comparisons
        .map((c) => ({ comparison: c.label, workloads: roundRatios(measured, c.own, c.base, c.metric) }))
        .filter((c) => c.workloads.length > 0)
    : [];
const results: BenchRow[] = measured.map(({ round: r, result }) => ({
  ...result,
  workload: roundLabel(result.workload, r, rounds),
}));

// Rows of one workload sit together, plaintext before TLS, raftlock before ZooKeeper before etcd.
const order = [...new Set(results.map((r) => r.workload))];
const backendRank = (backend: string): number => (backend === 'raftlock' ? 0 : backend === 'zookeeper' ? 1 : 2);
const rank = (r: BenchRow): number => (r.tls ? 3 : 0) + backendRank(r.backend);
const sorted = order.flatMap((w) => results.filter((r) => r.workload === w).sort((a, b) => rank(a) - rank(b)));
if (json) {
  console.log(
    JSON.stringify(
      {
        seconds,
        warmupSeconds,
        short,
        rounds,
        tls: tlsChoice,
        physicalLimits: limits,
        results: sorted,
        roundRatios: ratiosByRound,
        memory: memoryLines,
      },
      null,
      2,
    ),
  );
} else {
  if (limits !== null) console.log(`${formatPhysicalLimits(limits)}\n`);
  console.log(
    `lock workloads, ${seconds} s each after a ${warmupSeconds} s warm-up (rate over the measured window; latency of acquire+release, or the wait for contended/queue; failover: ms from SIGKILL to the next acquire;`,
  );
  console.log(
    `server CPU: user+system µs of all member processes over the window, per operation; ratios: rate or CPU over etcd's or ZooKeeper's on the same transport, and TLS over the same system's plaintext row):`,
  );
  console.log(formatTable(sorted, ['zookeeper', 'etcd']));
  if (zookeeperSkipped !== null) console.log(`(${zookeeperSkipped})`);
  for (const c of ratiosByRound) {
    console.log(`\n${c.comparison}, within each round (order reversed in even rounds), and the median:`);
    for (const r of c.workloads)
      console.log(
        `  ${r.workload}: ${r.ratios.map((x) => `${x.toFixed(2)}×`).join(', ')}; median ${r.median.toFixed(2)}×`,
      );
  }
  console.log('\nresident memory:');
  for (const line of memoryLines) console.log(`  ${line}`);
}
// The run is over and everything is printed: end now, rather than wait on whatever the clients
// abandoned in a queue (a waiter still queued at the deadline) may keep scheduled.
process.exit(0);
