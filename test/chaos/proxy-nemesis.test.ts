// The chaos test's fault machinery does what it claims. The proxy on each peer link passes, drops
// (accepting but discarding, as a real partition does), delays in order, or cuts one direction,
// switches mode at run time and drops connections that lost bytes when the link heals; a mesh of
// such links realises every partition shape as exactly the directed links it should block. The
// nemesis schedule is a pure function of its seed, keeps a majority of nodes up and reachable at
// every moment (the precondition for Raft's liveness, §5.2/§5.4: faults beyond it only test
// unavailability) and ends healed. The nemesis player resolves `leader` when an event fires and
// undoes exactly what it did, so every played schedule leaves the cluster whole. Node processes
// are killed, paused and resumed by PID, as the kernel confirms.
import t from 'tap';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LinkProxy, ProxyMesh } from '../../src/chaos/proxy.js';
import type { LinkMode } from '../../src/chaos/proxy.js';
import { Nemesis } from '../../src/chaos/nemesis.js';
import { ManagedProcess } from '../../src/chaos/processes.js';
import type { ChaosCluster, ChaosLinks } from '../../src/chaos/nemesis.js';
import { allLinks, blockedLinks, linkName } from '../../src/chaos/partition.js';
import type { PartitionShape } from '../../src/chaos/partition.js';
import {
  allFaultKinds,
  buildSchedule,
  formatSchedule,
  leaderRef,
  resolveShape,
} from '../../src/chaos/nemesis-schedule.js';
import type { NemesisEvent } from '../../src/chaos/nemesis-schedule.js';
import { until } from '../fixtures/until.js';
import { RecordingClient, RecordingServer } from './fixtures/net.js';
import { TcpTransport } from '../../src/transport/tcp.js';
import type { Message } from '../../src/raft/messages.js';
import type { LogIndex, NodeId, Term } from '../../src/raft/types.js';

t.test('a link passes both ways, blackholes on drop and heals with a fresh connection', async (t) => {
  const server = await RecordingServer.start({ echo: true });
  const link = await LinkProxy.listen({ host: '127.0.0.1', port: server.port });
  t.teardown(async () => {
    await link.close();
    await server.close();
  });
  const client = await RecordingClient.open(link.port);
  client.send('hello');
  await until(() => client.heard === 'hello', 'the echo through the proxy');

  link.setMode({ kind: 'drop' });
  client.send('lost');
  await until(() => link.stats().discardedBytes === 4, 'the proxy to swallow the bytes');
  t.equal(client.closed, false, 'a blackhole keeps the connection open');
  t.equal(server.received, 'hello', 'nothing reached the server');

  link.setMode({ kind: 'pass' });
  await until(() => client.closed, 'the lossy connection to be dropped on heal');
  const again = await RecordingClient.open(link.port);
  again.send('after');
  await until(() => again.heard === 'after', 'the echo after healing');
  t.equal(server.received, 'helloafter', 'the dropped bytes never arrived, later ones do');
  t.same(link.stats(), { connections: 2, forwardedBytes: 20, discardedBytes: 4 });
  again.destroy();
});

t.test('a one-way cut discards one direction only; delay keeps order', async (t) => {
  const server = await RecordingServer.start({ greet: 'hi' });
  const link = await LinkProxy.listen({ host: '127.0.0.1', port: server.port });
  t.teardown(async () => {
    await link.close();
    await server.close();
  });
  link.setMode({ kind: 'cut', direction: 'forward' });
  const a = await RecordingClient.open(link.port);
  await until(() => a.heard === 'hi', 'the greeting on the open direction');
  a.send('nope');
  await until(() => link.stats().discardedBytes === 4, 'the forward bytes to be cut');
  t.equal(server.received, '');

  link.setMode({ kind: 'cut', direction: 'backward' });
  const b = await RecordingClient.open(link.port);
  b.send('yes');
  await until(() => server.received === 'yes', 'the forward direction to pass');
  await until(() => link.stats().discardedBytes === 6, 'the greeting to be cut');
  t.equal(b.heard, '');

  link.setMode({ kind: 'delay', delayMs: 30 });
  await until(() => a.closed && b.closed, 'connections that lost bytes to be dropped when the cut ends');
  const c = await RecordingClient.open(link.port);
  const words = Array.from({ length: 20 }, (_, i) => `<${i}>`);
  for (const w of words) c.send(w);
  link.setMode({ kind: 'pass' });
  for (const w of ['<a>', '<b>']) c.send(w);
  const expected = `yes${words.join('')}<a><b>`;
  await until(() => server.received === expected, 'every delayed chunk, in order');
  t.equal(c.heard, 'hi', 'the delayed greeting arrived too');
  c.destroy();
});

