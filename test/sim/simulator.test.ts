// The simulator runs the production NodeHost and Raft core under faults and checks Raft's safety
// properties after every event (Raft §5.2–§5.4; dissertation §3). These tests prove that it is
// deterministic, that its checkers catch broken behaviour, that acknowledged writes survive
// crashes with power loss, that a far-behind follower catches up by InstallSnapshot (§7), that
// every kept regression scenario still passes, that failures name their seed and replay, and that
// the pure folders stay free of clocks, randomness, timers, sockets and files.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import type { Message } from '../../src/raft/messages.js';
import type { RaftStatus } from '../../src/raft/status.js';
import type { Entry, HardState, LogIndex, Term } from '../../src/raft/types.js';
import { RaftSafetyChecker } from '../../src/sim/checkers/raft-safety.js';
import { StateMachineSafetyChecker } from '../../src/sim/checkers/state-machine-safety.js';
import { Violation } from '../../src/sim/checkers/violation.js';
import { encodeEnvelope } from '../../src/node/envelope.js';
import { parseScenario, scenarioFromSeed, stringifyScenario } from '../../src/sim/scenario.js';
import { Simulation } from '../../src/sim/simulation.js';
import { formatFailure, runSimulation } from '../../src/sim/simulator.js';
import { tracedCalmCluster } from './fixtures/traced-cluster.js';

t.test('one seed twice gives the same trace hash; another seed does not', async (t) => {
  const run = (seed: number) =>
    runSimulation({ scenario: scenarioFromSeed(seed, 5, 3000, 'swarm'), replayFrom: { kind: 'seed' } });
  const a = run(7);
  const b = run(7);
  const c = run(8);
  t.ok(a.passed, 'seed 7 passes');
  t.equal(a.traceHash, b.traceHash, 'same seed, same trace');
  t.same(a.stats, b.stats, 'same seed, same counters');
  t.not(a.traceHash, c.traceHash, 'another seed, another trace');
});

const status = (role: RaftStatus['role'], termValue: number): RaftStatus => ({
  id: 'x' as RaftStatus['id'],
  role,
  term: termValue as Term,
  vote: null,
  leader: null,
  commit: 0 as LogIndex,
  applied: 0 as LogIndex,
  firstIndex: 1 as LogIndex,
  lastIndex: 0 as LogIndex,
  snapshotIndex: 0 as LogIndex,
  conf: { voters: [], learners: [] },
  pendingConfIndex: 0 as LogIndex,
  transferringTo: null,
  progress: [],
});
const cmd = (index: number, termValue: number, byte: number, timeMs = 0): Entry => ({
  index: index as LogIndex,
  term: termValue as Term,
  kind: 'command',
  data: encodeEnvelope(timeMs, new Uint8Array([byte])),
});
const write = (entries: Entry[]) => ({ seq: 1, hardState: null, entries, snapshot: null, sync: true });

