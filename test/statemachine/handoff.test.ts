// The handoff command (docs/statemachine.md): one entry that ends a session's mutex hold and asks
// for the mutex again, so a client passes a name from one of its callers to the next in one commit.
// The Driver applies entries as the node host does and checks every invariant after each one (one
// exclusive holder at most, tokens only growing).
import t from 'tap';
import type { Operation } from '../../src/statemachine/commands.js';
import type { SessionId } from '../../src/statemachine/ids.js';
import { decodeCommand, encodeCommand, turnsMax } from '../../src/statemachine/commands.js';
import { defaultLockMachineConfig } from '../../src/statemachine/config.js';
import { checkFence, eventsSince, getKey, listLocks } from '../../src/statemachine/queries.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/statemachine/snapshot.js';
import { Packr } from 'msgpackr';
import { Driver, tokenOf } from './fixtures/driver.js';
import { acquire } from './fixtures/ops.js';

function handoff(session: SessionId, name: string, waitMs = 10_000, turns = 1): Operation {
  return { type: 'handoff', session, name, waitMs, lockDelayMs: 0, turns };
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

// Runs of turns (docs/statemachine.md): a handoff may reserve one token per caller of the client
// queued for the name, and the client passes the hold from caller to caller under them.

function put(session: SessionId, key: string, lock: string, token: number): Operation {
  return {
    type: 'put',
    session,
    key,
    value: new Uint8Array([token % 256]),
    ifVersion: null,
    ephemeral: false,
    fence: { lock, token },
  };
}

void t.test('a handoff of 4 turns reserves 4 tokens: every later grant comes after them', async (t) => {
  const [d, a, b] = Driver.withSessions('a', 'b');
  tokenOf(d.op('a', acquire(a, 'L')));
  const result = d.op('a', handoff(a, 'L', 10_000, 4));
  const first = tokenOf(result);
  t.match(
    result,
    { code: 'OK', value: { kind: 'granted', name: 'L', token: first, turns: 4 } },
    'the answer names the run',
  );
  t.equal(d.state.lastToken, first + 3, 'the last token issued is the run’s last');
  t.same(
    listLocks(d.state, 'L', 10)[0]?.holders,
    [{ session: a, token: first, mode: 'exclusive', lastToken: first + 3 }],
    'the listing shows one hold under the first token, with the run’s last',
  );
  const other = tokenOf(d.op('b', acquire(b, 'M')));
  t.ok(other > first + 3, `a grant of another name (${other}) comes after the run’s tokens`);
  const plain = d.op('a', handoff(a, 'L'));
  t.same(
    plain,
    { code: 'OK', value: { kind: 'granted', name: 'L', token: tokenOf(plain) } },
    'one turn: the answer as before, no turns field',
  );
  t.same(
    listLocks(d.state, 'L', 10)[0]?.holders,
    [{ session: a, token: tokenOf(plain), mode: 'exclusive' }],
    'and the listing as before, no last token',
  );
  t.ok(tokenOf(plain) > other, 'and the next grant of the run’s own name too');
});

void t.test('fenced writes in a run: each token of the run in turn, never an earlier one again', async (t) => {
  const [d, a] = Driver.withSessions('a');
  tokenOf(d.op('a', acquire(a, 'L')));
  const first = tokenOf(d.op('a', handoff(a, 'L', 10_000, 3)));
  t.equal(checkFence(d.state, 'L', first + 2).code, 'OK', 'any token of the run is current before a write used one');
  t.equal(d.op('a', put(a, 'k', 'L', first)).code, 'OK', 'the first caller writes');
  t.equal(d.op('a', put(a, 'k', 'L', first + 1)).code, 'OK', 'the second caller writes');
  t.match(d.op('a', put(a, 'k', 'L', first)), { code: 'STALE_TOKEN' }, 'the first caller, late, is refused');
  t.equal(checkFence(d.state, 'L', first).code, 'STALE_TOKEN');
  t.equal(getKey(d.state, 'k')?.value[0], (first + 1) % 256, 'the refused write changed nothing');
  t.equal(d.op('a', put(a, 'k', 'L', first + 1)).code, 'OK', 'the current caller writes again');
  t.match(d.op('a', put(a, 'k', 'L', first + 3)), { code: 'STALE_TOKEN' }, 'a token past the run is no grant');
  t.match(
    d.op('a', {
      type: 'put',
      session: a,
      key: 'k',
      value: new Uint8Array(),
      ifVersion: 99,
      ephemeral: false,
      fence: { lock: 'L', token: first + 2 },
    }),
    { code: 'VERSION_MISMATCH' },
    'a write refused for its version',
  );
  t.equal(d.op('a', put(a, 'k', 'L', first + 1)).code, 'OK', '…does not move the fence');
  d.op('a', { type: 'release', session: a, name: 'L' });
  t.match(
    d.op('a', put(a, 'k', 'L', first + 2)),
    { code: 'STALE_TOKEN' },
    'after the release no token of the run is current',
  );
});

void t.test('a run queued behind another session is granted whole, pushed with its turns', async (t) => {
  const [d, a, b] = Driver.withSessions('a', 'b');
  tokenOf(d.op('a', acquire(a, 'L')));
  t.match(d.op('b', acquire(b, 'L', 10_000)), { value: { kind: 'queued' } });
  t.match(d.op('a', handoff(a, 'L', 10_000, 5)), { value: { kind: 'queued' } }, 'b first');
  d.takeNotifications();
  d.op('b', { type: 'release', session: b, name: 'L' });
  const grant = d.takeNotifications().find((n) => n.kind === 'granted');
  t.match(grant, { kind: 'granted', session: a, name: 'L', turns: 5 });
  const token = grant?.kind === 'granted' ? grant.token : 0;
  t.equal(d.state.lastToken, token + 4);
  t.same(
    d.retry('a', handoff(a, 'L', 10_000, 5)),
    { code: 'OK', value: { kind: 'granted', name: 'L', token, turns: 5 } },
    'a retry answers the run’s grant from the exactly-once table',
  );
});

void t.test('a run survives a snapshot: its tokens and its fence restore as they were', async (t) => {
  const [d, a] = Driver.withSessions('a');
  tokenOf(d.op('a', acquire(a, 'L')));
  const first = tokenOf(d.op('a', handoff(a, 'L', 10_000, 4)));
  d.op('a', put(a, 'k', 'L', first + 2));
  const bytes = encodeSnapshot(d.state);
  const restored = decodeSnapshot(bytes, defaultLockMachineConfig);
  if (!restored.ok) throw new Error(restored.error);
  t.equal(checkFence(restored.value, 'L', first + 1).code, 'STALE_TOKEN', 'the fence came back');
  t.equal(checkFence(restored.value, 'L', first + 3).code, 'OK', 'and the run’s last token');
  t.same(encodeSnapshot(restored.value), bytes, 'equal states, equal bytes');
  const holder = listLocks(restored.value, 'L', 10)[0]?.holders[0];
  t.equal(holder?.token, first);
});

void t.test('a snapshot with a run’s tail fields out of range is refused, saying which', async (t) => {
  const [d, a] = Driver.withSessions('a');
  tokenOf(d.op('a', acquire(a, 'L')));
  tokenOf(d.op('a', handoff(a, 'L', 10_000, 2)));
  const packr = new Packr({ useRecords: false });
  const fields = packr.unpack(encodeSnapshot(d.state)) as unknown[];
  const text = JSON.stringify(fields, (_k, v: unknown) => (v instanceof Uint8Array ? undefined : v));
  t.ok(text.length > 0);
  // Locks are the snapshot's fourth field: [name, kind, permits, delayUntilMs, holders, waiters].
  const locks = fields.find((f) => Array.isArray(f) && Array.isArray(f[0]) && f[0][0] === 'L') as unknown[][];
  const holder = (locks[0] as unknown[][])[4]?.[0] as unknown[];
  t.equal(holder.length, 8, 'a run’s holder carries turns and fenced');
  holder[7] = (holder[1] as number) + 5;
  const refused = decodeSnapshot(packr.pack(fields), defaultLockMachineConfig);
  t.match(refused, { ok: false, error: /holder fenced .* is outside its tokens/ });
  holder[6] = 1;
  t.match(decodeSnapshot(packr.pack(fields), defaultLockMachineConfig), {
    ok: false,
    error: /holder turns must be at least 2/,
  });
  holder[6] = turnsMax + 1;
  holder[7] = holder[1];
  t.match(
    decodeSnapshot(packr.pack(fields), defaultLockMachineConfig),
    { ok: false, error: /holder turns must be at most 1024/ },
    'bounded as the handoff command is',
  );
});

void t.test('the handoff command on the wire: one turn as before, more as a fifth operand, bounded', async (t) => {
  const config = defaultLockMachineConfig;
  const one = { type: 'client', clientId: 'c', seq: 1, op: handoff(1 as SessionId, 'L') } as const;
  const four = { type: 'client', clientId: 'c', seq: 1, op: handoff(1 as SessionId, 'L', 10, 4) } as const;
  const packr = new Packr({ useRecords: false });
  t.equal((packr.unpack(encodeCommand(one)) as unknown[]).length, 8, 'one turn: the four operands of before');
  t.same(decodeCommand(encodeCommand(four), config), { ok: true, value: four });
  t.same(decodeCommand(encodeCommand(one), config), { ok: true, value: one });
  const fields = packr.unpack(encodeCommand(four)) as unknown[];
  for (const [turns, why] of [
    [1, /turns must be in \[2, 1024\], got 1/],
    [turnsMax + 1, /turns must be in \[2, 1024\], got 1025/],
  ] as const) {
    fields[8] = turns;
    t.match(decodeCommand(packr.pack(fields), config), { ok: false, error: why });
  }
  t.match(decodeCommand(packr.pack([...fields, 3]), config), {
    ok: false,
    error: /handoff takes 4 operands \(or one more: turns\), got 6/,
  });
});
