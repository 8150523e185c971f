// ServerCore's deterministic behaviour, driven in virtual time by the simulator (a calm network,
// no faults): keepalive batching, grants pushed to waiters, linearizable reads, NOT_LEADER on
// followers, session expiry, and log time that survives leader changes.
import t from 'tap';
import { sessionId } from '../../src/statemachine/ids.js';
import { call, command, leaderOf, lockCluster, openSession, tokenOf, waitFor } from '../sim/fixtures/lock-cluster.js';

t.test(
  'keepalives received in one interval become one keepAliveBatch entry, each answered when it commits',
  async (t) => {
    // docs/statemachine.md, "Sessions": the leader batches keepalives so their cost is one log entry per interval, not one
    // per client; each keepalive is still acknowledged only after its batch commits (Raft §5.3).
    const { sim, applied } = lockCluster(3);
    const leader = leaderOf(sim);
    const sessions = [1, 2, 3, 4].map((i) => openSession(sim, leader, `c${i}`, 5_000));
    const batchesBefore = (applied.get(leader) ?? []).filter((c) => c.type === 'keepAliveBatch').length;
    const ids: string[] = [];
    for (let round = 0; round < 10; round++) for (const s of sessions) ids.push(sim.lockKeepAlive(leader, s));
    const answers = ids.map((id) => waitFor(sim, `keepalive ${id}`, () => sim.lockReply(id)));
    const batches = (applied.get(leader) ?? []).filter((c) => c.type === 'keepAliveBatch');
    t.equal(batches.length - batchesBefore, 1, '40 keepalives cost one log entry');
    const last = batches[batches.length - 1];
    t.same(
      last?.type === 'keepAliveBatch' ? [...last.sessions].sort() : null,
      [...sessions].sort(),
      'the batch names each session once',
    );
    t.ok(
      answers.every((a) => a.code === 'OK' && a.value.kind === 'kept'),
      'every keepalive is answered OK',
    );
  },
);

t.test('a queued acquire is granted to the waiter when the holder releases, and pushed on every node', async (t) => {
  // FIFO handover: the release's entry grants the lock to the head waiter with a larger fencing
  // token; the grant is a notification of that entry, so every replica emits it (no routing).
  const { sim, notifications } = lockCluster(3);
  const leader = leaderOf(sim);
  const a = openSession(sim, leader, 'a', 5_000);
  const b = openSession(sim, leader, 'b', 5_000);
  const first = tokenOf(
    command(sim, leader, 'a', 2, { type: 'acquire', session: a, name: 'm', waitMs: 0, lockDelayMs: 0 }),
  );
  const queued = command(sim, leader, 'b', 2, {
    type: 'acquire',
    session: b,
    name: 'm',
    waitMs: 3_000,
    lockDelayMs: 0,
  });
  t.same(queued.code === 'OK' ? queued.value.kind : queued.code, 'queued', 'b waits');
  t.same(command(sim, leader, 'a', 3, { type: 'release', session: a, name: 'm' }).code, 'OK');
  for (const node of sim.names) {
    const grant = waitFor(sim, `grant push on ${node}`, () =>
      (notifications.get(node) ?? []).find((n) => n.kind === 'granted' && n.session === b && n.name === 'm'),
    );
    t.ok(
      grant.kind === 'granted' && grant.token > first && grant.clientId === 'b' && grant.seq === 2,
      `${node} pushes b's grant with a larger token`,
    );
  }
});

t.test('a read after an acknowledged write sees it, on a follower too (ReadIndex)', async (t) => {
  // Linearizable reads (dissertation §6.4): the read point is the leader's commit index at the
  // time of the read, so a write acknowledged before the read began is visible wherever it runs.
  const { sim } = lockCluster(3);
  const leader = leaderOf(sim);
  const s = openSession(sim, leader, 'w', 5_000);
  const value = new Uint8Array([7, 8, 9]);
  const wrote = command(sim, leader, 'w', 2, {
    type: 'put',
    session: s,
    key: 'k',
    value,
    ifVersion: null,
    ephemeral: false,
    fence: null,
  });
  t.equal(wrote.code, 'OK');
  const follower = sim.names.find((n) => n !== leader) ?? leader;
  for (const node of [leader, follower]) {
    const read = call(sim, node, { kind: 'read', query: { kind: 'get', key: 'k' } });
    t.ok(read.code === 'OK' && read.value.kind === 'key' && read.value.key !== null, `${node} answers the key`);
    if (read.code === 'OK' && read.value.kind === 'key' && read.value.key !== null) {
      t.same([...read.value.key.value], [7, 8, 9], `${node} reads the written value`);
    }
  }
});

