// The request router (src/node/request-router.ts) with a fake clock and fake links: what happens to
// a request this node's core refuses with NOT_LEADER (forward, park, redirect), how failed forwards
// are retried, and that every request is answered exactly once, at its deadline at the latest.
import t from 'tap';
import type { WireResult } from '../../src/protocol/client-protocol.js';
import { nodeId } from '../../src/raft/types.js';
import type { NodeId } from '../../src/raft/types.js';
import type { AnswerSource, RouteOptions, RouterLinks, RouteTicket } from '../../src/node/request-router.js';
import { RequestRouter } from '../../src/node/request-router.js';

const n1 = nodeId('n1');
const n2 = nodeId('n2');
const n3 = nodeId('n3');

interface Req {
  readonly name: string;
  open: boolean;
}

const ok: WireResult = { code: 'OK', value: { kind: 'released', name: 'm0' } };
const notLeader = (leader: NodeId | null): WireResult => ({
  code: 'NOT_LEADER',
  message: 'not the leader',
  leader,
  leaderClient: null,
});
const forward: RouteOptions = { redirect: false, localOnly: false };

/** A node (n1) of n1..n3 whose clock, leader and links the test moves by hand. */
function harness(timeoutMs = 1000, retryDelayMs = 50) {
  const world = {
    nowMs: 0,
    leader: null as NodeId | null,
    stopped: false,
    submitted: [] as { ticket: RouteTicket; name: string }[],
    forwards: [] as { ticket: RouteTicket; leader: NodeId; name: string }[],
    answers: [] as { name: string; result: WireResult; source: AnswerSource }[],
  };
  const links: RouterLinks<Req> = {
    leader: () => world.leader,
    canForwardTo: (node) => node === n2 || node === n3,
    clientAddress: (node) => `${node}.example:7000`,
    isOpen: (r) => r.open,
    submitLocal: (ticket, r) => world.submitted.push({ ticket, name: r.name }),
    forward: (ticket, leader, r) => world.forwards.push({ ticket, leader, name: r.name }),
    answer: (r, result, source) => world.answers.push({ name: r.name, result, source }),
    isStopped: () => world.stopped,
  };
  const router = new RequestRouter<Req>({ self: n1, requestTimeoutMs: timeoutMs, retryDelayMs }, links);
  const lastSubmitted = (): RouteTicket => {
    const s = world.submitted.at(-1);
    if (s === undefined) throw new Error('nothing submitted');
    return s.ticket;
  };
  /** Admits a request that the local core then refuses with NOT_LEADER naming `leader`. */
  const refusedLocally = (
    name: string,
    leader: NodeId | null,
    { options = forward, atMs = 0 }: { options?: RouteOptions; atMs?: number } = {},
  ): RouteTicket => {
    const ticket = router.admit({ name, open: true }, options, 0);
    router.localAnswered(ticket, notLeader(leader), atMs);
    return ticket;
  };
  return { world, router, lastSubmitted, refusedLocally };
}

t.test('the local core answers: that is the answer, an outcome', async (t) => {
  const { world, router } = harness();
  const ticket = router.admit({ name: 'a', open: true }, forward, 0);
  t.same(world.submitted, [{ ticket, name: 'a' }], 'handed to the core first');
  router.localAnswered(ticket, ok, 5);
  t.same(world.answers, [{ name: 'a', result: ok, source: 'outcome' }]);
  t.equal(router.pending, 0);
});

t.test('a follower forwards to the known leader and relays its answer', async (t) => {
  const { world, router, refusedLocally } = harness();
  world.leader = n2;
  const ticket = refusedLocally('a', n2, { atMs: 1 });
  t.same(world.forwards, [{ ticket, leader: n2, name: 'a' }]);
  t.same(world.answers, [], 'not answered while forwarded');
  router.forwardAnswered(ticket, ok, 3);
  t.same(world.answers, [{ name: 'a', result: ok, source: 'outcome' }]);
  router.forwardAnswered(ticket, ok, 4);
  t.equal(world.answers.length, 1, 'a second answer from the leader is ignored');
});

t.test('the core hint wins over the status leader; no hint falls back to it', async (t) => {
  const { world, refusedLocally } = harness();
  world.leader = n3;
  refusedLocally('a', n2);
  refusedLocally('b', null);
  t.same(
    world.forwards.map((f) => [f.name, f.leader]),
    [
      ['a', n2],
      ['b', n3],
    ],
  );
});

