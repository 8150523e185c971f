// The production driver's contract, with a scripted node, log and transport: everything that
// changes the node within one event-loop turn leaves it in one drain (so one write and one fsync
// cover the turn: group commit); early messages go out before the turn's write is submitted and
// persisted(seq) follows each write's completion in order (the Ready rule of src/raft/ready.ts);
// a failed write stops the node for good (fail-stop) and is reported once.
import t from 'tap';
import type { DrainedOutput, DrivenNode, DriverOptions } from '../../src/server/driver.js';
import { Driver } from '../../src/server/driver.js';
import type { Message } from '../../src/raft/messages.js';
import type { PersistentState } from '../../src/raft/types.js';
import type { DurableLog, PersistRequest } from '../../src/node/durable-log.js';
import type { PeerTransport } from '../../src/node/transport.js';

const heartbeat = (n: number): Message =>
  ({ type: 'Heartbeat', from: 'n1', to: 'n2', term: n, commit: 0 }) as unknown as Message;

class ScriptedNode implements DrivenNode<DrainedOutput> {
  events: string[] = [];
  changes = 0;
  drains = 0;
  nextSeq = 1;
  tick(nowMs: number): void {
    this.events.push(`tick ${nowMs}`);
  }
  receive(): void {
    this.changes += 1;
  }
  reportUnreachable(): void {}
  persisted(seq: number): void {
    this.events.push(`persisted ${seq}`);
  }
  change(): void {
    this.changes += 1;
  }
  drain(): DrainedOutput {
    this.drains += 1;
    if (this.changes === 0) return { writes: [], earlyMessages: [], messages: [] };
    this.changes = 0;
    const seq = this.nextSeq++;
    const write: PersistRequest = { seq, hardState: null, entries: [], snapshot: null, sync: true };
    return { writes: [write], earlyMessages: [heartbeat(seq)], messages: [] };
  }
}