t.test('partition shapes block exactly the right directed links', async (t) => {
  const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
  const pairs = (shape: PartitionShape): string[] => blockedLinks(shape, nodes);
  t.same(pairs({ kind: 'isolate', node: 'n2' }), [
    'n1->n2',
    'n2->n1',
    'n2->n3',
    'n2->n4',
    'n2->n5',
    'n3->n2',
    'n4->n2',
    'n5->n2',
  ]);
  t.same(pairs({ kind: 'split', minority: ['n1', 'n2'] }).length, 12, '2 × 3 pairs, both ways');
  t.same(pairs({ kind: 'one-way', from: ['n1'] }), ['n1->n2', 'n1->n3', 'n1->n4', 'n1->n5']);
  const bridge = pairs({ kind: 'bridge', bridge: 'n3', left: ['n1', 'n2'] });
  t.same(bridge, ['n1->n4', 'n1->n5', 'n2->n4', 'n2->n5', 'n4->n1', 'n4->n2', 'n5->n1', 'n5->n2']);
  t.throws(() => pairs({ kind: 'isolate', node: 'n9' }), /unknown node n9/);
  // Every shape: a link is blocked iff its endpoints are on sides that cannot talk, and for the
  // symmetric shapes, a→b is blocked iff b→a is.
  fc.assert(
    fc.property(fc.subarray(nodes, { minLength: 1, maxLength: 2 }), fc.constantFrom(...nodes), (minority, node) => {
      const split = new Set(pairs({ kind: 'split', minority }));
      const iso = new Set(pairs({ kind: 'isolate', node }));
      return allLinks(nodes).every((l) => {
        const [a, b] = l.split('->') as [string, string];
        return (
          split.has(l) === split.has(linkName(b, a)) &&
          split.has(l) === (minority.includes(a) !== minority.includes(b)) &&
          iso.has(l) === (a === node || b === node)
        );
      });
    }),
  );
  t.same(resolveShape({ kind: 'bridge', bridge: leaderRef, left: [leaderRef, 'n1'] }, 'n4'), {
    kind: 'bridge',
    bridge: 'n4',
    left: ['n1'],
  });
  t.same(resolveShape({ kind: 'split', minority: [leaderRef, 'n2', 'n2'] }, 'n5'), {
    kind: 'split',
    minority: ['n2', 'n5'],
  });
});

t.test('a proxy mesh partitions real connections and heals them', async (t) => {
  const names = ['n1', 'n2', 'n3'];
  const servers = new Map<string, RecordingServer>();
  for (const n of names) servers.set(n, await RecordingServer.start());
  const mesh = await ProxyMesh.start(new Map([...servers].map(([n, s]) => [n, { host: '127.0.0.1', port: s.port }])));
  t.teardown(async () => {
    await mesh.close();
    for (const s of servers.values()) await s.close();
  });
  t.same([...mesh.addressesFor('n1').keys()], ['n2', 'n3']);
  const blocked = mesh.partition({ kind: 'isolate', node: 'n1' });
  t.same(blocked, ['n1->n2', 'n1->n3', 'n2->n1', 'n3->n1']);
  const clients: RecordingClient[] = [];
  for (const link of allLinks(names)) {
    const [from, to] = link.split('->') as [string, string];
    const c = await RecordingClient.open(mesh.link(from, to).port);
    c.send(`(${from})`);
    clients.push(c);
  }
  const got = (n: string): string => servers.get(n)?.received ?? '';
  await until(() => got('n2') === '(n3)' && got('n3') === '(n2)', 'the unblocked links to deliver');
  await until(
    () =>
      blocked.every((l) => {
        const [f, to] = l.split('->') as [string, string];
        return mesh.link(f, to).stats().discardedBytes === 4;
      }),
    'the blocked links to discard',
  );
  t.equal(got('n1'), '', 'the isolated node heard nothing');
  mesh.heal();
  await until(() => clients.filter((c) => c.closed).length === 4, 'the four lossy connections to drop');
  const late = await RecordingClient.open(mesh.link('n2', 'n1').port);
  late.send('(n2 again)');
  await until(() => got('n1') === '(n2 again)', 'a healed link to deliver');
  for (const c of [...clients, late]) c.destroy();
});

