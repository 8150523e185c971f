import fc from 'fast-check';
import t from 'tap';
import { errorOf } from '../../src/client/answers.js';
import { RaftlockError } from '../../src/client/errors.js';
import { NameQueue } from '../../src/client/name-queue.js';
import type { Refusal } from '../../src/protocol/client-protocol.js';
import { decodeServerFrame } from '../../src/protocol/client-protocol.js';
import type { KeepAliveOutcome } from '../../src/client/session.js';
import { ClientSession, safeUntilMs } from '../../src/client/session.js';
import type { WatchLink } from '../../src/client/watch.js';
import { WatchStream } from '../../src/client/watch.js';
import { sessionId } from '../../src/statemachine/ids.js';
import type { WatchEvent } from '../../src/statemachine/results.js';
import { FakeClock } from './fixtures/fake-clock.js';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Sent {
  readonly sentAtMs: number;
  readonly answer: (outcome: KeepAliveOutcome) => void;
}

function scriptedSession(ttlMs: number, intervalMs: number, driftMax: number) {
  const clock = new FakeClock();
  const sent: Sent[] = [];
  const losses: RaftlockError[] = [];
  const session = new ClientSession(sessionId(7), { ttlMs, keepAliveIntervalMs: intervalMs, driftMax }, clock.nowMs(), {
    clock,
    sendKeepAlive: () =>
      new Promise<KeepAliveOutcome>((resolve) => {
        sent.push({ sentAtMs: clock.nowMs(), answer: resolve });
      }),
    onLost: (_session, error) => losses.push(error),
  });
  return { clock, sent, losses, session };
}

void t.test('session safety margin (fake monotonic clock)', async (t) => {
  // Proves the lease rule of docs/client.md, "Sessions and the safety margin": the client counts its session lost at sentAt(last acknowledged
  // keepalive) + ttl × (1 − 2 × driftMax) — from the SEND time, so a slow acknowledgement never extends it.
  await t.test('the signal fires exactly at the margin after the last acknowledged send', async (t) => {
    const { clock, sent, losses, session } = scriptedSession(1000, 300, 0.01);
    t.equal(safeUntilMs(0, 1000, 0.01), 980);
    clock.advance(300);
    t.equal(sent.length, 1);
    clock.advance(500); // t=800: the answer to the keepalive sent at 300 arrives late
    sent[0]?.answer('kept');
    await flush();
    t.equal(session.safeUntilMs, 300 + 980, 'counted from the send, not the arrival');
    clock.advance(1279 - 800);
    t.equal(session.signal.aborted, false, 'still guaranteed one ms before the margin');
    clock.advance(1);
    t.equal(session.signal.aborted, true, 'lost at the margin although later keepalives are still unanswered');
    t.equal(losses.length, 1);
    const reason: unknown = session.signal.reason;
    t.ok(
      reason instanceof RaftlockError && reason.code === 'LEASE_EXPIRED',
      'LEASE_EXPIRED: the safe window passed on the client’s clock',
    );
  });

  await t.test('an expired answer loses the session at once; late acknowledgements change nothing', async (t) => {
    const { clock, sent, losses, session } = scriptedSession(1000, 300, 0.01);
    clock.advance(300);
    sent[0]?.answer('expired');
    await flush();
    t.equal(session.isLost, true);
    clock.advance(300);
    session.acknowledged(600);
    t.equal(session.isLost, true);
    t.equal(losses.length, 1, 'reported once');
  });

  await t.test('property: never considered live past the bound, always live within it', async () => {
    // Random answers (kept / unknown / out of order) at random times: at every instant the session
    // is live iff now < max(sentAt of acknowledged keepalives, open time) + ttl × (1 − 2 × drift).
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ stepMs: fc.integer({ min: 1, max: 400 }), kept: fc.boolean(), answerLate: fc.boolean() }),
          {
            maxLength: 25,
          },
        ),
        fc.integer({ min: 0, max: 10 }).map((n) => n / 100),
        async (steps, driftMax) => {
          const ttlMs = 1000;
          const { clock, sent, session } = scriptedSession(ttlMs, 200, driftMax);
          let lastAckSent = 0;
          const late: Sent[] = [];
          let answered = 0;
          for (const step of steps) {
            clock.advance(step.stepMs);
            while (answered < sent.length) {
              const next = sent[answered++];
              if (next === undefined) break;
              if (step.answerLate) late.push(next);
              else if (step.kept) {
                next.answer('kept');
                if (clock.nowMs() < safeUntilMs(lastAckSent, ttlMs, driftMax))
                  lastAckSent = Math.max(lastAckSent, next.sentAtMs);
              } else next.answer('unknown');
            }
            await flush();
            const bound = safeUntilMs(lastAckSent, ttlMs, driftMax);
            if (clock.nowMs() >= bound && !session.isLost) throw new Error(`live at ${clock.nowMs()} past ${bound}`);
            if (clock.nowMs() < bound && session.isLost) throw new Error(`lost at ${clock.nowMs()} before ${bound}`);
            if (session.isLost) break;
          }
          session.stop();
        },
      ),
      { numRuns: 150 },
    );
  });
});