class ScriptedLog implements DurableLog {
  submitted: number[] = [];
  failOn: number | null = null;
  private pending: { seq: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  constructor(private readonly events: string[]) {}
  load(): Promise<PersistentState> {
    throw new Error('not used');
  }
  persist(request: PersistRequest): Promise<void> {
    this.submitted.push(request.seq);
    this.events.push(`write ${request.seq}`);
    return new Promise((resolve, reject) => this.pending.push({ seq: request.seq, resolve, reject }));
  }
  completeAll(): void {
    for (const p of this.pending.splice(0)) {
      if (p.seq === this.failOn) p.reject(new Error(`EIO on write ${p.seq}`));
      else p.resolve();
    }
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

class ScriptedTransport implements PeerTransport {
  constructor(private readonly events: string[]) {}
  send(message: Message): void {
    this.events.push(`send ${String((message as unknown as { term: number }).term)}`);
  }
  onMessage(): void {}
  onUnreachable(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A driver over a fresh scripted node, log and transport; `options` replace the defaults. */
function scripted(options: Partial<DriverOptions<DrainedOutput>> = {}): {
  node: ScriptedNode;
  log: ScriptedLog;
  driver: Driver<DrainedOutput>;
} {
  const node = new ScriptedNode();
  const log = new ScriptedLog(node.events);
  const driver = new Driver<DrainedOutput>({
    node,
    log,
    transport: new ScriptedTransport(node.events),
    tickIntervalMs: 1_000_000,
    onOutput: () => undefined,
    onFatal: () => undefined,
    ...options,
  });
  return { node, log, driver };
}

t.test('one drain per turn, early messages first, persisted in order, fail-stop on a write error', async (t) => {
  const fatal: unknown[] = [];
  let now = 1000;
  const { node, log, driver } = scripted({ clock: () => now, onFatal: (error) => fatal.push(error) });
  t.equal(driver.now(), 1000, 'the pinned clock is used');

  for (let i = 0; i < 100; i++) driver.guard(() => node.change());
  await turn();
  t.equal(node.drains, 1, 'a hundred changes in one turn drain once');
  t.same(log.submitted, [1], 'and make one write');
  t.same(node.events, ['send 1', 'write 1'], 'the early message leaves before the write is submitted');

  driver.guard(() => node.change());
  await turn();
  log.completeAll();
  await turn();
  await turn();
  t.same(
    node.events.filter((e) => e.startsWith('persisted')),
    ['persisted 1', 'persisted 2'],
    'completions reported in order',
  );

  now = 2000;
  driver.guard(() => node.tick(now));
  log.failOn = 3;
  driver.guard(() => node.change());
  await turn();
  log.completeAll();
  await turn();
  t.equal(fatal.length, 1, 'the failed write is reported once');
  t.match(String(fatal[0]), /EIO on write 3/);
  t.ok(driver.isStopped, 'the driver stopped');
  const drains = node.drains;
  driver.guard(() => node.change());
  await turn();
  t.equal(node.drains, drains, 'nothing is drained after a failed write');
  t.notOk(node.events.includes('persisted 3'), 'the failed write is never reported durable');
  await driver.stop();
});

t.test('while the node leads, a drain waits one more turn, so that input arriving then shares it', async (t) => {
  const make = (leading: boolean) => scripted({ clock: () => 0, coalesceTurn: () => leading });
  const pairOfRequests = async (leading: boolean): Promise<number[]> => {
    const { log, driver, node } = make(leading);
    driver.guard(() => node.change());
    // A second request lands in the next turn, as one sent a few µs after the first does.
    setImmediate(() => driver.guard(() => node.change()));
    for (let i = 0; i < 4; i++) await turn();
    const submitted = [...log.submitted];
    log.completeAll();
    await driver.stop();
    return submitted;
  };
  t.same(await pairOfRequests(false), [1, 2], 'not leading: each turn drains on its own');
  t.same(await pairOfRequests(true), [1], 'leading: both requests leave in one drain and one write');

  // A flush (before a graceful stop) does not wait for the extra turn.
  const { node, log, driver } = make(true);
  driver.guard(() => node.change());
  await turn();
  t.equal(node.drains, 0, 'the drain is waiting its extra turn');
  driver.flush();
  t.equal(node.drains, 1, 'flush drains at once');
  await turn();
  await turn();
  t.equal(node.drains, 1, 'and the waiting turn does not drain again');
  log.completeAll();
  await driver.stop();
});

t.test('stop waits for the writes in flight', async (t) => {
  const { node, log, driver } = scripted({ tickIntervalMs: 5 });
  driver.start();
  driver.guard(() => node.change());
  await turn();
  let stopped = false;
  const stopping = driver.stop().then(() => {
    stopped = true;
  });
  await turn();
  t.notOk(stopped, 'stop is pending while a write is in flight');
  log.completeAll();
  await stopping;
  t.ok(stopped, 'stop resolves once the write is done');
  t.notOk(node.events.includes('persisted 1'), 'a stopped node is not fed any more');
});

t.test('onReceive sees each peer message before the node does', async (t) => {
  const node = new ScriptedNode();
  let deliver: ((message: Message) => void) | null = null;
  const transport: PeerTransport = {
    send: () => undefined,
    onMessage: (handler) => {
      deliver = handler;
    },
    onUnreachable: () => undefined,
    close: () => Promise.resolve(),
  };
  const seen: string[] = [];
  new Driver<DrainedOutput>({
    node,
    log: new ScriptedLog(node.events),
    transport,
    tickIntervalMs: 1_000_000,
    onOutput: () => undefined,
    onFatal: () => undefined,
    onReceive: (message) => seen.push(`${message.type} with the node at ${node.changes} changes`),
  });
  const handler = deliver as ((message: Message) => void) | null;
  if (handler === null) throw new Error('the driver did not subscribe');
  handler(heartbeat(7));
  t.same(seen, ['Heartbeat with the node at 0 changes']);
  t.equal(node.changes, 1, 'and the node received it');
});
