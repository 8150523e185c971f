import fc from 'fast-check';
import t from 'tap';
import type { LaneTicket } from '../../src/client/lanes.js';
import { CommandLanes } from '../../src/client/lanes.js';
import { resolveOptions } from '../../src/client/options.js';
import { defaultLockMachineConfig } from '../../src/statemachine/config.js';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A send that stays in flight until the test settles it; records what it went out under. */
interface InFlight {
  readonly call: number;
  readonly ticket: LaneTicket;
  readonly settle: (ok: boolean) => void;
}

function harness(lanesMax: number) {
  let nextSeq = 1000;
  const lanes = new CommandLanes('c', lanesMax, () => (nextSeq += 1000));
  const inFlight: InFlight[] = [];
  const started: InFlight[] = [];
  let calls = 0;
  const start = (pinTo?: string): Promise<LaneTicket> => {
    const call = calls++;
    return lanes.run(
      (ticket) =>
        new Promise<LaneTicket>((resolve, reject) => {
          const entry: InFlight = {
            call,
            ticket,
            settle: (ok) => {
              inFlight.splice(inFlight.indexOf(entry), 1);
              if (ok) resolve(ticket);
              else reject(new Error('lost'));
            },
          };
          inFlight.push(entry);
          started.push(entry);
        }),
      pinTo,
    );
  };
  /** Settles the in-flight send `which` picks, waits for its call, and lets the lanes start what waited. */
  const finish = async (which: (f: InFlight) => boolean, call: Promise<LaneTicket>): Promise<void> => {
    inFlight.find(which)?.settle(true);
    await call;
    await flush();
  };
  /** [call, lane] of each send started, from the `from`th on. */
  const startedFrom = (from = 0): [number, string][] => started.slice(from).map((f) => [f.call, f.ticket.laneId]);
  return { lanes, inFlight, started, start, finish, startedFrom };
}

void t.test('calls that wait for each other all use lane 0, the client id, with growing seqs', async (t) => {
  const { lanes, inFlight, start } = harness(8);
  const seqs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const done = start();
    await flush();
    inFlight[0]?.settle(true);
    const ticket = await done;
    t.equal(ticket.laneId, 'c', 'lane 0 is the client id itself');
    seqs.push(ticket.seq);
  }
  t.same(seqs, [2001, 2002, 2003, 2004, 2005], "one after another from the lane's first seq");
  t.equal(lanes.opened, 1, 'one lane was enough');
});

void t.test('concurrent calls take separate lanes up to the limit, then wait in call order', async (t) => {
  const { lanes, inFlight, started, start, startedFrom } = harness(3);
  const calls = [start(), start(), start(), start(), start()];
  await flush();
  t.same(
    inFlight.map((f) => f.ticket.laneId),
    ['c', 'c#1', 'c#2'],
    'three lanes open, lowest first',
  );
  t.equal(lanes.opened, 3);
  // A failed send frees its lane like a successful one.
  inFlight.find((f) => f.ticket.laneId === 'c#1')?.settle(false);
  await t.rejects(calls[1] as Promise<LaneTicket>, /lost/);
  await flush();
  t.same(
    startedFrom(),
    [
      [0, 'c'],
      [1, 'c#1'],
      [2, 'c#2'],
      [3, 'c#1'],
    ],
    'the first waiting call took the freed lane',
  );
  for (const f of [...inFlight]) f.settle(true);
  await flush();
  for (const f of [...inFlight]) f.settle(true);
  const tickets = await Promise.all([calls[0], calls[2], calls[3], calls[4]] as Promise<LaneTicket>[]);
  t.equal(tickets[3]?.laneId, 'c', 'the last call took the lowest lane free when its turn came');
  t.equal(
    tickets[2]?.seq,
    (started[1]?.ticket.seq ?? 0) + 1,
    'lane c#1 went on with the next seq after the failed one',
  );
});

void t.test('a pinned call waits for its own lane, and goes before calls waiting for any lane', async (t) => {
  const { inFlight, started, start, finish, startedFrom } = harness(2);
  const first = start();
  const second = start();
  await flush();
  const pinnedToC = start('c');
  const pinnedToC1 = start('c#1');
  const anyLane = start();
  await flush();
  t.equal(started.length, 2, 'all three wait: both lanes are busy and no third may open');
  await finish((f) => f.ticket.laneId === 'c#1', second);
  t.same(
    startedFrom(2),
    [[3, 'c#1']],
    'c#1 freed: the call pinned to it went first; the one pinned to c and the one for any lane wait',
  );
  await finish((f) => f.call === 0, first);
  t.same(startedFrom(3), [[2, 'c']], 'c freed: the call pinned to it went before the earlier-queued call for any lane');
  await finish((f) => f.call === 3, pinnedToC1);
  t.same(started.at(-1)?.call, 4, 'the call for any lane got the next lane freed');
  for (const f of [...inFlight]) f.settle(true);
  await Promise.all([pinnedToC, anyLane]);
});

