// The Simulation's two modes behind one node-driver contract (src/sim/node-driver.ts): raft mode
// (NodeHost + hash machine) and lock mode (ServerCore + lock clients). Each replays exactly from
// its seed, takes only its own requests, refuses requests to a node that is down at once, queues
// them at a paused node, and shows its observers every applied entry once, in log order.
import t from 'tap';
import type { Entry } from '../../src/raft/types.js';
import { scenarioFromSeed } from '../../src/sim/scenario.js';
import type { SimMachineKind } from '../../src/sim/simulation.js';
import { Simulation } from '../../src/sim/simulation.js';
import { runSimulation } from '../../src/sim/simulator.js';
import { leaderOf, waitFor } from './fixtures/lock-cluster.js';

const kinds: readonly SimMachineKind[] = ['hash', 'locks'];

t.test('each mode replays exactly from its seed', async (t) => {
  for (const workload of kinds) {
    const run = (seed: number) =>
      runSimulation({ scenario: scenarioFromSeed(seed, 3, 2_000, 'swarm'), replayFrom: { kind: 'seed' }, workload });
    const a = run(3);
    const b = run(3);
    const c = run(4);
    t.ok(a.passed && b.passed && c.passed, `${workload}: the runs pass`);
    t.equal(a.traceHash, b.traceHash, `${workload}: same seed, same trace`);
    t.same(a.stats, b.stats, `${workload}: same seed, same counters`);
    t.not(a.traceHash, c.traceHash, `${workload}: another seed, another trace`);
    t.ok(a.stats.requests > 0 && a.stats.acknowledged > 0, `${workload}: the mode's clients ran`);
  }
});

t.test('a script sends a mode only its own requests, and is told so at once', async (t) => {
  const hash = new Simulation({ seed: 1, nodes: 3, profile: 'calm', workload: false });
  const hashLines = hash.trace.lines;
  t.throws(() => hash.lockQuery('n1', { kind: 'get', key: 'k' }), /lock requests need machineKind: locks/);
  t.equal(hash.trace.lines, hashLines, 'nothing reached a hash node');
  // A paused node would look at the request only when it resumes: the script hears it now.
  hash.inject({ atMs: hash.nowMs, kind: 'pause', node: 'n2', forMs: 1_000 });
  t.throws(() => hash.lockQuery('n2', { kind: 'get', key: 'k' }), /lock requests need machineKind: locks/);
  const locks = new Simulation({ seed: 1, nodes: 3, profile: 'calm', workload: false, machineKind: 'locks' });
  const lockLines = locks.trace.lines;
  t.throws(() => locks.propose('n1', new Uint8Array([1])), /raw writes are for the hash machine/);
  t.throws(() => locks.read('n1'), /raw reads are for the hash machine/);
  t.equal(locks.trace.lines, lockLines, 'nothing reached a lock node');
});

t.test('a request to a node that is down is refused at once, in both modes', async (t) => {
  // Nobody listens on a crashed node's port: the client learns that nothing happened without
  // waiting (as a refused TCP connection tells it), and may retry elsewhere.
  const hash = new Simulation({ seed: 2, nodes: 3, profile: 'calm', workload: false });
  hash.runFor(1_000);
  hash.inject({ atMs: hash.nowMs, kind: 'crash', node: 'n2', losePageCache: false });
  const write = hash.propose('n2', new Uint8Array([1]));
  t.same(hash.reply(write), { requestId: write, code: 'NOT_LEADER', leader: null }, 'hash: NOT_LEADER, no hint');
  t.equal(hash.lockReply(write), undefined, 'hash: no lock answer for it');

  const locks = new Simulation({ seed: 2, nodes: 3, profile: 'calm', workload: false, machineKind: 'locks' });
  locks.runFor(1_000);
  locks.inject({ atMs: locks.nowMs, kind: 'crash', node: 'n2', losePageCache: false });
  const read = locks.lockQuery('n2', { kind: 'get', key: 'k' });
  t.same(
    locks.lockReply(read),
    { code: 'NOT_LEADER', message: 'connection refused', leader: null, leaderClient: null },
    'locks: NOT_LEADER, connection refused',
  );
  t.equal(locks.reply(read), undefined, 'locks: no host reply for it');
});

t.test('a paused node queues a request and answers it when it resumes', async (t) => {
  const sim = new Simulation({ seed: 3, nodes: 3, profile: 'calm', workload: false });
  const leader = leaderOf(sim);
  // Shorter than an election timeout: the followers wait for it and it still leads when it resumes.
  sim.inject({ atMs: sim.nowMs, kind: 'pause', node: leader, forMs: 80 });
  const id = sim.propose(leader, new Uint8Array([9]));
  sim.runFor(60);
  t.equal(sim.reply(id), undefined, 'no answer while the node is paused');
  const reply = waitFor(sim, `reply to ${id}`, () => sim.reply(id));
  t.equal(reply.code, 'OK', 'the write committed after the node resumed');
  t.equal(sim.leader(), leader, 'and it still leads');
});

t.test('lock mode shows every applied entry once, in log order, on every node', async (t) => {
  const applied = new Map<string, number[]>();
  const sim = new Simulation({
    seed: 5,
    nodes: 3,
    profile: 'calm',
    machineKind: 'locks',
    onLockApplied: (node: string, entry: Entry) => applied.set(node, [...(applied.get(node) ?? []), entry.index]),
  });
  sim.runFor(3_000);
  t.equal(sim.settle(10_000), null, 'settles');
  for (const node of sim.names) {
    const seen = applied.get(node) ?? [];
    const upTo = sim.machine(node)?.applied ?? 0;
    t.ok(upTo > 50, `${node} applied ${upTo} entries`);
    t.same(
      seen,
      Array.from({ length: upTo }, (_, i) => i + 1),
      `${node}: indexes 1..${upTo}, each once`,
    );
  }
});
