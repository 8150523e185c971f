// The ZooKeeper side of the benchmark against a real 3-server ensemble, when Debian's `zookeeper`
// package is installed (elsewhere detection must say what is missing): the ensemble becomes ready
// with one leader; Curator's recipe excludes (a second session waits until the holder releases) and
// queues one session's workers in the order they asked; a killed leader is replaced and locks are
// granted again; stopping kills every server by its PID; and `npm run bench -- --short
// --zookeeper-only` measures ZooKeeper's rows with the CPU of its three servers.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { packageRoot } from '../../src/server/cli-command.js';
import { detectZooKeeper, ZooKeeperCluster, zookeeperControl } from '../../bench/zookeeper/cluster.js';
import { ZooKeeperLockClient } from '../../bench/zookeeper/mutex.js';

const detection = detectZooKeeper();
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

if (!detection.found) {
  t.test('without ZooKeeper installed, detection names what is missing', async (t) => {
    t.match(detection.reason, /zookeeper\.jar does not exist|java/);
  });
} else {
  t.test(
    "a real ensemble: exclusion, one session's FIFO, a new leader after a kill, servers killed by PID",
    async (t) => {
      const cluster = await ZooKeeperCluster.start(detection, 3);
      const pids = cluster.pids;
      const clients: ZooKeeperLockClient[] = [];
      try {
        t.equal(pids.length, 3, 'three java processes');
        t.ok(await cluster.leader(), 'one server leads');
        const a = await ZooKeeperLockClient.open(cluster.connectionString);
        const b = await ZooKeeperLockClient.open(cluster.connectionString);
        clients.push(a, b);

        const held = await a.acquire('exclusive');
        let bHolds = false;
        const bAcquire = b.acquire('exclusive').then((h) => {
          bHolds = true;
          return h;
        });
        await pause(500);
        t.notOk(bHolds, 'a second session waits while the lock is held');
        await a.release(held);
        await b.release(await bAcquire);
        t.ok(bHolds, 'and holds it once the holder released');

        const order: number[] = [];
        const first = await a.acquire('fifo');
        const waiters = [1, 2, 3].map(async (i) => {
          await pause(i * 100);
          const h = await a.acquire('fifo');
          order.push(i);
          await a.release(h);
        });
        await pause(500);
        await a.release(first);
        await Promise.all(waiters);
        t.same(order, [1, 2, 3], "one session's workers are granted in the order they asked");

        const control = zookeeperControl(cluster);
        const killed = await control.killLeader();
        await control.restart(killed);
        const again = await b.acquire('after-failover');
        await b.release(again);
        t.pass(`locks are granted after ${killed}, the leader, was killed and restarted`);
      } finally {
        await Promise.allSettled(clients.map((c) => c.close()));
        const current = cluster.pids;
        await cluster.stop();
        t.same(
          [...new Set([...pids, ...current])].filter(alive),
          [],
          'every server, the restarted one too, is gone after stop',
        );
      }
    },
  );

  t.test('the bench runs the workloads on ZooKeeper, with the CPU of its servers', async (t) => {
    const root = packageRoot();
    const args = [
      '--import',
      import.meta.resolve('tsx'),
      join(root, 'bench', 'bench.ts'),
      '--short',
      '--json',
      '--zookeeper-only',
      '--only',
      'uncontended,shared-contended',
    ];
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    t.equal(code, 0, `bench exited 0\n${stderr}`);
    type Row = {
      workload: string;
      backend: string;
      tls: boolean;
      rate: number;
      errors: number;
      serverCpuMicrosPerOp: number | null;
    };
    const rows = (JSON.parse(stdout) as { results: Row[] }).results;
    t.same(
      rows.map((r) => [r.workload, r.backend, r.tls]),
      [
        ['uncontended (32 clients)', 'zookeeper', false],
        ['contended (16 workers, 1 client, 1 lock)', 'zookeeper', false],
      ],
    );
    for (const r of rows) {
      t.ok(r.rate > 0 && r.errors === 0, `${r.workload}: ${r.rate} per second, no errors`);
      t.ok(r.serverCpuMicrosPerOp !== null && r.serverCpuMicrosPerOp > 0, `${r.workload}: server CPU per operation`);
    }
  });
}