t.test('the checkers catch each broken invariant', async (t) => {
  const canon = new StateMachineSafetyChecker();
  const raft = new RaftSafetyChecker(canon);
  raft.onStatus('n1', status('leader', 3));
  t.throws(() => raft.onStatus('n2', status('leader', 3)), Violation, 'two leaders in one term (§5.2)');
  t.throws(() => raft.onStatus('n1', status('follower', 2)), Violation, 'a term going back');

  const hs = (termValue: number, vote: string): HardState => ({
    term: termValue as Term,
    vote: vote as HardState['vote'],
    commit: 0 as LogIndex,
  });
  raft.onDurableHardState('n3', hs(4, 'n1'));
  t.throws(() => raft.onDurableHardState('n3', hs(4, 'n2')), Violation, 'two votes in one term, even across a restart');

  raft.onWrite('n4', write([cmd(1, 1, 1), cmd(2, 1, 2)]), 1);
  t.throws(
    () => raft.onWrite('n5', write([cmd(1, 1, 1), cmd(2, 1, 9)]), 1),
    Violation,
    'same index and term, different entry (§5.3)',
  );

  const leaderLog = new RaftSafetyChecker(canon);
  leaderLog.onStatus('n1', status('leader', 5));
  leaderLog.onWrite('n1', write([cmd(1, 5, 1), cmd(2, 5, 2)]), 5);
  t.throws(() => leaderLog.onWrite('n1', write([cmd(2, 4, 3)]), 5), Violation, 'a leader overwriting its own entry');

  const sm = new StateMachineSafetyChecker();
  sm.onApplied('n1', cmd(1, 1, 1), 10, 111);
  t.throws(
    () => sm.onApplied('n2', cmd(1, 2, 1), 10, 111),
    Violation,
    'different entries applied at one index (§5.4.3)',
  );
  const sm2 = new StateMachineSafetyChecker();
  sm2.onApplied('n1', cmd(1, 1, 1), 10, 111);
  t.throws(() => sm2.onApplied('n2', cmd(1, 1, 1), 10, 222), Violation, 'replica states differ at one index');
  sm2.onApplied('n1', cmd(2, 1, 1), 20, 333);
  t.throws(() => sm2.onApplied('n1', cmd(3, 1, 1), 15, 444), Violation, 'log time going back');

  // Figure 2's persistent state: a node restarts with at least the term, and in it the vote, its
  // completed writes hold; a vote goes out only once durable, and only once per term.
  const restarts = new RaftSafetyChecker(canon);
  restarts.onDurableHardState('n1', hs(6, 'n2'));
  restarts.onRestart('n1', false);
  t.throws(
    () => restarts.onStatus('n1', status('follower', 5)),
    /term-monotonic: n1 restarted in term 5/,
    'a restart that forgot the term',
  );
  restarts.onRestart('n1', false);
  t.throws(
    () => restarts.onStatus('n1', status('follower', 6)),
    /vote-once: n1 restarted in term 6 with vote none/,
    'a restart that forgot the vote',
  );
  restarts.onRestart('n1', false);
  restarts.onStatus('n1', { ...status('follower', 6), vote: 'n2' as RaftStatus['vote'] });
  restarts.onStatus('n1', status('follower', 7));
  t.pass('a restart with its durable term and vote, then a later term, is fine');
  const grant = (from: string, to: string, termValue: number): Message => ({
    type: 'RequestVoteResponse',
    from: from as Message['from'],
    to: to as Message['to'],
    term: termValue as Term,
    preVote: false,
    granted: true,
  });
  const votes = new RaftSafetyChecker(canon);
  t.throws(
    () => votes.onMessage('n3', grant('n3', 'n1', 2)),
    /persist-before-send/,
    'a vote sent before its write completed',
  );
  votes.onDurableHardState('n3', hs(2, 'n1'));
  votes.onMessage('n3', grant('n3', 'n1', 2));
  votes.onMessage('n3', grant('n3', 'n1', 2));
  t.pass('the durable vote, sent twice (a duplicate request), is fine');
  votes.onDurableHardState('n3', hs(3, 'n2'));
  votes.onMessage('n3', grant('n3', 'n1', 2));
  t.pass('a vote of an earlier term, sent after a later term became durable, promises nothing more');
  votes.onDurableHardState('n4', hs(2, 'n1'));
  votes.onMessage('n4', grant('n4', 'n1', 2));
  votes.onDurableHardState('n4', hs(3, 'n4'));
  t.throws(
    () => votes.onMessage('n4', grant('n4', 'n5', 2)),
    /vote-once: n4 granted its vote in term 2 to n1 and then to n5/,
    'two grants in one term, whatever the disk says',
  );

  const completeness = new StateMachineSafetyChecker();
  completeness.onApplied('n1', cmd(1, 1, 1), 0, 1);
  completeness.onApplied('n1', cmd(2, 1, 2), 0, 2);
  const rc = new RaftSafetyChecker(completeness);
  rc.onStatus('n2', status('leader', 2));
  t.throws(
    () => rc.onWrite('n2', write([cmd(1, 1, 1), cmd(2, 2, 7)]), 2),
    Violation,
    'a leader without a committed entry (§5.4.1)',
  );
});

