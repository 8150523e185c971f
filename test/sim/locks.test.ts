// Locks in the deterministic simulator: the pause hazard and fencing, the clients' safety margin
// under clock drift within the documented bound, and lock checkers that catch what they claim to.
import t from 'tap';
import { LockSafetyChecker } from '../../src/sim/checkers/lock-safety.js';
import { Violation } from '../../src/sim/checkers/violation.js';
import { Simulation } from '../../src/sim/simulation.js';
import { defaultLockMachineConfig } from '../../src/statemachine/config.js';
import { fencingToken, sessionId } from '../../src/statemachine/ids.js';
import type { SessionId } from '../../src/statemachine/ids.js';
import { createLockState } from '../../src/statemachine/state.js';
import type { Operation } from '../../src/statemachine/commands.js';
import { encodeCommand } from '../../src/statemachine/commands.js';
import { LockStateMachine } from '../../src/statemachine/machine.js';
import type { LogIndex, Term } from '../../src/raft/types.js';
import { call, command, leaderOf, lockCluster, openSession, tokenOf, waitFor } from './fixtures/lock-cluster.js';

const driftMax = 0.05;

t.test(
  'pause hazard: a holder paused past its TTL loses the lock, and its old token is refused by a fenced put',
  async (t) => {
    // The classic lease hazard (Chubby §2.4, Kleppmann's fencing tokens): a holder stalls, its
    // session expires, the lock goes to the next waiter with a larger token, and the stalled holder
    // wakes still "holding" it. Fenced writes check the token, so its late write is refused; and a
    // client honouring the safety margin had stopped trusting the lock before anyone else got it.
    const { sim, notifications } = lockCluster(3, 7);
    const leader = leaderOf(sim);
    const ttlMs = 1_000;
    const a = openSession(sim, leader, 'A', ttlMs);
    const t1 = tokenOf(
      command(sim, leader, 'A', 2, { type: 'acquire', session: a, name: 'm', waitMs: 0, lockDelayMs: 0 }),
    );
    const keepaliveSentMs = sim.nowMs;
    const kept = call(sim, leader, { kind: 'keepAlive', session: a });
    t.equal(kept.code, 'OK', "A's keepalive is acknowledged");
    const aTrustsUntilMs = keepaliveSentMs + ttlMs * (1 - 2 * driftMax);
    const b = openSession(sim, leader, 'B', 10_000);
    const storage = openSession(sim, leader, 'S', 10_000);
    const queued = command(sim, leader, 'B', 2, {
      type: 'acquire',
      session: b,
      name: 'm',
      waitMs: 5_000,
      lockDelayMs: 0,
    });
    t.ok(queued.code === 'OK' && queued.value.kind === 'queued', 'B waits for m');

    // A's node (the leader it talks to) stalls for three TTLs; A's keepalives queue up behind it.
    sim.inject({ atMs: sim.nowMs, kind: 'pause', node: leader, forMs: 3 * ttlMs });
    const stalledKeepalive = sim.lockKeepAlive(leader, a);
    const other = sim.names.find((n) => n !== leader) ?? leader;
    const grant = waitFor(sim, 'grant to B', () =>
      (notifications.get(other) ?? []).find((n) => n.kind === 'granted' && n.session === b && n.name === 'm'),
    );
    const grantedAtMs = sim.nowMs;
    const t2 = grant.kind === 'granted' ? grant.token : 0;
    t.ok(t2 > t1, `B's token ${t2} is larger than A's ${t1}`);
    t.ok(
      grantedAtMs >= aTrustsUntilMs,
      `A stopped trusting m at ${aTrustsUntilMs}ms, before B got it at ${grantedAtMs}ms`,
    );
    t.equal(sim.lockReply(stalledKeepalive), undefined, "A's keepalive is still stuck in the paused node");

    // A wakes up and writes with the token it still has.
    waitFor(
      sim,
      'the pause to end',
      () => (sim.nodeState(leader) === 'up' && sim.nowMs >= grantedAtMs + 3 * ttlMs ? true : undefined),
      6 * ttlMs,
    );
    const late = waitFor(sim, "A's late keepalive answer", () => sim.lockReply(stalledKeepalive));
    t.not(late.code, 'OK', `A's stalled keepalive does not revive the session (${late.code})`);
    const now = leaderOf(sim);
    // One write of `data`, fenced with a token of lock m, by a client under its session.
    const fencedPut = (clientId: string, seq: number, session: SessionId, token: number): ReturnType<typeof command> =>
      command(sim, now, clientId, seq, {
        type: 'put',
        session,
        key: 'data',
        value: new Uint8Array([1]),
        ifVersion: null,
        ephemeral: false,
        fence: { lock: 'm', token },
      });
    t.equal(fencedPut('A', 3, a, t1).code, 'SESSION_EXPIRED', "A's own session is gone");
    t.equal(
      fencedPut('S', 2, storage, t1).code,
      'STALE_TOKEN',
      "the storage refuses the write fenced with A's old token",
    );
    t.equal(fencedPut('S', 3, storage, t2).code, 'OK', "and accepts B's");
    const check = call(sim, now, { kind: 'read', query: { kind: 'checkFence', lock: 'm', token: t1 } });
    t.equal(check.code, 'STALE_TOKEN', 'checkFence agrees');
  },
);

