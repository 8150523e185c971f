// The ZooKeeper side of the benchmark, without ZooKeeper: each server's zoo.cfg keeps ZooKeeper's
// durability and names the whole ensemble on 127.0.0.1; `srvr` answers are read for the server's
// role; Curator's lock order is by ZooKeeper's sequence (never by the guid in front of it), each
// waiter watching only its immediate predecessor; a missing installation is reported, and the
// bench then says how to install it and exits 0; the table compares raftlock with each baseline
// and never one baseline with another; a waiter whose client holds back its predecessor's deletion
// event still gets the lock, by asking whether the predecessor exists.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { formatTable } from '../../bench/etcd/table.js';
import type { BenchRow } from '../../bench/etcd/table.js';
import { benchRow } from './fixtures/bench-row.js';
import { detectZooKeeper } from '../../bench/zookeeper/cluster.js';
import { parseSrvrMode } from '../../bench/zookeeper/four-letter.js';
import { findProtected, lockTurn, protectedLockNodeName, sequenceOf } from '../../bench/zookeeper/lock-order.js';
import { locksRoot, ZooKeeperLockClient } from '../../bench/zookeeper/mutex.js';
import { StandInEnsemble } from './fixtures/zookeeper-session.js';
import { zooCfg } from '../../bench/zookeeper/zoo-cfg.js';
import { packageRoot } from '../../src/server/cli-command.js';

const ensemble = [
  { id: 1, clientPort: 4001, quorumPort: 4002, electionPort: 4003 },
  { id: 2, clientPort: 4011, quorumPort: 4012, electionPort: 4013 },
  { id: 3, clientPort: 4021, quorumPort: 4022, electionPort: 4023 },
];

t.test('zoo.cfg: own ports on 127.0.0.1, the whole ensemble, fsync left on, srvr allowed', async (t) => {
  const text = zooCfg({ dataDir: '/tmp/z2/data', self: ensemble[1] as (typeof ensemble)[number], ensemble });
  const lines = text.trim().split('\n');
  t.ok(lines.includes('dataDir=/tmp/z2/data'));
  t.ok(
    lines.includes('clientPortAddress=127.0.0.1') && lines.includes('clientPort=4011'),
    "the server's own client port, on loopback",
  );
  t.same(
    lines.filter((l) => l.startsWith('server.')),
    ['server.1=127.0.0.1:4002:4003', 'server.2=127.0.0.1:4012:4013', 'server.3=127.0.0.1:4022:4023'],
  );
  t.ok(lines.includes('maxClientCnxns=0'), 'every benchmark client comes from 127.0.0.1: no per-address limit');
  t.ok(lines.includes('admin.enableServer=false'), 'no admin server on the fixed port 8080');
  t.ok(lines.includes('4lw.commands.whitelist=srvr'), 'the readiness and leader probe is allowed');
  t.notMatch(text, /forceSync|syncEnabled/, "ZooKeeper's default durability: fsync before acknowledging");
  t.throws(
    () => zooCfg({ dataDir: '/d', self: { ...ensemble[0], id: 9 } as (typeof ensemble)[number], ensemble }),
    /server 9 is not in the ensemble \(1, 2, 3\)/,
  );
  t.throws(
    () => zooCfg({ dataDir: '/d\nserver.9=x', self: ensemble[0] as (typeof ensemble)[number], ensemble }),
    /has a line break/,
  );
});

t.test('srvr answers: the role while serving, null while not', async (t) => {
  t.equal(
    parseSrvrMode(
      'Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nZxid: 0x100000000\nMode: leader\nNode count: 5\n',
    ),
    'leader',
  );
  t.equal(parseSrvrMode('Zookeeper version: 3.8.0\nMode: follower\nNode count: 5\n'), 'follower');
  t.equal(parseSrvrMode('This ZooKeeper instance is not currently serving requests\n'), null);
  t.equal(parseSrvrMode(''), null, 'a closed connection without an answer');
});