t.test('acknowledged writes survive leader crashes with power loss', async (t) => {
  const sim = new Simulation({ seed: 11, nodes: 3, profile: 'calm', workload: false, snapshotEntries: 50 });
  sim.runFor(1000);
  const acked: string[] = [];
  for (let round = 0; round < 4; round++) {
    const leader = sim.leader();
    t.ok(leader, `a leader before round ${round}`);
    if (leader === null) return;
    const ids = Array.from({ length: 40 }, (_, i) => sim.propose(leader, new Uint8Array([round, i])));
    sim.runFor(300);
    for (const id of ids) if (sim.reply(id)?.code === 'OK') acked.push(id);
    sim.inject({ atMs: sim.nowMs, kind: 'crash', node: leader, losePageCache: true });
    sim.runFor(700);
    sim.inject({ atMs: sim.nowMs, kind: 'restart', node: leader });
    sim.runFor(300);
  }
  t.ok(acked.length >= 100, `most writes acknowledged (${acked.length})`);
  t.equal(sim.settle(10_000), null, 'the cluster settles');
  const indexes = acked.map((id) => {
    const r = sim.reply(id);
    return r?.code === 'OK' ? r.index : 0;
  });
  const top = Math.max(...indexes);
  for (const name of sim.names)
    t.ok((sim.machine(name)?.applied ?? 0) >= top, `${name} applied every acknowledged write`);
  const hashes = new Set(sim.names.map((n) => sim.machine(n)?.hash));
  t.equal(hashes.size, 1, 'replicas agree');
  t.equal(sim.stats.crashes, 4);
});

t.test('deferred snapshots: a crash discards the pending completion; the restarted node snapshots again', async (t) => {
  // The snapshot a node asked for belongs to that incarnation only: after a crash its state is
  // rebuilt from disk (Raft §7, snapshot plus log), and a completion for the old incarnation must
  // never reach the new one. Checkers run after every event; the cluster must settle afterwards.
  const cluster = tracedCalmCluster(t, 4, 30);
  if (cluster === undefined) return;
  const { sim, lines, leader } = cluster;
  let crashed: { node: string; index: string } | null = null;
  for (let round = 0; round < 200 && crashed === null; round++) {
    const seen = lines.length;
    for (let i = 0; i < 5; i++) sim.propose(leader, new Uint8Array([round & 0xff, i]));
    sim.runFor(2);
    for (const line of lines.slice(seen)) {
      // Only a completion that is still on its way (due later than now) can be discarded.
      const m = / (n\d) snapshot requested at (\d+) \(back in (\d+)ms\)/.exec(line);
      if (m === null || m[1] === leader || Number(m[3]) < 10 || crashed !== null) continue;
      crashed = { node: m[1] as string, index: m[2] as string };
      sim.inject({ atMs: sim.nowMs, kind: 'crash', node: crashed.node, losePageCache: false });
    }
  }
  if (crashed === null) {
    t.fail('no follower asked for a snapshot');
    return;
  }
  sim.runFor(1500);
  const { node, index } = crashed;
  t.ok(
    lines.some((l) => l.includes(`${node} snapshot at ${index} dropped: its incarnation is gone`)),
    `the completion for ${node}'s snapshot at ${index} was discarded`,
  );
  sim.inject({ atMs: sim.nowMs, kind: 'restart', node });
  for (let i = 0; i < 100; i++) sim.propose(leader, new Uint8Array([0xee, i]));
  t.equal(sim.settle(10_000), null, 'the cluster settles');
  // Completions still on their way when it settled (they may take ten election timeouts).
  sim.runFor(1500);
  const after = lines.findIndex((l) => l.includes(`${node} up (incarnation 2`));
  t.ok(
    after >= 0 && lines.slice(after).some((l) => new RegExp(`${node} snapshot at \\d+ taken`).test(l)),
    'the restarted node takes snapshots again',
  );
  t.ok(sim.stats.snapshotsTaken > 0);
  const hashes = new Set(sim.names.map((n) => sim.machine(n)?.hash));
  t.equal(hashes.size, 1, 'replicas agree');
});