t.test('the nemesis schedule is a pure function of its seed and prints stably', async (t) => {
  const options = { durationMs: 120_000, nodes: ['n3', 'n1', 'n2', 'n5', 'n4'], sessionTtlMs: 3000 };
  const a = formatSchedule(buildSchedule({ seed: 7, ...options }));
  const b = formatSchedule(buildSchedule({ seed: 7, ...options }));
  const c = formatSchedule(buildSchedule({ seed: 8, ...options }));
  t.equal(a, b);
  t.not(a, c);
  const lines = a.split('\n');
  t.equal(lines[0], 'nemesis schedule seed=7 duration=120000ms nodes=n1,n2,n3,n4,n5');
  for (const line of lines.slice(1)) t.match(line, /^ +\d+\.\d{3}s {2}\S/);
  t.same(
    lines.slice(-3).map((l) => l.trim().split(/ {2}/)[1]),
    ['heal every link', 'resume paused nodes', 'restart killed nodes'],
  );
});

t.test('every schedule keeps a majority up and connected, recovers each fault and ends healed', async (t) => {
  const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
  fc.assert(
    fc.property(fc.nat(1_000_000), fc.subarray([...allFaultKinds], { minLength: 1 }), (seed, faults) => {
      const ttl = 2000;
      const s = buildSchedule({ seed, durationMs: 60_000, nodes, sessionTtlMs: ttl, faults });
      let open: NemesisEvent['kind'] | null = null;
      let openedAt = 0;
      let last = 0;
      const seen = new Set<string>();
      for (const { atMs, event } of s.events.slice(0, -3)) {
        if (atMs < last) return false;
        last = atMs;
        seen.add(event.kind);
        switch (event.kind) {
          case 'kill':
          case 'pause':
            if (open !== null || event.nodes.length > 2) return false;
            open = event.kind;
            openedAt = atMs;
            break;
          case 'partition':
          case 'slow':
          case 'remove-member':
            if (open !== null) return false;
            open = event.kind;
            break;
          case 'restart':
            if (open !== 'kill') return false;
            open = null;
            break;
          case 'resume':
            // Paused longer than a session TTL, so sessions held through it expire.
            if (open !== 'pause' || atMs - openedAt <= ttl) return false;
            open = null;
            break;
          case 'heal':
            if (open !== 'partition' && open !== 'slow') return false;
            open = null;
            break;
          case 'add-member':
            if (open !== 'remove-member') return false;
            open = null;
            break;
          case 'transfer-leadership':
            if (open !== null) return false;
            break;
        }
      }
      const tail = s.events.slice(-3).map((e) => e.event.kind);
      return open === null && tail.join() === 'heal,resume,restart' && s.events.length > 3;
    }),
    { numRuns: 300 },
  );
  t.pass('every generated schedule was well formed');
});

