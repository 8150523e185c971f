// The benchmark's server CPU per operation is read from /proc correctly and charged to the right
// operations: utime and stime are fields 14 and 15 of /proc/<pid>/stat even when the command name
// holds spaces and parentheses; ticks become µs by the clock rate; the figure is the members'
// total between the window's edges over the operations counted in it; a member that came or went
// in between gives no figure. No timing is asserted.
import { spawn } from 'node:child_process';
import t from 'tap';
import { cpuMicrosBetween, cpuOverWindow, microsPerOp, parseProcStat, procCpuSampler } from '../../bench/etcd/cpu.js';
import type { CpuSample, ServerCpu } from '../../bench/etcd/cpu.js';
import { contended, ownLockEach, queueDepth } from '../../bench/etcd/workloads.js';
import type { BackendFactory } from '../../bench/etcd/backend.js';

/** A stat line as the kernel writes it: pid, (comm), state, then fields 4.. (utime is 14, stime 15). */
function statLine(pid: number, comm: string, utime: number, stime: number): string {
  const fields4to13 = ['1', '1', '0', '0', '-1', '4194560', '100', '0', '0', '0'];
  return `${pid} (${comm}) S ${fields4to13.join(' ')} ${utime} ${stime} 0 0 20 0 1 0 12345 1000 100\n`;
}

t.test('utime and stime are fields 14 and 15, counted after the last parenthesis of the command name', async (t) => {
  t.same(parseProcStat(statLine(42, 'etcd', 1234, 56)), { utime: 1234, stime: 56 });
  t.same(
    parseProcStat(statLine(42, 'node ) 1 2 (x', 700, 80)),
    { utime: 700, stime: 80 },
    'a name with spaces and parentheses',
  );
  t.throws(
    () => parseProcStat('42 (etcd) S 1 2'),
    /not a \/proc\/<pid>\/stat line/,
    'a truncated line is refused, naming what is missing',
  );
  t.throws(() => parseProcStat('garbage'), /not a \/proc\/<pid>\/stat line/);
});

t.test(
  'the sampler turns ticks into µs of user + system time per PID, and skips processes that are gone',
  async (t) => {
    const lines = new Map([
      [10, statLine(10, 'etcd', 150, 50)],
      [11, statLine(11, 'node', 3, 1)],
    ]);
    const sample = procCpuSampler((pid) => {
      const line = lines.get(pid);
      if (line === undefined) throw new Error(`ENOENT /proc/${pid}/stat`);
      return line;
    }, 100);
    const taken = sample([10, 11, 12]);
    t.same(
      taken,
      new Map([
        [10, 2_000_000],
        [11, 40_000],
      ]),
      '(utime + stime) ticks at 100 per second, in µs; PID 12 has exited',
    );
    t.equal(procCpuSampler(() => '', null)([10]), null, 'no clock rate (no /proc): no sample');
  },
);

/** A sample written as PID → CPU µs. */
const cpuByPid = (micros: Readonly<Record<number, number>>): CpuSample =>
  new Map(Object.entries(micros).map(([pid, us]) => [Number(pid), us]));

t.test('the CPU between two samples is the sum of every member delta, or none if a member came or went', async (t) => {
  const from = cpuByPid({ 1: 1000, 2: 500, 3: 0 });
  const to = cpuByPid({ 1: 1600, 2: 900, 3: 250 });
  t.equal(cpuMicrosBetween(from, to), 1250);
  t.equal(cpuMicrosBetween(from, cpuByPid({ 1: 1600, 2: 900 })), null, 'a member killed in between');
  t.equal(cpuMicrosBetween(from, cpuByPid({ 1: 1600, 2: 900, 4: 10 })), null, 'a member replaced by a new process');
  t.equal(cpuMicrosBetween(from, cpuByPid({ 1: 900, 2: 900, 3: 250 })), null, 'a PID reused by a younger process');
  t.equal(cpuMicrosBetween(null, to), null);
  t.equal(cpuMicrosBetween(new Map(), new Map()), null, 'no members, no figure');
  t.equal(microsPerOp(1250, 5), 250);
  t.equal(microsPerOp(1250, 0), null, 'no operations, no figure');
  t.equal(microsPerOp(null, 5), null);
});

t.test('the sampler reads a real process and sees its CPU grow', async (t) => {
  const sample = procCpuSampler();
  const before = sample([process.pid]);
  const until = Date.now() + 300;
  let x = 0;
  while (Date.now() < until) x += Math.sqrt(x + 1);
  const after = sample([process.pid]);
  t.ok(x > 0);
  const used = cpuMicrosBetween(before, after);
  t.ok(used !== null && used > 0, `this process used CPU while spinning (${String(used)} µs)`);
  // A child that exits disappears from the sample.
  const child = spawn(process.execPath, ['-e', '']);
  const pid = child.pid as number;
  await new Promise((resolve) => child.once('exit', resolve));
  t.same(sample([pid]), new Map(), 'an exited (reaped) process is not in the sample');
});

/**
 * A cluster whose "CPU" grows by a fixed amount at every sample: the delta between the window's
 * two edges is exactly `stepMicros` whatever the timing, so the figure per operation shows which
 * operations it was divided by.
 */
function countingServers(stepMicros: number): ServerCpu & { readonly samples: () => number } {
  let samples = 0;
  return {
    pids: () => [1, 2, 3],
    sampler: (pids) => {
      samples++;
      return new Map(pids.map((pid) => [pid, (samples * stepMicros) / pids.length]));
    },
    samples: () => samples,
  };
}

/** A lock service with no locking at all: every call answers on the next turn. */
const instant: BackendFactory<string> = {
  name: 'instant',
  open: async () => ({
    acquire: async (name) => {
      await new Promise((resolve) => setImmediate(resolve));
      return name;
    },
    release: async () => undefined,
    close: async () => undefined,
  }),
};

t.test("a workload divides the members' CPU over its window by the operations it counted there", async (t) => {
  const servers = countingServers(90_000);
  const own = await ownLockEach(instant, 4, { durationMs: 150, warmupMs: 100, serverCpu: servers });
  t.equal(servers.samples(), 2, 'sampled once at each edge of the window');
  const counted = Math.round((own.rate * 150) / 1000);
  t.ok(counted > 0);
  t.equal(own.serverCpuMicrosPerOp, 90_000 / counted, 'the CPU between the edges over the pairs counted in the window');

  const handoffs = await contended(instant, 3, { durationMs: 100, serverCpu: countingServers(50_000) });
  t.equal(handoffs.serverCpuMicrosPerOp, 50_000 / Math.round((handoffs.rate * 100) / 1000));

  const queueServers = countingServers(30_000);
  const queue = await queueDepth(instant, 20, { durationMs: 2000, serverCpu: queueServers });
  t.equal(queueServers.samples(), 2, 'the queue samples at the first release and when the drain ends');
  t.equal(queue.serverCpuMicrosPerOp, 30_000 / 20, 'every waiter was granted once');

  const unmeasured = await ownLockEach(instant, 2, { durationMs: 50 });
  t.equal(unmeasured.serverCpuMicrosPerOp, null, 'no cluster to sample: no figure');
});

t.test('the window sampler takes an edge that has not fired yet when the window is finished early', async (t) => {
  const servers = countingServers(1000);
  const window = cpuOverWindow(servers, 10_000, 10_000);
  t.equal(window.finish(), 1000, 'both edges sampled at finish');
  t.equal(servers.samples(), 2);
  t.equal(cpuOverWindow(undefined, 0, 10).finish(), null);
});