void t.test('an unknown pin takes any lane', async (t) => {
  const { start, inFlight } = harness(2);
  const call = start('never-opened');
  await flush();
  inFlight[0]?.settle(true);
  t.equal((await call).laneId, 'c');
});

void t.test('lanesMax outside [1, 1000] is refused', async (t) => {
  for (const bad of [0, -1, 1.5, 1001, Number.NaN]) {
    t.throws(() => new CommandLanes('c', bad, () => 0), /lanesMax must be an integer in \[1, 1000\]/, String(bad));
  }
});

void t.test('random interleavings: one command per lane, growing seqs, no idle lane while calls wait', async (t) => {
  // Proves the exactly-once precondition (a lane never has two commands in flight, so a retry is
  // always of the lane's latest seq) and that waiting calls are never starved by an idle lane.
  const step = fc.oneof(
    fc.record({ kind: fc.constant('start' as const), pin: fc.option(fc.nat(4), { nil: undefined }) }),
    fc.record({ kind: fc.constant('settle' as const), pick: fc.nat(), ok: fc.boolean() }),
  );
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(step, { maxLength: 60 }), async (lanesMax, steps) => {
      const { lanes, inFlight, started, start } = harness(lanesMax);
      const pending: Promise<unknown>[] = [];
      // Each call's pin, when it named a lane already open (a pin to any other lane is no pin).
      const pins: (string | null)[] = [];
      for (const s of steps) {
        if (s.kind === 'start') {
          const pin = s.pin === undefined ? undefined : s.pin === 0 ? 'c' : `c#${s.pin}`;
          const opened = new Set(started.map((f) => f.ticket.laneId));
          pins.push(pin !== undefined && opened.has(pin) ? pin : null);
          pending.push(start(pin).catch(() => undefined));
        } else if (inFlight.length > 0) {
          inFlight[s.pick % inFlight.length]?.settle(s.ok);
        }
        await flush();
        const busy = inFlight.map((f) => f.ticket.laneId);
        if (new Set(busy).size !== busy.length)
          throw new Error(`two commands in flight on one lane: ${busy.join(',')}`);
        if (lanes.opened > lanesMax) throw new Error(`${lanes.opened} lanes opened, limit ${lanesMax}`);
        const begunCalls = new Set(started.map((f) => f.call));
        pins.forEach((pin, call) => {
          if (begunCalls.has(call)) return;
          if (pin !== null && !busy.includes(pin)) throw new Error(`call ${call} waits for idle lane ${pin}`);
          if (pin === null && (busy.length < lanes.opened || lanes.opened < lanesMax)) {
            throw new Error(`call ${call} waits while a lane is idle or could open`);
          }
        });
      }
      const begun = pins.length;
      const lastSeq = new Map<string, number>();
      for (const f of started) {
        const previous = lastSeq.get(f.ticket.laneId) ?? 0;
        if (f.ticket.seq <= previous) throw new Error(`seq ${f.ticket.seq} on ${f.ticket.laneId} after ${previous}`);
        lastSeq.set(f.ticket.laneId, f.ticket.seq);
      }
      // Drain: everything waiting starts and finishes.
      while (inFlight.length > 0) {
        inFlight[0]?.settle(true);
        await flush();
      }
      await Promise.all(pending);
      if (started.length !== begun) throw new Error(`${begun - started.length} calls never started`);
    }),
    { numRuns: 200 },
  );
  t.pass('200 random interleavings kept every rule');
});

void t.test(
  'connect options: a client id must leave room for lane suffixes; commandsInFlightMax is bounded',
  async (t) => {
    const base = { endpoints: ['127.0.0.1:1'] };
    const id = (bytes: number): string => 'x'.repeat(bytes);
    t.equal(
      resolveOptions({ ...base, clientId: id(124) }, () => 'r').clientId.length,
      124,
      '124 bytes: lane ids fit in 128',
    );
    t.throws(
      () => resolveOptions({ ...base, clientId: id(125) }, () => 'r'),
      /clientId must be at most 124 UTF-8 bytes/,
    );
    t.throws(
      () => resolveOptions({ ...base, clientId: 'é'.repeat(63) }, () => 'r'),
      /at most 124 UTF-8 bytes/,
      'counted in bytes',
    );
    t.equal(resolveOptions(base, () => 'r').commandsInFlightMax, 32, 'default 32');
    for (const bad of [0, 1001, 2.5]) {
      t.throws(
        () => resolveOptions({ ...base, commandsInFlightMax: bad }, () => 'r'),
        /commandsInFlightMax must be an integer in \[1, 1000\]/,
        String(bad),
      );
    }
    // The longest lane id of the longest client id is within the cluster's limit.
    t.equal(Buffer.byteLength(`${id(124)}#999`), defaultLockMachineConfig.clientIdBytesMax);
  },
);
