// The side-by-side benchmark measures what it says: the workloads drive any LockBackend with one
// operation in flight per client, release everything they acquire, count errors without stopping,
// and the contended workload goes through a real waiting lock (checked here on an in-memory FIFO
// lock that fails the test on any double grant). Percentiles are nearest-rank, the table's ratio
// is raftlock's rate over etcd's, and a missing etcd binary is reported, not thrown.
import t from 'tap';
import type { Test } from 'tap';
import type { BackendFactory, LockBackend } from '../../bench/etcd/backend.js';
import { contended, failover, ownLockEach, percentile, queueDepth } from '../../bench/etcd/workloads.js';
import type { WorkloadResult } from '../../bench/etcd/workloads.js';
import { formatTable, ratio, rowRatios } from '../../bench/etcd/table.js';
import type { BenchRow } from '../../bench/etcd/table.js';
import { benchRow } from '../bench/fixtures/bench-row.js';
import { roundLabel, roundRatios } from '../../bench/etcd/rounds.js';
import type { RoundResult } from '../../bench/etcd/rounds.js';
import { detectEtcd } from '../../bench/etcd/cluster.js';

/** A fair in-memory lock service: FIFO waiters, one holder per name, violations recorded. */
class MemoryLocks {
  readonly holders = new Map<string, number>();
  readonly waiters = new Map<string, ((id: number) => void)[]>();
  violations = 0;
  grants = 0;
  opened = 0;
  closed = 0;
  /** While set, every call fails, as calls do while a cluster has no leader. */
  down = false;

  factory(name: string, failEvery = 0): BackendFactory<{ lock: string; id: number }> {
    return {
      name,
      open: async () => {
        this.opened++;
        return this.client(failEvery);
      },
    };
  }

  private grant(lock: string): number {
    if (this.holders.has(lock)) this.violations++;
    const id = ++this.grants;
    this.holders.set(lock, id);
    return id;
  }

  private client(failEvery: number): LockBackend<{ lock: string; id: number }> {
    let calls = 0;
    return {
      acquire: async (lock) => {
        calls++;
        if (this.down) throw new Error('no leader');
        if (failEvery > 0 && calls % failEvery === 0) throw new Error('injected failure');
        let id: number;
        if (this.holders.has(lock)) {
          // Wait in line; the releasing holder hands the lock over directly.
          id = await new Promise<number>((resolve) => {
            const queue = this.waiters.get(lock) ?? [];
            queue.push(resolve);
            this.waiters.set(lock, queue);
          });
        } else {
          id = this.grant(lock);
        }
        await new Promise((resolve) => setImmediate(resolve));
        return { lock, id };
      },
      release: async (handle) => {
        if (this.holders.get(handle.lock) !== handle.id) this.violations++;
        this.holders.delete(handle.lock);
        const next = this.waiters.get(handle.lock)?.shift();
        if (next !== undefined) next(this.grant(handle.lock));
      },
      close: async () => {
        this.closed++;
      },
    };
  }
}

function wellFormed(t: Test, r: WorkloadResult): void {
  t.ok(r.rate > 0, `${r.workload}: some operations completed`);
  t.ok(r.p50Ms <= r.p99Ms && r.p99Ms <= r.maxMs, `${r.workload}: p50 <= p99 <= max`);
}

t.test('own-lock and contended workloads grant exclusively, release everything and close every client', async (t) => {
  const locks = new MemoryLocks();
  const own = await ownLockEach(locks.factory('memory'), 8, { durationMs: 100, openBatch: 3 });
  t.equal(own.workload, 'uncontended (8 clients)');
  t.equal(own.unit, 'ops/s');
  t.equal(own.errors, 0);
  wellFormed(t, own);
  const busy = await contended(locks.factory('memory'), 6, { durationMs: 100 });
  t.equal(busy.unit, 'handoffs/s');
  t.equal(busy.errors, 0);
  wellFormed(t, busy);
  t.equal(locks.violations, 0, 'never two holders, never a stranger release');
  t.equal(locks.holders.size, 0, 'every lock released at the end');
  t.equal(locks.opened, 14);
  t.equal(locks.closed, 14);
});

