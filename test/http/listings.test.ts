// The listings behind /v1/waitgraph, /v1/locks and /v1/sessions, on a state machine driven
// entry by entry. The wait-for graph's cycles: the state machine refuses a wait that closes a cycle,
// but its search gives up on very long chains (deadlock.ts), so a cycle can exist, and the graph
// must show it.
import t from 'tap';
import { deadlockSearchStepsMax } from '../../src/statemachine/deadlock.js';
import { listLockDetails, listSessions, waitGraph } from '../../src/statemachine/listings.js';
import { Driver } from '../statemachine/fixtures/driver.js';

t.test('the wait-for graph: edges to holders, and a cycle the deadlock search gave up on', async (t) => {
  const d = new Driver();
  const sessions = Array.from({ length: deadlockSearchStepsMax + 10 }, (_, i) => d.open(`c${i}`));
  sessions.forEach((session, i) =>
    d.op(`c${i}`, { type: 'acquire', session, name: `l${i}`, waitMs: 0, lockDelayMs: 0 }),
  );
  // A chain: each session waits for the next one's lock, and the last for the first's.
  sessions.forEach((session, i) => {
    const next = `l${(i + 1) % sessions.length}`;
    const result = d.op(`c${i}`, { type: 'acquire', session, name: next, waitMs: 60_000, lockDelayMs: 0 });
    if (result.code !== 'OK') t.fail(`session ${session} could not wait for ${next}: ${JSON.stringify(result)}`);
  });
  const graph = waitGraph(d.state, () => true);
  t.equal(graph.edges.length, sessions.length);
  t.same(
    graph.edges.find((e) => e.lock === 'l1'),
    { session: sessions[0], lock: 'l1', heldBy: [sessions[1]] },
  );
  t.equal(graph.cycles.length, 1, 'one cycle');
  const cycle = graph.cycles[0] ?? [];
  t.equal(cycle.length, sessions.length, 'through every session');
  const broken = cycle.filter((step, i) => {
    const next = cycle[(i + 1) % cycle.length];
    return next === undefined || d.state.locks.get(step.lock)?.holders.has(next.session) !== true;
  });
  t.same(broken, [], "each step's lock is held by the next step's session");
  const visible = waitGraph(d.state, (name) => name !== 'l5');
  t.equal(visible.cycles.length, 0, 'a lock the caller may not see breaks the cycle it can see');
  t.equal(visible.edges.length, sessions.length - 1);
});

t.test('locks with hold and wait times, sessions by page', async (t) => {
  const d = new Driver();
  const a = d.open('a');
  const b = d.open('b', 5000);
  d.op('a', { type: 'acquire', session: a, name: 'x', waitMs: 0, lockDelayMs: 0 });
  d.op('b', { type: 'acquire', session: b, name: 'x', waitMs: 10_000, lockDelayMs: 0 }, 250);
  d.tick(500);
  const [x] = listLockDetails(d.state, '', 10, () => true);
  t.match(x, { name: 'x', holders: [{ session: a, heldForMs: 750 }], waiters: [{ session: b, waitedForMs: 500 }] });
  t.notOk(x !== undefined && 'lastToken' in (x.holders[0] ?? {}), 'one turn: no last token');
  d.op('a', { type: 'acquire', session: a, name: 'run', waitMs: 0, lockDelayMs: 0 });
  d.op('a', { type: 'handoff', session: a, name: 'run', waitMs: 0, lockDelayMs: 0, turns: 3 });
  const [run] = listLockDetails(d.state, 'run', 10, () => true);
  const first = run?.holders[0]?.token ?? 0;
  t.same(
    run?.holders.map((h) => [h.token, h.lastToken]),
    [[first, first + 2]],
    'a run of 3 turns: one hold, with its last reserved token',
  );
  const all = listSessions(d.state, 0, 10, () => true);
  t.same(
    all.map((s) => s.session),
    [a, b],
  );
  t.equal(all[1]?.expiresInMs, 5000 - 750, "log time left of b's TTL");
  t.same(
    listSessions(d.state, a, 10, () => true).map((s) => s.session),
    [b],
    'after the cursor',
  );
  t.same(
    listSessions(d.state, 0, 10, (owner) => owner !== null),
    [],
    'only those visible',
  );
});