t.test('with no leader the request is parked and submitted again once one is known', async (t) => {
  const { world, router, refusedLocally } = harness();
  const ticket = refusedLocally('a', null);
  router.tick(100);
  t.equal(world.submitted.length, 1, 'still parked while there is no leader');
  world.leader = n1;
  router.tick(200);
  t.equal(world.submitted.length, 2, 'submitted to the core again once a leader is known');
  t.equal(world.submitted[1]?.ticket, ticket, 'the same request');
  router.localAnswered(ticket, ok, 201);
  t.same(world.answers, [{ name: 'a', result: ok, source: 'outcome' }]);
});

t.test('a leader this node cannot reach, or itself, parks the request too; so does a read', async (t) => {
  const { world, router, refusedLocally } = harness();
  refusedLocally('self', n1);
  refusedLocally('unknown', nodeId('n9'));
  refusedLocally('read', n2, { options: { redirect: false, localOnly: true } });
  t.same(world.forwards, [], 'nothing forwarded');
  t.equal(router.stats.parked, 3);
  t.equal(router.pending, 3);
});

t.test('a redirect client is answered NOT_LEADER with the leader and its client address', async (t) => {
  const { world, refusedLocally } = harness();
  refusedLocally('a', n2, { options: { redirect: true, localOnly: false } });
  t.same(world.forwards, []);
  t.same(world.answers, [
    {
      name: 'a',
      result: { code: 'NOT_LEADER', message: 'node n1 is not the leader', leader: n2, leaderClient: 'n2.example:7000' },
      source: 'refusal',
    },
  ]);
  refusedLocally('b', null, { options: { redirect: true, localOnly: false } });
  const answer = world.answers[1]?.result;
  const noLeader = { code: 'NOT_LEADER', message: 'node n1 is not the leader', leader: null, leaderClient: null };
  t.same(answer, noLeader, 'no leader: no address');
});

t.test('a parked request past its deadline: UNAVAILABLE once, not resubmitted by a late leader', async (t) => {
  const { world, router, refusedLocally } = harness(1000);
  refusedLocally('a', null, { atMs: 10 });
  router.tick(999);
  t.same(world.answers, [], 'waits until the deadline');
  router.tick(1000);
  t.equal(world.answers.length, 1);
  const expired = { code: 'UNAVAILABLE', message: /no leader within the request timeout/ };
  t.match(world.answers[0], { name: 'a', source: 'refusal', result: expired });
  world.leader = n1;
  router.tick(1001);
  router.tick(5000);
  t.equal(world.answers.length, 1, 'answered exactly once');
  t.equal(world.submitted.length, 1, 'never resubmitted after its answer');
  t.equal(router.pending, 0);
});

t.test('a forwarded request the leader never answers is answered UNAVAILABLE at its deadline', async (t) => {
  const { world, router, refusedLocally } = harness(1000);
  world.leader = n2;
  const ticket = refusedLocally('a', n2);
  router.tick(999);
  t.same(world.answers, []);
  router.tick(1000);
  const unknown = { code: 'UNAVAILABLE', message: /n2 did not answer in time; the outcome is unknown/ };
  t.match(world.answers, [{ name: 'a', source: 'outcome', result: unknown }]);
  router.forwardAnswered(ticket, ok, 1200);
  t.equal(world.answers.length, 1, 'the late answer from the leader is ignored');
});

t.test('the leader changes mid-forward: the request is retried after the delay, through the new leader', async (t) => {
  const { world, router, lastSubmitted, refusedLocally } = harness(1000, 50);
  world.leader = n2;
  const ticket = refusedLocally('a', n2);
  world.leader = n3;
  router.forwardAnswered(ticket, notLeader(n3), 100);
  t.same(world.answers, [], 'not answered: retried');
  router.tick(149);
  t.equal(world.submitted.length, 1, 'not before the retry delay');
  router.tick(150);
  t.equal(world.submitted.length, 2, 'submitted here again (this node may lead by now)');
  router.localAnswered(lastSubmitted(), notLeader(n3), 150);
  t.same(
    world.forwards.map((f) => f.leader),
    [n2, n3],
    'then forwarded to the new leader',
  );
  router.forwardAnswered(ticket, ok, 160);
  t.same(world.answers, [{ name: 'a', result: ok, source: 'outcome' }]);
});

t.test('an unreachable leader (UNAVAILABLE) is retried too, until the deadline leaves no room', async (t) => {
  const { world, router, refusedLocally } = harness(1000, 50);
  world.leader = n2;
  const ticket = refusedLocally('a', n2);
  router.forwardAnswered(ticket, { code: 'UNAVAILABLE', message: 'leader n2 is unreachable' }, 940);
  t.same(world.answers, [], '940 + 50 < 1000: retried');
  router.tick(990);
  router.localAnswered(ticket, notLeader(n2), 990);
  router.forwardAnswered(ticket, { code: 'UNAVAILABLE', message: 'leader n2 is unreachable' }, 1000);
  const unreachable = { code: 'UNAVAILABLE', message: 'leader n2 is unreachable' };
  const final = [{ name: 'a', result: unreachable, source: 'outcome' }];
  t.same(world.answers, final, 'no room: the leader answer is the answer');
});