t.test('a follower 100,000 entries behind catches up through InstallSnapshot (§7)', async (t) => {
  const sim = new Simulation({ seed: 5, nodes: 3, profile: 'calm', workload: false, snapshotEntries: 5000 });
  sim.runFor(1000);
  const leader = sim.leader();
  if (leader === null) {
    t.fail('no leader');
    return;
  }
  const behind = sim.names.find((n) => n !== leader) ?? 'n1';
  sim.inject({ atMs: sim.nowMs, kind: 'crash', node: behind, losePageCache: false });
  let last = '';
  for (let batch = 0; batch < 100; batch++) {
    for (let i = 0; i < 1000; i++) last = sim.propose(leader, new Uint8Array([batch & 0xff, i & 0xff]));
    sim.runFor(20);
  }
  sim.runFor(500);
  t.equal(sim.reply(last)?.code, 'OK', 'the last of 100,000 writes committed without the follower');
  const leaderApplied = sim.machine(leader)?.applied ?? 0;
  t.ok(leaderApplied >= 100_000, `leader applied ${leaderApplied}`);
  const restoredBefore = sim.stats.snapshotsInstalled;
  sim.inject({ atMs: sim.nowMs, kind: 'restart', node: behind });
  t.equal(sim.settle(20_000), null, 'the cluster settles');
  t.ok(sim.stats.snapshotsInstalled > restoredBefore, 'the follower installed a snapshot');
  t.equal(sim.machine(behind)?.hash, sim.machine(leader)?.hash, 'and reached the same state');
  t.ok((sim.machine(behind)?.applied ?? 0) >= leaderApplied, 'with everything applied');
});

t.test('every kept regression scenario passes', async (t) => {
  const dir = new URL('./regressions/', import.meta.url);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  t.ok(files.length >= 1, 'the regression folder is not empty');
  const kinds = new Set<string>();
  for (const file of files) {
    const parsed = parseScenario(readFileSync(new URL(file, dir), 'utf8'));
    t.ok(parsed.ok, `${file} parses`);
    if (!parsed.ok) continue;
    for (const e of parsed.value.events) kinds.add(e.kind);
    const outcome = runSimulation({
      scenario: parsed.value,
      replayFrom: { kind: 'file', path: `test/sim/regressions/${file}` },
    });
    t.ok(outcome.passed, outcome.passed ? file : formatFailure(outcome));
  }
  t.equal(kinds.size, 19, 'together they exercise every fault kind');
});

t.test('a failure names its seed and one replay command; scenarios round-trip', async (t) => {
  const scenario = scenarioFromSeed(42, 3, 500, 'calm');
  const outcome = runSimulation({ scenario, replayFrom: { kind: 'seed' }, livenessTimeouts: 0 });
  t.notOk(outcome.passed, 'no time to settle: a liveness failure');
  if (outcome.passed) return;
  t.equal(outcome.kind, 'liveness');
  t.equal(outcome.replay, 'npx raftlock sim --seed 42 --nodes 3 --duration 500ms --profile calm');
  const text = formatFailure(outcome);
  t.match(text, /seed 42/);
  t.match(text, /replay: npx raftlock sim --seed 42/);
  const fromFile = runSimulation({ scenario, replayFrom: { kind: 'file', path: 'x.json' }, livenessTimeouts: 0 });
  t.ok(!fromFile.passed && fromFile.replay === 'npx raftlock sim --scenario x.json');

  const swarm = scenarioFromSeed(9, 5, 20_000, 'swarm');
  const back = parseScenario(stringifyScenario(swarm));
  t.ok(back.ok);
  if (back.ok) t.same(back.value, swarm, 'stringify then parse is the identity');
  const bad = parseScenario(
    '{"seed":1,"nodes":3,"durationMs":5,"profile":"calm","events":[{"atMs":1,"kind":"crash","node":"n1"}]}',
  );
  t.same(bad, { ok: false, error: 'events[0].losePageCache: expected a boolean' }, 'errors name the field');
});