t.test('followers answer keepalives and commands with NOT_LEADER naming the leader', async (t) => {
  // Only the leader batches keepalives and accepts proposals (Raft §5.1); a follower's answer
  // carries its leader hint so the client can go there directly.
  const { sim } = lockCluster(3);
  const leader = leaderOf(sim);
  const s = openSession(sim, leader, 'x', 5_000);
  const follower = sim.names.find((n) => n !== leader) ?? leader;
  waitFor(sim, 'follower knows the leader', () => (sim.status(follower)?.leader ?? null) !== null || undefined);
  const kept = call(sim, follower, { kind: 'keepAlive', session: s });
  t.ok(kept.code === 'NOT_LEADER' && kept.leader === leader, 'keepalive at a follower: NOT_LEADER with the leader');
  const cmd = command(sim, follower, 'x', 2, { type: 'acquire', session: s, name: 'm', waitMs: 0, lockDelayMs: 0 });
  t.ok(cmd.code === 'NOT_LEADER' && cmd.leader === leader, 'command at a follower: NOT_LEADER with the leader');
});

t.test('a session expires once keepalives stop, and is pushed as expired', async (t) => {
  // Leases on log time: with no keepalive for ttlMs of log time the session ends, its locks are
  // released and later commands in it are refused.
  const { sim, notifications } = lockCluster(3);
  const leader = leaderOf(sim);
  const s = openSession(sim, leader, 'e', 1_000);
  tokenOf(command(sim, leader, 'e', 2, { type: 'acquire', session: s, name: 'm', waitMs: 0, lockDelayMs: 0 }));
  const opened = sim.nowMs;
  waitFor(
    sim,
    'expiry push',
    () => (notifications.get(leader) ?? []).find((n) => n.kind === 'sessionExpired' && n.session === s),
    5_000,
  );
  t.ok(sim.nowMs - opened >= 900, `not before its TTL (${sim.nowMs - opened}ms)`);
  const info = call(sim, leader, { kind: 'read', query: { kind: 'session', session: s } });
  t.ok(info.code === 'OK' && info.value.kind === 'sessionInfo' && info.value.session === null, 'the session is gone');
  const late = command(sim, leader, 'e', 3, { type: 'acquire', session: s, name: 'm', waitMs: 0, lockDelayMs: 0 });
  t.equal(late.code, 'SESSION_EXPIRED', 'commands in it are refused');
  const locks = call(sim, leader, { kind: 'read', query: { kind: 'locks', prefix: '', limit: 10 } });
  t.ok(locks.code === 'OK' && locks.value.kind === 'locks' && locks.value.locks.length === 0, 'its lock was released');
});

t.test('log time continues across leader changes: repeated elections do not keep a dead session alive', async (t) => {
  // A new leader stamps entries no earlier than the log time it inherited and keeps counting from
  // there; if log time restarted with each leader, a session could outlive its TTL forever.
  const { sim, notifications } = lockCluster(3);
  const first = leaderOf(sim);
  const s = openSession(sim, first, 'd', 1_000);
  const opened = sim.nowMs;
  const leaders = new Set<string>([first]);
  let expiredAt: number | null = null;
  for (let i = 0; i < 16 && expiredAt === null; i++) {
    const current = sim.leader();
    const to = sim.names.find((n) => n !== current) ?? first;
    sim.inject({ atMs: sim.nowMs, kind: 'transfer', to });
    sim.runFor(250);
    const now = sim.leader();
    if (now !== null) leaders.add(now);
    if ((notifications.get(to) ?? []).some((n) => n.kind === 'sessionExpired' && n.session === sessionId(s)))
      expiredAt = sim.nowMs;
  }
  t.ok(leaders.size >= 2, `leadership moved (${[...leaders].join(', ')})`);
  t.not(expiredAt, null, 'the session expired despite the elections');
  t.ok(
    expiredAt !== null && expiredAt - opened < 3_000,
    `within a bounded time (${expiredAt === null ? '-' : expiredAt - opened}ms for a 1000ms TTL)`,
  );
});