/** A cluster that records what the nemesis asked of it; the leader is the lowest live node. */
class FakeCluster implements ChaosCluster {
  readonly calls: string[] = [];
  readonly up = new Set(['n1', 'n2', 'n3', 'n4', 'n5']);
  readonly stopped = new Set<string>();
  async leader(): Promise<string | null> {
    return [...this.up].filter((n) => !this.stopped.has(n)).sort()[0] ?? null;
  }
  async kill(node: string): Promise<void> {
    if (!this.up.delete(node)) throw new Error(`kill of a dead node ${node}`);
    this.stopped.delete(node);
    this.calls.push(`kill ${node}`);
  }
  async restart(node: string): Promise<void> {
    if (this.up.has(node)) throw new Error(`restart of a live node ${node}`);
    this.up.add(node);
    this.calls.push(`restart ${node}`);
  }
  pause(node: string): void {
    this.stopped.add(node);
    this.calls.push(`pause ${node}`);
  }
  resume(node: string): void {
    this.stopped.delete(node);
    this.calls.push(`resume ${node}`);
  }
  async transferLeadership(to: string): Promise<void> {
    this.calls.push(`transfer ${to}`);
  }
  async removeMember(node: string): Promise<void> {
    this.calls.push(`remove ${node}`);
  }
  async addMember(node: string): Promise<void> {
    this.calls.push(`add ${node}`);
  }
}

class FakeLinks implements ChaosLinks {
  readonly calls: string[] = [];
  partition(shape: PartitionShape): string[] {
    const blocked = blockedLinks(shape, ['n1', 'n2', 'n3', 'n4', 'n5']);
    this.calls.push(`partition ${blocked.join(',')}`);
    return blocked;
  }
  setAll(mode: LinkMode): void {
    this.calls.push(`setAll ${mode.kind}`);
  }
  heal(): void {
    this.calls.push('heal');
  }
  resetNode(node: string): void {
    this.calls.push(`reset ${node}`);
  }
}

t.test('the nemesis resolves the leader when an event fires and undoes exactly what it did', async (t) => {
  const cluster = new FakeCluster();
  const links = new FakeLinks();
  const lines: string[] = [];
  const nemesis = new Nemesis(cluster, links, (l) => lines.push(l));
  await nemesis.apply({ kind: 'kill', nodes: [leaderRef, 'n3'] }, 1000);
  t.same(cluster.calls, ['kill n1', 'kill n3']);
  t.same(links.calls, ['reset n1', 'reset n3']);
  await nemesis.apply({ kind: 'pause', nodes: [leaderRef] }, 1500);
  t.same(nemesis.down, { killed: ['n1', 'n3'], paused: ['n2'], removed: [] });
  const skipped = await nemesis.apply({ kind: 'transfer-leadership', to: 'n3' });
  t.match(skipped.outcome, /skipped: n3 is down/);
  await nemesis.apply({ kind: 'partition', shape: { kind: 'isolate', node: leaderRef } });
  t.equal(
    links.calls.at(-1),
    'partition n1->n4,n2->n4,n3->n4,n4->n1,n4->n2,n4->n3,n4->n5,n5->n4',
    'the leader among live, unpaused nodes is n4',
  );
  await nemesis.apply({ kind: 'resume' });
  await nemesis.apply({ kind: 'restart' });
  t.same(cluster.calls.slice(-3), ['resume n2', 'restart n1', 'restart n3']);
  t.same(nemesis.down, { killed: [], paused: [], removed: [] });
  t.match(lines[0], /^ +1\.000s {2}kill leader n3 {2}=> killed n1 n3$/);
});

t.test('playing any schedule leaves the cluster whole, healed and never asks the impossible', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.nat(1_000_000), async (seed) => {
      const cluster = new FakeCluster();
      const links = new FakeLinks();
      const nemesis = new Nemesis(cluster, links);
      const schedule = buildSchedule({
        seed,
        durationMs: 60_000,
        nodes: ['n1', 'n2', 'n3', 'n4', 'n5'],
        sessionTtlMs: 2000,
      });
      let now = 0;
      await nemesis.play(schedule, {
        now: () => now,
        sleep: async (ms) => {
          now += ms;
        },
      });
      const down = nemesis.down;
      return (
        nemesis.applied.length === schedule.events.length &&
        nemesis.applied.every(
          (a) => !a.outcome.startsWith('skipped: kill') && !a.outcome.startsWith('skipped: restart'),
        ) &&
        down.killed.length + down.paused.length + down.removed.length === 0 &&
        cluster.up.size === 5 &&
        cluster.stopped.size === 0 &&
        links.calls.at(-1) === 'heal'
      );
    }),
    { numRuns: 100 },
  );
  t.pass('every schedule ended with the cluster whole');
});

