// The handoff command (docs/statemachine.md): one entry that ends a session's mutex hold and asks
// for the mutex again, so a client passes a name from one of its callers to the next in one commit.
// The Driver applies entries as the node host does and checks every invariant after each one (one
// exclusive holder at most, tokens only growing).
import t from 'tap';
import type { Operation } from '../../src/statemachine/commands.js';
import type { SessionId } from '../../src/statemachine/ids.js';
import { eventsSince, listLocks } from '../../src/statemachine/queries.js';
import { Driver, tokenOf } from './fixtures/driver.js';
import { acquire } from './fixtures/ops.js';

function handoff(session: SessionId, name: string, waitMs = 10_000): Operation {
  return { type: 'handoff', session, name, waitMs, lockDelayMs: 0 };
}

void t.test(
  'with nobody waiting, one entry ends the hold and grants the session again under a larger token',
  async (t) => {
    const d = new Driver();
    const a = d.open('a');
    const first = tokenOf(d.op('a', acquire(a, 'L')));
    const entriesBefore = d.index;
    const result = d.op('a', handoff(a, 'L'));
    t.equal(d.index, entriesBefore + 1, 'one log entry');
    const second = tokenOf(result);
    t.ok(second > first, `the new token ${second} is larger than the released ${first}`);
    const page = eventsSince(d.state, 'L', entriesBefore, 10);
    const events = page.code === 'OK' ? page.events : [];
    t.same(
      events.map((e) => e.type),
      ['release', 'grant'],
      'the release, then the grant, in the same entry',
    );
    t.same(
      listLocks(d.state, 'L', 10)[0]?.holders.map((h) => h.token),
      [second],
      'held once, by the new grant',
    );
  },
);

void t.test(
  'a session queued before the handoff is granted first (FIFO across sessions); the handing session waits behind it',
  async (t) => {
    const [d, a, b] = Driver.withSessions('a', 'b');
    const old = tokenOf(d.op('a', acquire(a, 'L')));
    t.match(d.op('b', acquire(b, 'L', 10_000)), { code: 'OK', value: { kind: 'queued' } });
    d.takeNotifications();
    const handed = d.op('a', handoff(a, 'L'));
    t.match(handed, { code: 'OK', value: { kind: 'queued', name: 'L' } }, 'the next local caller queues behind b');
    const grants = d.takeNotifications().filter((n) => n.kind === 'granted');
    t.same(
      grants.map((n) => n.session),
      [b],
      'b, queued earlier, is granted in the handoff entry',
    );
    const bToken = grants[0]?.kind === 'granted' ? grants[0].token : 0;
    t.ok(bToken > old);
    d.op('b', { type: 'release', session: b, name: 'L' });
    const next = d.takeNotifications().filter((n) => n.kind === 'granted');
    t.equal(next.length, 1);
    t.match(
      next[0],
      { kind: 'granted', session: a, clientId: 'a', seq: 3, name: 'L' },
      'pushed to the handoff command’s (clientId, seq)',
    );
    const aToken = next[0]?.kind === 'granted' ? next[0].token : 0;
    t.ok(aToken > bToken, 'tokens only grow');
    t.same(
      d.retry('a', handoff(a, 'L')),
      { code: 'OK', value: { kind: 'granted', name: 'L', token: aToken } },
      'a retry of the handoff answers its grant, applied once',
    );
  },
);

void t.test(
  'without a hold the handoff is a plain acquire; a name of another kind is refused and nothing changes',
  async (t) => {
    const [d, a, b] = Driver.withSessions('a', 'b');
    tokenOf(d.op('b', acquire(b, 'L')));
    t.match(d.op('a', handoff(a, 'L', 0)), { code: 'BUSY' }, 'a session holding nothing just asks: BUSY for waitMs 0');
    t.equal(tokenOf(d.op('a', handoff(a, 'free'))), d.index, 'and a free name is granted');
    d.op('a', { type: 'acquireSemaphore', session: a, name: 'S', permits: 2, waitMs: 0, lockDelayMs: 0 });
    const refused = d.op('a', handoff(a, 'S'));
    t.match(refused, { code: 'INVALID_ARGUMENT', message: /S is a semaphore, not a mutex/ });
    t.same(
      listLocks(d.state, 'S', 10)[0]?.holders.map((h) => h.session),
      [a],
      'the semaphore hold is untouched',
    );
  },
);

void t.test('a handoff naming another session’s hold is that holder’s release: it is told first', async (t) => {
  const d = new Driver();
  const a = d.open('a');
  tokenOf(d.op('a', acquire(a, 'L')));
  d.takeNotifications();
  const result = d.op('intruder', handoff(a, 'L'));
  t.equal(result.code, 'OK');
  const kinds = d.takeNotifications().map((n) => n.kind);
  t.same(kinds.slice(0, 1), ['revoked'], 'the holder learns of the end before the new grant');
});