t.test('a NOT_LEADER from the leader with no room left becomes UNAVAILABLE (no stable leader)', async (t) => {
  const { world, router, refusedLocally } = harness(100, 50);
  world.leader = n2;
  const ticket = refusedLocally('a', n2);
  router.forwardAnswered(ticket, notLeader(n3), 60);
  const unsettled = { code: 'UNAVAILABLE', message: 'no stable leader in time; retry' };
  t.same(world.answers, [{ name: 'a', result: unsettled, source: 'outcome' }]);
});

t.test('a stopped node answers a failed forward instead of retrying it', async (t) => {
  const { world, router, refusedLocally } = harness();
  world.leader = n2;
  const ticket = refusedLocally('a', n2);
  world.stopped = true;
  router.forwardAnswered(ticket, { code: 'UNAVAILABLE', message: 'this node is shutting down' }, 1);
  const stopping = { code: 'UNAVAILABLE', message: 'this node is shutting down' };
  t.same(world.answers, [{ name: 'a', result: stopping, source: 'outcome' }]);
});

t.test('stop answers every parked request; abort answers one wherever it is', async (t) => {
  const { world, router, refusedLocally } = harness();
  refusedLocally('a', null);
  const b = router.admit({ name: 'b', open: true }, forward, 0);
  router.abort(b, { code: 'UNAVAILABLE', message: 'write failed' });
  router.abort(b, { code: 'UNAVAILABLE', message: 'write failed' });
  router.stop('this node is shutting down');
  t.same(world.answers, [
    { name: 'b', result: { code: 'UNAVAILABLE', message: 'write failed' }, source: 'refusal' },
    { name: 'a', result: { code: 'UNAVAILABLE', message: 'this node is shutting down' }, source: 'refusal' },
  ]);
  router.tick(10_000);
  t.equal(world.answers.length, 2, 'nothing answered twice');
  const c = refusedLocally('c', null);
  router.abort(c, { code: 'UNAVAILABLE', message: 'write failed' });
  world.leader = n1;
  router.tick(20_000);
  t.equal(world.answers.length, 3, 'a parked request aborted is not answered again at its deadline');
  t.equal(world.submitted.length, 3, 'nor submitted again');
  t.equal(router.pending, 0);
});

t.test('a request whose client went away is dropped unanswered, not submitted or forwarded', async (t) => {
  const { world, router } = harness();
  const gone: Req = { name: 'gone', open: true };
  const ticket = router.admit(gone, forward, 0);
  gone.open = false;
  router.localAnswered(ticket, notLeader(n2), 0);
  t.same(world.forwards, []);
  const parked: Req = { name: 'parked', open: true };
  const p = router.admit(parked, forward, 0);
  router.localAnswered(p, notLeader(null), 0);
  parked.open = false;
  world.leader = n1;
  router.tick(10);
  t.equal(world.submitted.length, 2, 'the closed parked request is not submitted again');
  t.same(world.answers, []);
  t.equal(router.stats.dropped, 2);
  t.equal(router.pending, 0);
});

t.test('a core answer for a request the router is not holding at the core is a broken contract', async (t) => {
  const { world, router, refusedLocally } = harness();
  world.leader = n2;
  const ticket = router.admit({ name: 'a', open: true }, forward, 0);
  router.localAnswered(ticket, ok, 0);
  t.throws(() => router.localAnswered(ticket, ok, 0), /not open in the router/, 'answered twice by the core');
  const forwarded = refusedLocally('b', n2);
  t.throws(() => router.localAnswered(forwarded, ok, 0), /answered by the core while forwarded/);
  t.equal(world.answers.length, 1);
});

t.test('a request held back on its way to the core (hashing a password) resumes unless its client left', async (t) => {
  const { world, router } = harness();
  const held = router.admit({ name: 'held', open: true }, forward, 0);
  router.resume(held);
  t.same(
    world.submitted.map((s) => s.name),
    ['held', 'held'],
    'handed to the core again',
  );
  const gone: Req = { name: 'gone', open: true };
  const ticket = router.admit(gone, forward, 0);
  gone.open = false;
  router.resume(ticket);
  t.equal(world.submitted.length, 3, 'a closed client is not submitted');
  t.equal(router.stats.dropped, 1);
  t.throws(() => router.resume(ticket), /not open in the router/);
});
