// The dashboard's refresh loop (src/http/dashboard/poller.js): a change reported while a slow load
// runs starts a fresh load at once, and an older answer that arrives late is never drawn over a
// newer one.
import t from 'tap';
import type { Test } from 'tap';

interface PollerLike {
  start(): void;
  stop(): void;
  kick(delayMs: number): void;
}
type PollerClass = new (
  load: (isNewest: () => boolean) => Promise<boolean>,
  pace: { minMs: number; factor: number; maxMs: number },
) => PollerLike;

const { Poller } = (await import(new URL('../../src/http/dashboard/poller.js', import.meta.url).href)) as {
  Poller: PollerClass;
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A started poller whose own timer (every 10 s) never fires within a test: only kicks start loads. */
function kickedPoller(t: Test, load: (isNewest: () => boolean) => Promise<boolean>): PollerLike {
  const poller = new Poller(load, { minMs: 10_000, factor: 1, maxMs: 10_000 });
  t.teardown(() => poller.stop());
  poller.start();
  return poller;
}

t.test('a kick during a slow load starts another at once; the late older answer is not drawn', async (t) => {
  const started: number[] = [];
  const finished: number[] = [];
  const drawn: number[] = [];
  const durations = [300, 20];
  let n = 0;
  const poller = kickedPoller(t, async (isNewest) => {
    const mine = ++n;
    started.push(Date.now());
    await sleep(durations[mine - 1] ?? 20);
    finished[mine - 1] = Date.now();
    if (isNewest()) drawn.push(mine);
    return true;
  });
  await sleep(50);
  poller.kick(0);
  await sleep(400);
  t.equal(started.length, 2, 'two loads ran');
  t.ok((started[1] ?? Infinity) < (finished[0] ?? 0), 'the second began while the first still ran');
  t.same(drawn, [2], 'only the newer answer is drawn; the older one, arriving later, is dropped');
});

t.test('at most two loads at once; a third kick is remembered and runs when the newest ends', async (t) => {
  let running = 0;
  let most = 0;
  let loads = 0;
  const poller = kickedPoller(t, async () => {
    loads += 1;
    running += 1;
    most = Math.max(most, running);
    await sleep(100);
    running -= 1;
    return true;
  });
  await sleep(20);
  poller.kick(0);
  await sleep(20);
  poller.kick(0);
  await sleep(400);
  t.equal(most, 2, 'never more than two in flight');
  t.equal(loads, 3, 'the kick made while two ran was not lost');
});
