// Lock mode routes every client request through the nodes' request routers
// (src/node/request-router.ts): under leader churn followers forward to the leader, requests wait
// for a leader and some run out their deadline, and every checker still passes.
import t from 'tap';
import { scenarioFromSeed } from '../../src/sim/scenario.js';
import { formatFailure, runSimulation } from '../../src/sim/simulator.js';
import { call, leaderOf, lockCluster } from './fixtures/lock-cluster.js';

t.test('leader churn exercises forwarding, parking and deadlines, and every checker passes', async (t) => {
  const totals = { forwarded: 0, parked: 0, requestsExpired: 0, elections: 0 };
  for (const seed of [1, 2, 3]) {
    const scenario = scenarioFromSeed(seed, 5, 5000, 'elections');
    const outcome = runSimulation({ scenario, replayFrom: { kind: 'seed' }, workload: 'locks' });
    if (!outcome.passed) t.fail(formatFailure(outcome));
    totals.forwarded += outcome.stats.forwarded;
    totals.parked += outcome.stats.parked;
    totals.requestsExpired += outcome.stats.requestsExpired;
    totals.elections += outcome.stats.elections;
  }
  t.ok(totals.elections > 3, `leaders changed (${totals.elections} elections)`);
  t.ok(totals.forwarded > 0, `followers forwarded requests to the leader (${totals.forwarded})`);
  t.ok(totals.parked > 0, `requests waited for a leader (${totals.parked})`);
  t.ok(totals.requestsExpired > 0, `requests were answered UNAVAILABLE at their deadline (${totals.requestsExpired})`);
});

t.test('a scripted request to a follower is answered by its router: NOT_LEADER naming the leader', async (t) => {
  const { sim } = lockCluster(3, 7);
  const leader = leaderOf(sim);
  sim.runFor(200); // the followers hear of the leader with its first append
  const follower = sim.names.find((name) => name !== leader) ?? '';
  const command = { type: 'client', clientId: 'c1', seq: 1, op: { type: 'openSession', ttlMs: 5000 } } as const;
  const open = { kind: 'command', command } as const;
  const result = call(sim, follower, open);
  t.same(result, { code: 'NOT_LEADER', message: `node ${follower} is not the leader`, leader, leaderClient: leader });
  const opened = call(sim, leader, open);
  t.equal(opened.code, 'OK', 'the leader serves it');
});