void t.test('typed errors keep the state machine codes and their facts', async (t) => {
  // Proves refusals, read off the wire by the one decoder, become RaftlockError with the same stable code,
  // DEADLOCK's cycle and VERSION_MISMATCH's version; an unknown code is refused, never passed off as a known one.
  const refusal = (result: unknown): Refusal => {
    const frame = decodeServerFrame({ type: 'Response', id: 1, result });
    if (!frame.ok || frame.value.type !== 'Response' || frame.value.result.code === 'OK') {
      throw new Error(`not a refusal: ${JSON.stringify(result)}`);
    }
    return frame.value.result;
  };
  const deadlock = errorOf(refusal({ code: 'DEADLOCK', message: 'cycle', cycle: [{ session: 3, lock: 'a' }] }));
  t.equal(deadlock.code, 'DEADLOCK');
  t.same(deadlock.cycle, [{ session: 3, lock: 'a' }]);
  const mismatch = errorOf(refusal({ code: 'VERSION_MISMATCH', message: 'no', version: 4 }));
  t.equal(mismatch.version, 4);
  t.ok(mismatch instanceof RaftlockError && mismatch instanceof Error);
  for (const code of [
    'BUSY',
    'TIMEOUT',
    'NOT_HOLDER',
    'SESSION_EXPIRED',
    'STALE_TOKEN',
    'COMPACTED',
    'NOT_LEADER',
    'UNAVAILABLE',
  ] as const) {
    t.equal(errorOf(refusal({ code, message: 'm' })).code, code);
  }
  const unknown = decodeServerFrame({ type: 'Response', id: 1, result: { code: 'WHATEVER', message: 'm' } });
  t.match(unknown, { ok: false, error: /unknown result code/ }, 'an unknown code is refused by the decoder');
});

void t.test('local turns per name are FIFO and an aborted waiter gives its turn up', async (t) => {
  // Proves callers in one client take a name in call order, so one session's single grant is never shared.
  const queue = new NameQueue();
  const order: string[] = [];
  const a = await queue.turn('x');
  const controller = new AbortController();
  const b = queue.turn('x', controller.signal);
  const c = queue.turn('x').then((turn) => {
    order.push('c');
    turn.end();
  });
  controller.abort(new Error('gave up'));
  await t.rejects(b, { message: 'gave up' });
  order.push('a');
  a.end();
  await c;
  t.same(order, ['a', 'c']);
  t.notOk(queue.busy('x'), 'the name is free once every turn has ended');
  const other = await queue.turn('y');
  other.end();
});

void t.test('a turn hands something over only to the next caller, and only if it accepts it', async (t) => {
  // Proves the handoff path: the release goes to the very next caller in line (never past it), and
  // a caller that does not take it leaves the turn with its holder, who then ends it as usual.
  const queue = new NameQueue<string>();
  const first = await queue.turn('x');
  t.notOk(first.handOver('nobody waits'), 'no caller waiting: nothing handed over');
  const refusing = queue.turn('x', undefined, () => false);
  const taking = queue.turn('x', undefined, () => true);
  t.notOk(first.handOver('release'), 'the next caller does not take it: the caller behind is not asked');
  first.end();
  const second = await refusing;
  t.equal(second.carried, null, 'a turn started by end() carries nothing');
  t.ok(second.handOver('release of 2'), 'the next caller takes it');
  second.end();
  const third = await taking;
  t.equal(third.carried, 'release of 2', 'and starts its turn with it');
  t.ok(queue.busy('x'), 'ending the handed-over turn again changed nothing');
  third.end();
  t.notOk(queue.busy('x'));
});

void t.test('watch streams resume without gaps or repeats, and surface COMPACTED', async (t) => {
  // Proves the resume rule: after a reconnection the stream re-reads from the last delivered index
  // (several events may share one) and drops what it already delivered.
  const subscribed: number[] = [];
  let answer: () => Promise<{ watchId: number; index: number | null }> = () =>
    Promise.resolve({ watchId: subscribed.length, index: 10 });
  const link: WatchLink = {
    subscribe: (_prefix, fromIndex) => {
      subscribed.push(fromIndex);
      return answer();
    },
    unsubscribe: () => undefined,
    claim: () => [],
    ended: () => undefined,
  };
  const put = (index: number, key: string): WatchEvent => ({
    type: 'put',
    index,
    key,
    version: 1,
    value: new Uint8Array(),
  });
  const stream = new WatchStream('k', link, {});
  await stream.subscribe();
  t.same(subscribed, [0]);
  stream.deliver(1, put(11, 'k1'));
  stream.deliver(1, put(12, 'k2'));
  stream.deliver(1, put(12, 'k3'));
  await stream.subscribe();
  t.same(subscribed, [0, 11], 'resumes after the index before the last one delivered');
  stream.deliver(1, put(12, 'k2-old-id'));
  stream.deliver(2, put(12, 'k2'));
  stream.deliver(2, put(12, 'k3'));
  stream.deliver(2, put(12, 'k4'));
  stream.deliver(2, put(13, 'k5'));
  const keys: string[] = [];
  for (let i = 0; i < 5; i++) {
    const next = await stream.next();
    if (next.done !== true && next.value.type === 'put') keys.push(next.value.key);
  }
  t.same(keys, ['k1', 'k2', 'k3', 'k4', 'k5']);
  answer = () => Promise.reject(new RaftlockError('COMPACTED', 'history is gone'));
  await stream.subscribe();
  await t.rejects(stream.next(), { code: 'COMPACTED' });
  t.same(await stream.next(), { value: undefined, done: true });
});