t.test(
  'clock drift within the bound never lets two clients that honour the safety margin believe they hold one lock',
  async (t) => {
    // Every node's clock runs up to ±5 % off (the documented bound, driftMax = 0.05) while lock
    // clients come and go, go silent past their TTL and retry; each client trusts its session only
    // until its last acknowledged keepalive's send time + ttlMs × (1 − 2 × driftMax). The lock
    // checker fails the run if a client is told it holds an exclusive lock while another still
    // trusts its own grant of it.
    let beliefs = 0;
    let grants = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const sim = new Simulation({ seed, nodes: 3, profile: 'calm', machineKind: 'locks' });
      sim.names.forEach((node, i) =>
        sim.schedule({ atMs: 0, kind: 'drift', node, ppm: (i % 2 === 0 ? 1 : -1) * driftMax * 1_000_000 }),
      );
      for (let at = 1_000; at < 8_000; at += 1_500)
        sim.schedule({ atMs: at, kind: 'pause', node: sim.names[((at / 1_500) % 3) | 0] ?? 'n1', forMs: 1_800 });
      sim.runUntil(10_000);
      t.equal(sim.settle(10_000), null, `seed ${seed} settles`);
      t.ok(sim.lockChecker.beliefChecks, `seed ${seed}: belief checks stayed on`);
      const stats = sim.collectStats();
      beliefs += stats.beliefsChecked;
      grants += stats.lockGrants;
    }
    t.ok(beliefs > 50, `${beliefs} held beliefs checked against each other`);
    t.ok(grants > 50, `${grants} grants acknowledged`);
  },
);

t.test('clients that trust their session past the TTL are caught believing together', async (t) => {
  // The checker has teeth: clients with a negative margin (trusting 1.5 × TTL) overlap with the
  // next holder once a session expires under them, and the belief check reports it.
  let caught: string | null = null;
  for (let seed = 1; seed <= 30 && caught === null; seed++) {
    const sim = new Simulation({
      seed,
      nodes: 3,
      profile: 'calm',
      machineKind: 'locks',
      lockWorkload: { clients: 6, ttlMs: 1_500, driftMax: -0.25, meanGapMs: 40 },
    });
    try {
      sim.runUntil(10_000);
    } catch (e) {
      if (e instanceof Violation) caught = e.message;
      else throw e;
    }
  }
  t.match(caught ?? '', /^lock-belief: /, `caught: ${caught ?? 'nothing'}`);
});