t.test('errors are counted and the loop goes on; the first error is kept', async (t) => {
  const locks = new MemoryLocks();
  const r = await ownLockEach(locks.factory('flaky', 3), 2, { durationMs: 200 }, 'flaky');
  t.ok(r.errors > 0);
  t.equal(r.firstError, 'injected failure');
  t.ok(r.rate > 0, 'successful operations still counted');
  t.equal(locks.holders.size, 0);
});

t.test('a window in which nothing completed is reported as an error, not as a rate of 0', async (t) => {
  // Every acquire outlasts the window (a stalled server), then completes: the loop ends on its own.
  const r = await contended(warmingFactory(10_000, 400), 2, { durationMs: 100 });
  t.equal(r.rate, 0);
  t.equal(r.errors, 1, 'counted as one error');
  t.match(r.firstError ?? '', /no operation completed in the 100 ms window/);
});

/** A backend that is slow until `slowForMs` after it is made (a server still compiling), then quick. */
function warmingFactory(slowForMs: number, slowOpMs: number): BackendFactory<string> {
  const madeAt = performance.now();
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  const client: LockBackend<string> = {
    acquire: async (name) => {
      await (performance.now() - madeAt < slowForMs ? sleep(slowOpMs) : sleep(0));
      return name;
    },
    release: async () => undefined,
    close: async () => undefined,
  };
  return { name: 'warming', open: async () => client };
}

t.test('operations completing during the warm-up are not counted; the window alone sets the rate', async (t) => {
  const cold = await ownLockEach(warmingFactory(400, 200), 2, { durationMs: 300 });
  // A 200 ms timer may fire a fraction of a millisecond early by performance.now(): 150 ms is the
  // line between the slow start's operations and the quick ones, on both sides.
  t.ok(cold.maxMs >= 150, `without a warm-up the slow start is measured (max ${cold.maxMs.toFixed(1)} ms)`);
  const warm = await ownLockEach(warmingFactory(400, 200), 2, { durationMs: 300, warmupMs: 700 });
  t.ok(warm.maxMs < 150, `after the warm-up only the quick operations are measured (max ${warm.maxMs.toFixed(0)} ms)`);
  t.ok(warm.rate > cold.rate, `the rate is the steady one (${warm.rate.toFixed(0)} vs ${cold.rate.toFixed(0)} ops/s)`);
  const handoffs = await contended(warmingFactory(400, 200), 3, { durationMs: 300, warmupMs: 700 });
  t.ok(
    handoffs.maxMs < 150,
    `the contended wait is measured after the warm-up too (max ${handoffs.maxMs.toFixed(0)} ms)`,
  );
});

t.test('queue depth drains a deep queue one grant at a time; failover times recovery after each kill', async (t) => {
  const locks = new MemoryLocks();
  let queued = 0;
  const q = await queueDepth(locks.factory('memory'), 300, {
    durationMs: 5000,
    onQueued: () => {
      queued = locks.waiters.get('bench-queue')?.length ?? 0;
    },
  });
  t.equal(queued, 300, 'every waiter was in line before the first handoff');
  t.equal(q.workload, 'queue depth (300 waiters, 1 lock)');
  t.equal(q.errors, 0);
  wellFormed(t, q);
  t.equal(locks.violations, 0);
  t.equal(locks.holders.size, 0, 'the queue drained and the holder let go');
  t.equal(locks.closed, 301);

  const kills: string[] = [];
  const f = await failover(
    locks.factory('memory'),
    {
      killLeader: async () => {
        locks.down = true;
        setTimeout(() => {
          locks.down = false;
        }, 20);
        kills.push('n1');
        return 'n1';
      },
      restart: async (name) => {
        t.equal(name, 'n1', 'the killed node is the one restarted');
      },
    },
    { rounds: 3, steadyMs: 10, recoveryLimitMs: 5000 },
  );
  t.equal(kills.length, 3);
  t.equal(f.errors, 0, 'every round recovered');
  t.equal(f.unit, 'ms median');
  t.ok(f.rate > 0 && f.rate === f.p50Ms, 'the median recovery time');
  t.equal(locks.violations, 0);
});

t.test('percentiles are nearest-rank', async (t) => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  t.equal(percentile(values, 50), 50);
  t.equal(percentile(values, 99), 99);
  t.equal(percentile(values, 100), 100);
  t.equal(percentile([7], 99), 7);
  t.ok(Number.isNaN(percentile([], 50)));
});