t.test('the real peer transport runs through the mesh: a partition silences it, healing restores it', async (t) => {
  // Raft only needs the transport to deliver eventually once the network heals (§5.1: messages
  // may be lost; the sender retries on its own beat), which is what this proves end to end.
  const ids = ['n1', 'n2'] as const;
  const received: Message[] = [];
  const transports = new Map<string, TcpTransport>();
  for (const id of ids) {
    transports.set(
      id,
      await TcpTransport.listen({
        nodeId: id as NodeId,
        clusterId: 'chaos-test',
        listen: { host: '127.0.0.1', port: 0 },
        limits: { reconnectDelayMs: 10, reconnectDelayMaxMs: 50 },
      }),
    );
  }
  const mesh = await ProxyMesh.start(
    new Map(ids.map((id) => [id, transports.get(id)?.address ?? { host: '127.0.0.1', port: 1 }])),
  );
  t.teardown(async () => {
    for (const tr of transports.values()) await tr.close();
    await mesh.close();
  });
  transports.get('n2')?.onMessage((m) => received.push(m));
  for (const id of ids)
    for (const [peer, address] of mesh.addressesFor(id)) transports.get(id)?.addPeer(peer as NodeId, address);
  const heartbeat = (commit: number): Message => ({
    type: 'Heartbeat',
    from: 'n1' as NodeId,
    to: 'n2' as NodeId,
    term: 1 as Term,
    commit: commit as LogIndex,
    context: null,
  });
  const commits = (): number[] => received.map((m) => (m.type === 'Heartbeat' ? m.commit : -1));
  const n1 = transports.get('n1') as TcpTransport;

  n1.send(heartbeat(1));
  await until(() => commits().includes(1), 'a heartbeat through the proxy');
  mesh.partition({ kind: 'isolate', node: 'n1' });
  n1.send(heartbeat(2));
  await until(() => mesh.link('n1', 'n2').stats().discardedBytes > 0, 'the blackhole to swallow the heartbeat');
  t.same(commits(), [1], 'nothing crossed the partition');
  mesh.heal();
  // Raft keeps sending on its own beat; so does this test until one gets through.
  let next = 3;
  await until(() => {
    if (commits().some((c) => c >= 3)) return true;
    n1.send(heartbeat(next++));
    return false;
  }, 'a heartbeat after healing');
  t.notOk(commits().includes(2), 'the heartbeat sent into the blackhole was lost, not delayed');
});

t.test('managed processes are killed, paused and resumed by PID, and restart with the same command', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'raftlock-proc-'));
  const proc = new ManagedProcess('ticker', {
    command: process.execPath,
    args: ['-e', "process.stdout.write('up\\n'); setInterval(() => undefined, 1000)"],
    logPath: join(dir, 'ticker.log'),
  });
  t.teardown(async () => {
    await proc.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  // The kernel's view of a process: R/S running or sleeping, T stopped.
  const kernelState = (pid: number): string => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] ?? '?';
  proc.start();
  const first = proc.pid ?? -1;
  await until(() => readFileSync(join(dir, 'ticker.log'), 'utf8') === 'up\n', 'the process to write its log');
  proc.pause();
  t.equal(proc.state, 'paused');
  await until(() => kernelState(first) === 'T', 'the kernel to stop the process');
  proc.resume();
  await until(() => kernelState(first) !== 'T', 'the kernel to continue the process');
  t.throws(() => proc.start(), /already running/);
  await proc.kill();
  t.equal(proc.state, 'exited');
  t.same(proc.lastExit, { kind: 'killed', signal: 'SIGKILL' });
  proc.start();
  t.not(proc.pid, first, 'a restart is a new process');
  t.equal(proc.starts, 2);
  await until(() => readFileSync(join(dir, 'ticker.log'), 'utf8') === 'up\nup\n', 'both runs to append to one log');
  proc.pause();
  await proc.kill();
  t.same(proc.lastExit, { kind: 'killed', signal: 'SIGKILL' }, 'a paused process dies of SIGKILL too');
});
