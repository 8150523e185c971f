// Closing a client while a caller is queued inside lock() leaves no timer behind: the re-check
// armed for a queued wait (its wait plus an attempt timeout: minutes) would otherwise keep the
// process alive long after close().
import t from 'tap';
import type { CancelTimer, ClientClock } from '../../src/client/clock.js';
import { systemClock } from '../../src/client/clock.js';
import { connect } from '../../src/client/client.js';
import { MiniCluster } from './fixtures/mini-cluster.js';

/** The system clock, remembering the delay of every timer still armed. */
class CountingClock implements ClientClock {
  private readonly armed = new Map<number, number>();
  private next = 0;

  nowMs(): number {
    return systemClock.nowMs();
  }

  setTimer(callback: () => void, delayMs: number): CancelTimer {
    const id = this.next++;
    this.armed.set(id, delayMs);
    const cancel = systemClock.setTimer(() => {
      this.armed.delete(id);
      callback();
    }, delayMs);
    return () => {
      this.armed.delete(id);
      cancel();
    };
  }

  /** Delays of the timers still armed that are at least `minMs` long. */
  longTimers(minMs: number): number[] {
    return [...this.armed.values()].filter((ms) => ms >= minMs);
  }
}

void t.test('close() while queued in lock() cancels the queued wait re-check timer', async (t) => {
  const cluster = await MiniCluster.start(1);
  const holder = await connect({ endpoints: cluster.endpoints });
  const clock = new CountingClock();
  const waiter = await connect({ endpoints: cluster.endpoints, clock });
  t.teardown(async () => {
    holder.abandon();
    waiter.abandon();
    await cluster.close();
  });
  const held = await holder.lock('busy');
  const queued = waiter.lock('busy', { waitMs: 600_000 });
  queued.catch(() => undefined);
  // Queued once the re-check timer (the 600 s wait + the attempt timeout) is armed.
  const recheckMs = 601_000;
  const deadline = Date.now() + 10_000;
  while (clock.longTimers(recheckMs).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.equal(clock.longTimers(recheckMs).length, 1, 'the queued wait armed its re-check');
  await waiter.close();
  await t.rejects(queued, 'the queued caller is told the client closed');
  t.same(clock.longTimers(60_000), [], 'no long timer is left armed after close()');
  await held.release();
});