/** A table row: `cpu` is the server CPU per operation (null: not measured). */
const uncontendedRow = (
  backend: string,
  tls: boolean,
  rate: number,
  cpu: number | null,
  firstError: string | null = null,
): BenchRow =>
  benchRow({
    workload: 'uncontended (32 clients)',
    backend,
    tls,
    rate,
    errors: firstError === null ? 0 : 1,
    firstError,
    serverCpuMicrosPerOp: cpu,
  });

t.test('the table shows server CPU per operation and each row over etcd on the same transport', async (t) => {
  const table = formatTable([
    uncontendedRow('raftlock', false, 2500, 350, 'boom'),
    uncontendedRow('etcd', false, 1000, 980),
  ]).split('\n');
  t.match(
    formatTable([uncontendedRow('etcd', false, 0.25, null)]),
    /etcd +off +0\.25 ops\/s/,
    'a crawling rate is not printed as 0',
  );
  t.match(
    table[0],
    /^workload +backend +TLS +rate +p50 ms +p99 ms +max ms +errors +server CPU µs\/op +rate \/etcd +CPU \/etcd$/,
    'no TLS rows: no TLS/plain columns',
  );
  t.match(table[2], /^uncontended \(32 clients\) +raftlock +off +2,500 ops\/s .* 350 +2\.50× +0\.36×$/);
  t.match(
    table[3],
    /^uncontended \(32 clients\) +etcd +off +1,000 ops\/s .* 980 +— +—$/,
    'the baseline has no ratio to itself',
  );
  t.match(table[4], /raftlock uncontended \(32 clients\): first error: boom/);
  const alone = formatTable([uncontendedRow('raftlock', false, 2500, null)]).split('\n');
  t.match(alone[0], /server CPU µs\/op$/, 'nothing to compare: no ratio columns at all');
  t.match(alone[2], /2,500 ops\/s .* —$/, 'an unmeasured CPU figure is a dash');
});

t.test('TLS rows compare with etcd on TLS and with their own plaintext row', async (t) => {
  const rows = [
    uncontendedRow('raftlock', false, 4000, 300),
    uncontendedRow('etcd', false, 1000, 1000),
    uncontendedRow('raftlock', true, 3000, 400),
    uncontendedRow('etcd', true, 800, 1250),
  ];
  const [plainRaftlock, plainEtcd, tlsRaftlock, tlsEtcd] = rows as [BenchRow, BenchRow, BenchRow, BenchRow];
  t.same(rowRatios(rows, tlsRaftlock, 'etcd'), {
    rateOverBaseline: 3.75,
    cpuOverBaseline: 0.32,
    rateTlsOverPlain: 0.75,
    cpuTlsOverPlain: 400 / 300,
  });
  t.same(
    rowRatios(rows, plainRaftlock, 'etcd'),
    { rateOverBaseline: 4, cpuOverBaseline: 0.3, rateTlsOverPlain: null, cpuTlsOverPlain: null },
    'a plaintext row has no TLS/plain ratio',
  );
  t.same(
    rowRatios(rows, tlsEtcd, 'etcd'),
    { rateOverBaseline: null, cpuOverBaseline: null, rateTlsOverPlain: 0.8, cpuTlsOverPlain: 1.25 },
    "etcd's own cost of TLS",
  );
  t.same(rowRatios(rows, plainEtcd, 'etcd'), {
    rateOverBaseline: null,
    cpuOverBaseline: null,
    rateTlsOverPlain: null,
    cpuTlsOverPlain: null,
  });
  const table = formatTable(rows).split('\n');
  t.match(table[0], /server CPU µs\/op +rate \/etcd +CPU \/etcd +rate TLS\/plain +CPU TLS\/plain$/);
  t.match(table[4], /^uncontended \(32 clients\) +raftlock +on +3,000 ops\/s .* 400 +3\.75× +0\.32× +0\.75× +1\.33×$/);
  t.match(table[5], /^uncontended \(32 clients\) +etcd +on +800 ops\/s .* 1,250 +— +— +0\.80× +1\.25×$/);
  t.equal(ratio(1, 0), null, 'no ratio over zero');
  t.equal(ratio(NaN, 1), null, 'no ratio of an aborted row');
  t.equal(ratio(null, 1), null, 'no ratio of an unmeasured figure');
});