t.test(
  'the lock checker reports token regressions, divergent grants, double effects, lost acquires and overlapping beliefs',
  async (t) => {
    // Each check on its own, fed a fabricated history, so a silent checker cannot pass the sweeps.
    const state = createLockState(defaultLockMachineConfig);
    const grant = (index: number, session: number, token: number) => ({
      kind: 'event' as const,
      event: { type: 'grant' as const, index, lock: 'm', session: sessionId(session), token: fencingToken(token) },
    });
    const throws = (what: string, checker: string, f: () => void): void => {
      try {
        f();
        t.fail(`${what}: no violation`);
      } catch (e) {
        t.ok(e instanceof Violation && e.checker === checker, `${what}: ${e instanceof Error ? e.message : String(e)}`);
      }
    };
    const c = new LockSafetyChecker();
    c.afterApply('n1', state, [grant(10, 1, 5)]);
    throws('a smaller token later in the log', 'fencing-order', () => c.afterApply('n1', state, [grant(11, 2, 3)]));
    throws('one token granted to two sessions', 'lock-grant', () => c.afterApply('n2', state, [grant(10, 2, 5)]));
    t.equal(c.acknowledgedGrant('m', 5), 10, 'an acknowledged grant is found at its index');
    throws('an acknowledged grant missing from the log', 'lost-acquire', () => c.acknowledgedGrant('m', 99));
    const granted = (token: number) => ({
      code: 'OK' as const,
      value: { kind: 'granted' as const, name: 'm', token: fencingToken(token) },
    });
    c.onAnswer('x', 4, granted(5));
    c.onAnswer('x', 4, granted(5));
    throws('two different answers to one (clientId, seq)', 'exactly-once', () => c.onAnswer('x', 4, granted(6)));
    const put = (version: number) => ({
      code: 'OK' as const,
      value: { kind: 'put' as const, key: 'k', version, createIndex: 3, modifyIndex: 3 + version },
    });
    c.onCommandResult('n1', state, 'y', 7, put(1));
    c.onCommandResult('n1', state, 'y', 7, put(1));
    c.onCommandResult('n2', state, 'y', 7, put(1));
    t.pass('a retry that reached the log again and got the first result back is fine');
    throws('one replica applying (clientId, seq) twice with different effects', 'exactly-once', () =>
      c.onCommandResult('n1', state, 'y', 7, put(2)),
    );
    const opened = (session: number) => ({
      code: 'OK' as const,
      value: { kind: 'session' as const, session: sessionId(session), ttlMs: 1500 },
    });
    c.onCommandResult('n1', state, 'z', 1, opened(20));
    c.onCommandResult('n1', state, 'z', 1, opened(30));
    t.pass('an openSession retried after its first session ended opens another (the client entry went with it)');
    c.believe('a', 'r', 1, false, 0, 1_000);
    c.believe('b', 'r', 2, false, 100, 1_100);
    t.pass('shared holders may overlap');
    throws('an exclusive grant while another client trusts its grant', 'lock-belief', () =>
      c.believe('c', 'r', 3, true, 500, 2_000),
    );
    c.beliefEnded('a', 'r');
    c.beliefEnded('b', 'r');
    c.believe('c', 'r', 3, true, 1_200, 2_000);
    t.pass('after the others ended their beliefs, the next holder is fine');
  },
);

t.test('the FIFO check reports a waiter granted past one queued before it', async (t) => {
  // Real queues from the lock machine, then a fabricated grant: c (queued second) is said to be
  // granted m while b (queued first) still waits. The lock checker must call that a skip.
  const machine = new LockStateMachine();
  let index = 0;
  const run = (clientId: string, seq: number, op: Operation) => {
    index += 1;
    const payload = encodeCommand({ type: 'client', clientId, seq, op });
    return machine.apply({ index: index as LogIndex, term: 1 as Term, logTimeMs: index, payload });
  };
  const a = sessionId(1);
  const b = sessionId(2);
  const c = sessionId(3);
  for (const id of ['a', 'b', 'c']) run(id, 1, { type: 'openSession', ttlMs: 60_000 });
  run('a', 2, { type: 'acquire', session: a, name: 'm', waitMs: 0, lockDelayMs: 0 });
  run('b', 2, { type: 'acquire', session: b, name: 'm', waitMs: 30_000, lockDelayMs: 0 });
  run('c', 2, { type: 'acquire', session: c, name: 'm', waitMs: 30_000, lockDelayMs: 0 });
  const checker = new LockSafetyChecker();
  checker.afterApply('n1', machine.state, []);
  run('c', 3, { type: 'closeSession', session: c });
  const fabricated = {
    kind: 'event' as const,
    event: { type: 'grant' as const, index, lock: 'm', session: c, token: fencingToken(machine.state.lastToken + 1) },
  };
  try {
    checker.afterApply('n1', machine.state, [fabricated]);
    t.fail('no violation');
  } catch (e) {
    t.ok(e instanceof Violation && e.checker === 'lock-fifo', e instanceof Error ? e.message : String(e));
  }
  const honest = new LockSafetyChecker();
  honest.afterApply('n1', machine.state, []);
  const released = run('a', 3, { type: 'release', session: a, name: 'm' });
  honest.afterApply('n1', machine.state, released.notifications);
  t.ok(
    released.notifications.some((n) => n.kind === 'event' && n.event.type === 'grant' && n.event.session === b),
    'the real handover goes to b',
  );
});