t.test("Curator's order: by ZooKeeper's sequence, each waiter watching its immediate predecessor", async (t) => {
  const first = `${protectedLockNodeName('ffff')}0000000001`;
  const second = `${protectedLockNodeName('aaaa')}0000000002`;
  const third = `${protectedLockNodeName('0000')}0000000010`;
  t.equal(first, '_c_ffff-lock-0000000001');
  t.equal(sequenceOf(third), '0000000010');
  const children = [third, second, first];
  t.same(lockTurn(children, first), { kind: 'holds' }, 'the lowest sequence holds, whatever its guid');
  t.same(lockTurn(children, second), { kind: 'waits', predecessor: first });
  t.same(lockTurn(children, third), { kind: 'waits', predecessor: second }, 'the one just before, not the holder');
  t.throws(
    () => lockTurn([first, second], third),
    /lock node _c_0000-lock-0000000010 is no longer among the contenders \(2 of them\)/,
  );
  t.equal(findProtected(children, 'aaaa'), second, 'a create whose reply was lost is found by its guid');
  t.equal(findProtected(children, 'aaa'), undefined, 'a guid is matched whole');
});

t.test('a held-back deletion event does not stall the waiter: it asks whether its predecessor exists', async (t) => {
  const ensemble = new StandInEnsemble();
  const holderSession = ensemble.session();
  const waiterSession = ensemble.session({ holdBackEvents: true });
  const holder = ZooKeeperLockClient.over(holderSession);
  const waiter = ZooKeeperLockClient.over(waiterSession);
  t.teardown(() => Promise.all([holder.close(), waiter.close()]));

  const held = await holder.acquire('stall');
  let granted = false;
  const waiting = waiter.acquire('stall').then((handle) => {
    granted = true;
    return handle;
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.notOk(granted, 'the waiter waits while the lock is held');
  await holder.release(held);
  const deadline = new Promise<'stalled'>((resolve) => setTimeout(() => resolve('stalled'), 3_000));
  const outcome = await Promise.race([waiting, deadline]);
  t.not(outcome, 'stalled', 'the waiter holds the lock within 3 s though the deletion event never came');
  t.ok(
    waiterSession.existsAsked.length > 0 && waiterSession.existsAsked.every((path) => path === held.path),
    `it asked about its predecessor's node (${waiterSession.existsAsked.length} time(s))`,
  );
  t.same(ensemble.children(`${locksRoot}/stall`).length, 1, 'only the waiter is left in the queue');
});

t.test(
  'without ZooKeeper: detection says what is missing, and the bench says how to install it and exits 0',
  async (t) => {
    const missingJar = detectZooKeeper('/nonexistent/zookeeper.jar');
    t.same(missingJar, { found: false, reason: '/nonexistent/zookeeper.jar does not exist' });
    const missingJava = detectZooKeeper(import.meta.filename, '/nonexistent/java');
    t.match(missingJava, { found: false, reason: /^\/nonexistent\/java: / });

    const root = packageRoot();
    const child = spawn(
      process.execPath,
      [
        '--import',
        import.meta.resolve('tsx'),
        join(root, 'bench', 'bench.ts'),
        '--zookeeper-only',
        '--zookeeper',
        '/nonexistent/zookeeper.jar',
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    t.equal(code, 0);
    t.match(stdout, /ZooKeeper is not installed[\s\S]*apt-get install zookeeper/);
    t.notMatch(stdout, /lock workloads/, 'no workload ran');
  },
);

const row = (backend: string, rate: number, cpu: number): BenchRow =>
  benchRow({
    workload: 'contended (16 workers, 1 client, 1 lock)',
    backend,
    unit: 'handoffs/s',
    rate,
    serverCpuMicrosPerOp: cpu,
  });

t.test('the table has a rate and a CPU ratio per baseline, on raftlock rows only', async (t) => {
  const table = formatTable(
    [row('raftlock', 900, 300), row('zookeeper', 300, 1200), row('etcd', 450, 1500)],
    ['zookeeper', 'etcd'],
  ).split('\n');
  t.match(table[0], /server CPU µs\/op +rate \/zookeeper +CPU \/zookeeper +rate \/etcd +CPU \/etcd$/);
  t.match(table[2], /raftlock +off +900 handoffs\/s .* 300 +3\.00× +0\.25× +2\.00× +0\.20×$/);
  t.match(table[3], /zookeeper +off +300 handoffs\/s .* 1,200 +— +— +— +—$/, 'ZooKeeper is not compared with etcd');
  t.match(table[4], /etcd +off +450 handoffs\/s .* 1,500 +— +— +— +—$/);
  const noEtcd = formatTable([row('raftlock', 900, 300), row('zookeeper', 300, 1200)], ['zookeeper', 'etcd']).split(
    '\n',
  );
  t.match(noEtcd[0], /server CPU µs\/op +rate \/zookeeper +CPU \/zookeeper$/, 'no etcd rows: no etcd columns');
});