t.test('rounds: each ratio is taken within its round, and the median summarizes them', async (t) => {
  t.equal(roundLabel('contended (16 clients, 1 lock)', 2, 3), 'contended (16 clients, 1 lock), round 2');
  t.equal(
    roundLabel('contended (16 clients, 1 lock)', 1, 1),
    'contended (16 clients, 1 lock)',
    'one round keeps the plain label',
  );
  const row = (
    workload: string,
    round: number,
    backend: string,
    rate: number,
    tls = false,
    cpu: number | null = null,
  ): RoundResult => ({ round, result: benchRow({ workload, backend, tls, rate, serverCpuMicrosPerOp: cpu }) });
  const raftlock = { backend: 'raftlock', tls: false };
  const etcd = { backend: 'etcd', tls: false };
  const results = [
    // Round 1 raftlock first, round 2 etcd first: pairing is by round, not by position.
    row('uncontended', 1, 'raftlock', 4000),
    row('uncontended', 1, 'etcd', 1000),
    row('uncontended', 2, 'etcd', 2000),
    row('uncontended', 2, 'raftlock', 4000),
    row('uncontended', 3, 'raftlock', 3000),
    row('uncontended', 3, 'etcd', 1000),
    row('uncontended', 4, 'etcd', 500),
    row('uncontended', 4, 'raftlock', NaN),
    row('contended', 1, 'raftlock', 700),
    row('contended', 1, 'etcd', 0),
    row('queue', 1, 'raftlock', 800),
  ];
  const summary = roundRatios(results, raftlock, etcd);
  t.same(
    summary,
    [{ workload: 'uncontended', ratios: [4, 2, 3], median: 3 }],
    'rounds without two finite rates are left out, and so are workloads with none',
  );
  const even = roundRatios(
    [row('w', 1, 'raftlock', 2), row('w', 1, 'etcd', 1), row('w', 2, 'raftlock', 5), row('w', 2, 'etcd', 1)],
    raftlock,
    etcd,
  );
  t.same(even, [{ workload: 'w', ratios: [2, 5], median: 3.5 }], 'an even count takes the mean of the middle two');
  t.same(roundRatios([row('w', 1, 'raftlock', 2)], raftlock, etcd), [], 'no baseline, no ratio');

  // Both transports in each round: rows pair by backend and transport, and the metric may be CPU.
  const mixed = [
    row('w', 1, 'raftlock', 4000, false, 300),
    row('w', 1, 'raftlock', 3000, true, 360),
    row('w', 1, 'etcd', 1000, true, 1200),
    row('w', 1, 'etcd', 2000, false, 1000),
    row('w', 2, 'etcd', 1000, false, 900),
    row('w', 2, 'etcd', 500, true, 1000),
    row('w', 2, 'raftlock', 2000, true, 400),
    row('w', 2, 'raftlock', 4000, false, null),
  ];
  const tlsRaftlock = { backend: 'raftlock', tls: true };
  const tlsEtcd = { backend: 'etcd', tls: true };
  t.same(
    roundRatios(mixed, tlsRaftlock, tlsEtcd),
    [{ workload: 'w', ratios: [3, 4], median: 3.5 }],
    'raftlock/etcd with TLS on both sides',
  );
  t.same(
    roundRatios(mixed, tlsRaftlock, raftlock),
    [{ workload: 'w', ratios: [0.75, 0.5], median: 0.625 }],
    'raftlock TLS over its own plaintext rate',
  );
  t.same(
    roundRatios(mixed, tlsRaftlock, raftlock, 'cpu'),
    [{ workload: 'w', ratios: [1.2], median: 1.2 }],
    'CPU per op, leaving out the round with no plaintext CPU figure',
  );
  t.same(roundRatios(mixed, raftlock, etcd, 'cpu'), [{ workload: 'w', ratios: [0.3], median: 0.3 }]);
});

t.test('a missing etcd binary is detected, not thrown', async (t) => {
  const missing = detectEtcd('/nonexistent/etcd-binary');
  t.equal(missing.found, false);
});
