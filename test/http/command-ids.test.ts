// The (clientId, seq) of HTTP commands without an Idempotency-Key: one command at a time per client
// id with rising seqs (the exactly-once table keeps only a client id's last seq), a few lanes per
// (principal, session), and a lane whose outcome may be unknown to its caller never reused.
import t from 'tap';
import { CommandIds } from '../../src/http/command-ids.js';

t.test('opening a session gets a client id of its own', async (t) => {
  const ids = new CommandIds('n1');
  const a = ids.forOpen();
  const b = ids.forOpen();
  t.not(a.clientId, b.clientId);
  t.equal(a.seq, 1);
  t.match(a.clientId, /^http-n1-[0-9a-f]{12}-\d+$/);
});

t.test('commands of one session: rising seqs on a lane, a few lanes at once, then a queue', async (t) => {
  const ids = new CommandIds('n1', { lanesPerSession: 2 });
  const first = await ids.forSession('alice', 7);
  first.done();
  const second = await ids.forSession('alice', 7);
  t.equal(second.clientId, first.clientId, 'a free lane is reused');
  t.equal(second.seq, first.seq + 1, 'with the next seq');
  const parallel = await ids.forSession('alice', 7);
  t.not(parallel.clientId, second.clientId, 'a second lane while the first is busy');
  let third: { clientId: string; seq: number } | null = null;
  const queued = ids.forSession('alice', 7).then((id) => (third = id));
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(third, null, 'no third lane: it waits');
  parallel.done();
  await queued;
  t.match(third, { clientId: parallel.clientId, seq: parallel.seq + 1 }, 'the freed lane, next seq');
  const bob = await ids.forSession('bob', 7);
  t.not(
    bob.clientId,
    first.clientId,
    "another principal's commands never share a client id (the table would refuse them)",
  );
});

t.test('a retired lane is never used again; a waiter gets a fresh one', async (t) => {
  const ids = new CommandIds('n1', { lanesPerSession: 1 });
  const unknown = await ids.forSession(null, 3);
  const waiting = ids.forSession(null, 3);
  unknown.done({ retire: true });
  const next = await waiting;
  t.not(next.clientId, unknown.clientId, 'a retry with the retired key still finds its result in the table');
  t.equal(next.seq, 1);
  next.done();
  const later = await ids.forSession(null, 3);
  t.equal(later.clientId, next.clientId);
  t.not(later.clientId, unknown.clientId);
});

t.test('lanes are forgotten when their session ends, and bounded', async (t) => {
  const ids = new CommandIds('n1', { groupsMax: 3 });
  (await ids.forSession('a', 1)).done();
  (await ids.forSession('b', 1)).done();
  (await ids.forSession('a', 2)).done();
  t.equal(ids.size, 3);
  ids.sessionEnded(1);
  t.equal(ids.size, 1, "both principals' lanes of session 1");
  const busy = await ids.forSession('a', 3);
  for (let s = 10; s < 20; s++) (await ids.forSession('a', s)).done();
  t.equal(ids.size, 3, 'idle groups beyond the bound are forgotten, oldest first');
  busy.done();
  const again = await ids.forSession('a', 3);
  t.match(again, { clientId: busy.clientId, seq: busy.seq + 1 }, 'a busy lane was not forgotten (its seq goes on)');
});
