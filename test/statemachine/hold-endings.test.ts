// Every way a hold ends other than its own client's release is told to the holder, before the
// name is granted to anyone else (docs/statemachine.md, "Hold endings"): a release or close by
// another client (insecure mode: any client may act on any session), the lanes of one client
// counting as that client, and a replica jumping over entries by restoring a snapshot.
import t from 'tap';
import type { SessionId } from '../../src/statemachine/ids.js';
import { clientOfLane } from '../../src/statemachine/access.js';
import { holdsEndedByRestore } from '../../src/statemachine/restore-diff.js';
import { Driver, tokenOf } from './fixtures/driver.js';
import { acquire, kinds, release } from './fixtures/ops.js';
import { assertHolderToldFirst, releaseAnothersHold } from './fixtures/release-by-another.js';

void t.test(
  'insecure mode: another client releasing a hold tells the holder before the waiter is granted',
  async (t) => {
    const d = new Driver();
    const released = releaseAnothersHold(d, { holder: null, waiter: null, releaser: null, releaserClient: 'b' });
    assertHolderToldFirst(t, released);
    // Breaking check: with the principal-only rule (null === null) nothing was pushed here.
  },
);

void t.test('a lane of the holder’s own client releasing is the holder’s own release: nothing is pushed', async (t) => {
  const d = new Driver();
  const a = d.open('a');
  tokenOf(d.op('a#3', acquire(a, 'L')));
  t.same(kinds(d.opAs(null, 'a#7', release(a, 'L')).notifications), ['event:release']);
  tokenOf(d.op('a', acquire(a, 'M')));
  t.same(kinds(d.opAs(null, 'a', release(a, 'M')).notifications), ['event:release']);
  tokenOf(d.op('a', acquire(a, 'N')));
  t.same(
    kinds(d.opAs(null, 'ab', release(a, 'N')).notifications),
    ['revoked', 'event:release'],
    'another client id is another client',
  );
});

void t.test('clientOfLane strips exactly a lane suffix of 1 to 3 digits', async (t) => {
  t.equal(clientOfLane('c'), 'c');
  t.equal(clientOfLane('c#1'), 'c');
  t.equal(clientOfLane('c#999'), 'c');
  t.equal(clientOfLane('c#1000'), 'c#1000');
  t.equal(clientOfLane('c#'), 'c#');
  t.equal(clientOfLane('#1'), '#1');
  t.equal(clientOfLane('c#x1'), 'c#x1');
  t.equal(clientOfLane('a#b#2'), 'a#b');
});

void t.test('another client closing a session: one revoked per hold, before the grants', async (t) => {
  const [d, a, b] = Driver.withSessions('a', 'b');
  const t1 = tokenOf(d.op('a', acquire(a, 'L1')));
  const t2 = tokenOf(d.op('a', acquire(a, 'L2')));
  d.op('b', acquire(b, 'L1', 5_000));
  const out = d.opAs(null, 'b', { type: 'closeSession', session: a });
  const ks = kinds(out.notifications).filter((k) => k === 'revoked' || k === 'granted');
  t.same(ks, ['revoked', 'revoked', 'granted']);
  t.same(
    out.notifications.filter((n) => n.kind === 'revoked'),
    [
      { kind: 'revoked', session: a, clientId: 'a', name: 'L1', token: t1, by: null, reason: 'session-closed' },
      { kind: 'revoked', session: a, clientId: 'a', name: 'L2', token: t2, by: null, reason: 'session-closed' },
    ],
  );
  const c = d.open('c');
  tokenOf(d.op('c', acquire(c, 'X')));
  const own = d.opAs(null, 'c', { type: 'closeSession', session: c });
  t.same(kinds(own.notifications), ['event:release'], 'closing one’s own session revokes nothing');
});

void t.test(
  'expiry and lock-delay: sessionExpired comes in the expiring entry, the grant only after the delay',
  async (t) => {
    const d = new Driver();
    const a = d.open('a', 2_000);
    const b = d.open('b', 60_000);
    d.op('a', { type: 'acquire', session: a, name: 'L', waitMs: 0, lockDelayMs: 500 });
    d.op('b', acquire(b, 'L', 30_000));
    d.takeNotifications();
    const expiring = d.tick(2_001);
    t.same(kinds(expiring.notifications), ['event:release', 'sessionExpired']);
    t.same(kinds(d.tick(499).notifications), [], 'no grant inside the lock-delay');
    t.same(kinds(d.tick(1).notifications), ['event:grant', 'granted']);
  },
);

void t.test('a replica restoring a snapshot tells holders what the skipped entries ended', async (t) => {
  const behind = new Driver();
  const ahead = new Driver();
  const replicate = (fn: (d: Driver) => void): void => {
    fn(behind);
    fn(ahead);
  };
  let a = 0 as SessionId;
  let c = 0 as SessionId;
  let tokenKept = 0;
  let tokenLost = 0;
  replicate((d) => {
    a = d.open('a');
    c = d.open('c', 60_000);
    d.open('idle', 60_000);
    tokenKept = tokenOf(d.op('a', acquire(a, 'kept')));
    tokenLost = tokenOf(d.op('a', acquire(a, 'lost')));
    tokenOf(d.op('c', acquire(c, 'C')));
  });
  // Entries the behind replica never applies one by one: another client releases a's 'lost',
  // c's session is closed, and a takes 'lost' again (a new token).
  ahead.opAs(null, 'x', release(a, 'lost'));
  ahead.opAs(null, 'x', { type: 'closeSession', session: c });
  const retaken = tokenOf(ahead.op('a', acquire(a, 'lost')));
  t.not(retaken, tokenLost);
  const before = behind.state;
  behind.machine.restore(ahead.machine.snapshot());
  const told = holdsEndedByRestore(before, behind.state);
  t.same(told, [
    {
      kind: 'revoked',
      session: a,
      clientId: 'a',
      name: 'lost',
      token: tokenLost,
      by: null,
      reason: 'snapshot-restore',
    },
    { kind: 'sessionExpired', session: c, clientId: 'c' },
  ]);
  t.ok(tokenKept > 0, 'the hold both states have is not mentioned');
  t.same(holdsEndedByRestore(behind.state, behind.state), [], 'restoring the same state tells nothing');
});
