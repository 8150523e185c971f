// The lock workloads against etcd alone (`npm run bench:etcd`): a local 3-member etcd started here
// and killed by PID at the end, one table, plus the machine's physical limits measured in the same
// run. `bench/bench.ts` runs the same workloads on raftlock beside it, with the ratio.
//
//   npx tsx bench/etcd/run.ts [--seconds 5] [--warmup 10] [--scaling 1,8,64,256,1024] [--queue 10000]
//                             [--failover-rounds 5] [--only uncontended,contended,scaling,queue,failover]
//                             [--etcd etcd] [--dir PATH]
//
// Without etcd installed it prints how to install it and exits 0: the project never requires it.
import { tmpdir } from 'node:os';
import { formatPhysicalLimits, measurePhysicalLimits } from '../physical.js';
import { detectEtcd, EtcdCluster, etcdControl, etcdInstallHint } from './cluster.js';
import { etcdFactory, newAgent } from './etcd-backend.js';
import type { BackendFactory } from './backend.js';
import { formatTable } from './table.js';
import { contended, failover, ownLockEach, queueDepth } from './workloads.js';
import type { FailoverControl, WorkloadResult } from './workloads.js';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const seconds = Number(flag('--seconds') ?? '5');
const warmupSeconds = Number(flag('--warmup') ?? '10');
const scaling = (flag('--scaling') ?? '1,8,64,256,1024').split(',').map(Number);
const queueWaiters = Number(flag('--queue') ?? '10000');
const failoverRounds = Number(flag('--failover-rounds') ?? '5');
const workloadNames = ['uncontended', 'contended', 'scaling', 'queue', 'failover'] as const;
const only = new Set((flag('--only') ?? workloadNames.join(',')).split(','));
const wanted = (name: (typeof workloadNames)[number]): boolean => only.has(name);
const dataParent = flag('--dir') ?? tmpdir();
const etcdBinary = flag('--etcd') ?? 'etcd';
const counts = [...scaling, queueWaiters, failoverRounds];
const unknownNames = [...only].filter((n) => !(workloadNames as readonly string[]).includes(n));
if (!(seconds > 0) || !(warmupSeconds >= 0) || counts.some((n) => !(Number.isInteger(n) && n >= 0)) || unknownNames.length > 0) {
  console.error('usage: bench/etcd/run.ts [--seconds N] [--warmup N] [--scaling 1,8,64] [--queue N] [--failover-rounds N]');
  console.error(`                         [--only ${workloadNames.join(',')}] [--etcd PATH] [--dir PATH]`);
  process.exit(2);
}
// An interrupted run still kills the etcd members (their exit hooks run on process.exit).
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

const detected = detectEtcd(etcdBinary);
if (!detected.found) {
  console.log(etcdInstallHint);
  console.log(`(etcd --version: ${detected.reason})`);
  process.exit(0);
}

const log = (text: string): void => console.error(text);
log(`measuring physical limits under ${dataParent} ...`);
const limits = await measurePhysicalLimits(dataParent, Math.min(3000, seconds * 1000));

/** One backend under test: its clients, a failover-ready client factory, its cluster control. */
const memory: string[] = [];

type Run = {
  readonly backend: BackendFactory<unknown>;
  /**
   * Clients for the queue: with thousands of waiters each holding a socket for its blocking call,
   * per-client keepalives would double the sockets, so these sessions are long enough to need none.
   */
  readonly queueBackend: BackendFactory<unknown>;
  /** Clients with a short request timeout, so a call stuck on a killed member is retried. */
  readonly failoverBackend: BackendFactory<unknown>;
  readonly control: FailoverControl;
  /** Resident memory of the cluster's processes, one line. */
  readonly memory: () => string;
};

async function runAll(run: Run, results: WorkloadResult[]): Promise<void> {
  const options = { durationMs: seconds * 1000, warmupMs: warmupSeconds * 1000 };
  const step = async (label: string, what: () => Promise<WorkloadResult>): Promise<void> => {
    const r = await what().catch((error: unknown): WorkloadResult => failedRow(label, run.backend.name, error));
    log(`  ${r.backend} ${r.workload}: ${r.rate.toFixed(r.rate < 10 ? 2 : 0)} ${r.unit}, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, errors ${r.errors}`);
    results.push(r);
  };
  if (wanted('uncontended')) await step('uncontended (32 clients)', () => ownLockEach(run.backend, 32, options));
  if (wanted('contended')) await step('contended (16 clients, 1 lock)', () => contended(run.backend, 16, options));
  for (const n of wanted('scaling') ? scaling : []) {
    const label = `scaling (${n} clients)`;
    await step(label, () => ownLockEach(run.backend, n, options, label));
  }
  if (queueWaiters > 0 && wanted('queue')) {
    const onQueued = (): void => {
      memory.push(`${run.backend.name} with ${queueWaiters} queued waiters: ${run.memory()}`);
    };
    await step(`queue depth (${queueWaiters} waiters, 1 lock)`, () => queueDepth(run.queueBackend, queueWaiters, { ...options, onQueued }));
  }
  if (failoverRounds > 0 && wanted('failover')) {
    const failoverOptions = { rounds: failoverRounds, steadyMs: 1000, recoveryLimitMs: 30_000 };
    await step(`failover (SIGKILL leader, ${failoverRounds} rounds)`, () => failover(run.failoverBackend, run.control, failoverOptions));
  }
}

/** A workload that could not finish still gets a row, with its error, and the run goes on. */
function failedRow(workload: string, backend: string, error: unknown): WorkloadResult {
  const message = error instanceof Error ? error.message : String(error);
  return { workload: `${workload}: aborted`, backend, unit: 'ops/s', rate: NaN, p50Ms: NaN, p99Ms: NaN, maxMs: NaN, errors: 1, firstError: message };
}

/**
 * The failover client gives up on a call after this long and retries on the next member, as a
 * client with a deadline would; failover figures therefore include up to this much retry delay.
 */
const failoverRequestTimeoutMs = 300;



const results: WorkloadResult[] = [];
log(`starting a 3-member etcd ${detected.version} cluster ...`);
const cluster = await EtcdCluster.start(detected.binary, 3, dataParent);
const agent = newAgent();
try {
  const run: Run = {
    backend: etcdFactory(agent, cluster.clientUrls),
    queueBackend: etcdFactory(agent, cluster.clientUrls, { ttlSec: 900 }),
    failoverBackend: etcdFactory(agent, cluster.clientUrls, { requestTimeoutMs: failoverRequestTimeoutMs }),
    control: etcdControl(cluster),
    memory: () =>
      [...cluster.rssBytes()].map(([name, bytes]) => `${name} ${(bytes / (1024 * 1024)).toFixed(1)} MB`).join(', '),
  };
  memory.push(`etcd ${detected.version} idle, before the workloads: ${run.memory()}`);
  await runAll(run, results);
  memory.push(`etcd ${detected.version} after the workloads: ${run.memory()}`);
} finally {
  agent.destroy();
  await cluster.stop();
}

console.log(formatPhysicalLimits(limits));
console.log('');
console.log(`lock workloads, ${seconds} s each after a ${warmupSeconds} s warm-up (rate over the measured window; latency of acquire+release, or the wait for contended):`);
console.log(formatTable(results));
console.log('');
console.log('resident memory:');
for (const line of memory) console.log(`  ${line}`);