// The CLI's durations read the way people write them; anything else is refused, not guessed.
t.test('durations: 500ms, 60s, 2m; a bare number is refused as everywhere else', async (t) => {
  const { parseDurationMs } = await import('../../src/cli/sim.js');
  t.equal(parseDurationMs('500ms'), 500);
  t.equal(parseDurationMs('60s'), 60_000);
  t.equal(parseDurationMs('2m'), 120_000);
  t.equal(parseDurationMs('1.5s'), 1500);
  t.throws(() => parseDurationMs('5'), /with a unit, like 500ms/, 'sim --duration 5 would have meant 5 ms');
  t.throws(() => parseDurationMs('5x'));
  t.throws(() => parseDurationMs('-1s'));
});

// A state machine under test plugs in with its own invariants (the lock machine's "one exclusive
// holder"), checked on every replica after every applied entry.
t.test('a plugged-in state machine and its invariants are checked after every apply', async (t) => {
  const { HashMachine } = await import('../../src/sim/hash-machine.js');
  class Fussy extends HashMachine {
    invariants(): readonly string[] {
      return this.applied >= 5 ? ['five commands is too many'] : [];
    }
  }
  const sim = new Simulation({
    seed: 3,
    nodes: 3,
    profile: 'calm',
    createMachine: () => new Fussy(),
    payload: () => new Uint8Array([42]),
  });
  t.throws(() => sim.runFor(5000), /state-machine-invariants: n\d after \d+: five commands is too many/);
});

// End to end: a core that never asks for fsync (so a power cut can take back a vote it already
// sent, breaking Raft Figure 2's "persist before responding") is caught by the checkers.
t.test('a Raft core that skips fsync is caught, with its seed and replay command', async (t) => {
  const { createRaftNode } = await import('../../src/raft/node.js');
  const { scenarioFromSeed: fromSeed } = await import('../../src/sim/scenario.js');
  const noSync: typeof createRaftNode = (config, persisted, rng) => {
    const core = createRaftNode(config, persisted, rng);
    const ready = core.ready.bind(core);
    const advance = core.advance.bind(core);
    let handedOut: ReturnType<typeof core.ready> | null = null;
    core.ready = () => {
      handedOut = ready();
      return { ...handedOut, mustSync: false };
    };
    core.advance = () => {
      if (handedOut !== null) advance(handedOut);
    };
    return core;
  };
  const caught: Extract<ReturnType<typeof runSimulation>, { passed: false }>[] = [];
  for (let seed = 1; seed <= 5 && caught.length === 0; seed++) {
    const outcome = runSimulation({
      scenario: fromSeed(seed, 5, 10_000, 'swarm'),
      createRaft: noSync,
      replayFrom: { kind: 'seed' },
    });
    if (!outcome.passed) caught.push(outcome);
  }
  const first = caught[0];
  t.ok(first, 'caught within five seeds');
  if (first === undefined) return;
  t.equal(first.kind, 'correctness');
  t.match(
    first.message,
    /term-monotonic|vote-once|persist-before-send|election-safety|state-machine-safety|durability/,
  );
  t.match(
    formatFailure(first),
    new RegExp(`seed ${first.seed}[\\s\\S]*replay: npx raftlock sim --seed ${first.seed} --nodes 5`),
  );
});
