// Group commit: requests submitted while a batch is in flight share the next batch (one fsync for
// many proposals), yet nothing is reordered and each promise resolves only once its write is done.
import t from 'tap';
import type { DurableLog, PersistRequest } from '../../src/node/durable-log.js';
import { GroupCommitter } from '../../src/storage/group-commit.js';
import { mergeRequests } from '../../src/storage/merge-requests.js';
import { openLevelLog } from '../../src/storage/level-log.js';
import type { PersistentState } from '../../src/raft/types.js';
import { emptyPersistentState } from '../../src/raft/types.js';
import { entriesFrom, hardState, modelOf, n1, normal, request, snapshotAt } from './fixtures/log-model.js';

/** A DurableLog whose writes complete only when the test says so. */
class ManualLog implements DurableLog {
  readonly written: PersistRequest[] = [];
  private readonly pending: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  closed = false;

  load(): Promise<PersistentState> {
    return Promise.resolve(emptyPersistentState());
  }

  /** Calls back when `written()` says so: the batch is in, only its confirmation is pending. */
  readonly onWritten: (() => void)[] = [];

  persist(req: PersistRequest, onWritten?: () => void): Promise<void> {
    this.written.push(req);
    if (onWritten !== undefined) this.onWritten.push(onWritten);
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  /** The oldest batch not yet reported written is in the log (its confirmation is still pending). */
  reportWritten(): void {
    this.onWritten.shift()?.();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  get inFlight(): number {
    return this.pending.length;
  }

  complete(): void {
    this.pending.shift()?.resolve();
  }

  fail(error: unknown): void {
    this.pending.shift()?.reject(error);
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

t.test('requests made while a batch is in flight go out together in the next batch, in order', async (t) => {
  const log = new ManualLog();
  const committer = new GroupCommitter(log);
  const resolved: number[] = [];
  const track = (req: PersistRequest): Promise<void> => committer.persist(req).then(() => void resolved.push(req.seq));

  const r1 = request({ hardState: hardState(1, 0), entries: entriesFrom(1, 2, 1), sync: false });
  const p1 = track(r1);
  await turn();
  t.equal(log.written.length, 1, 'the first request is written on its own');

  const later = [
    request({ entries: entriesFrom(3, 2, 1), sync: false }),
    request({ hardState: hardState(2, 2), entries: entriesFrom(5, 1, 2), sync: true }),
    request({ entries: entriesFrom(4, 3, 3), sync: false }),
  ];
  const promises = later.map(track);
  await turn();
  t.equal(log.written.length, 1, 'nothing else is written while the first batch is in flight');
  t.same(resolved, [], 'no promise resolves before its write completes');

  log.complete();
  await p1;
  await turn();
  t.same(resolved, [r1.seq]);
  t.equal(log.written.length, 2, 'the three waiting requests form one batch');
  const batch = log.written[1];
  t.equal(batch?.sync, true, 'the batch is synced because one of its requests needed it');
  t.same(
    batch?.entries.map((e) => [e.index, e.term]),
    [
      [3, 1],
      [4, 3],
      [5, 3],
      [6, 3],
    ],
    'later entries replace earlier ones',
  );
  t.same(
    normal(modelOf([r1, ...later])),
    normal(modelOf([r1, later.slice(1).reduce(mergeRequests, later[0] as PersistRequest)])),
  );

  log.complete();
  await Promise.all(promises);
  t.same(resolved, [r1.seq, ...later.map((r) => r.seq)], 'promises resolve in submission order');
  t.same(committer.stats(), { requests: 4, batches: 2 });
  await committer.close();
  t.ok(log.closed);
});

t.test(
  'once the log has a batch in, the next one goes while the first is confirmed; acknowledgements keep order',
  async (t) => {
    const log = new ManualLog();
    const committer = new GroupCommitter(log);
    const resolved: number[] = [];
    const track = (req: PersistRequest): Promise<void> =>
      committer.persist(req).then(() => void resolved.push(req.seq));
    const r1 = request({ entries: entriesFrom(1, 1, 1) });
    const p1 = track(r1);
    await turn();
    const r2 = request({ entries: entriesFrom(2, 1, 1) });
    const r3 = request({ entries: entriesFrom(3, 1, 1) });
    const rest = [track(r2), track(r3)];
    await turn();
    t.equal(log.written.length, 1, 'the second batch waits while the first is being written');
    log.reportWritten();
    await turn();
    t.equal(log.written.length, 2, 'the first is in the log: the waiting requests go as the next batch');
    t.same(
      log.written[1]?.entries.map((e) => e.index),
      [2, 3],
    );
    t.same(resolved, [], 'nothing is acknowledged before the log confirms it');
    log.complete();
    await p1;
    t.same(resolved, [r1.seq], 'the first batch is acknowledged once confirmed');
    log.complete();
    await Promise.all(rest);
    t.same(resolved, [r1.seq, r2.seq, r3.seq], 'then the second, in order');
    await committer.close();
  },
);

t.test('gatherTurn false: a request reaches the log within persist(), and waiting ones merge as before', async (t) => {
  const log = new ManualLog();
  const committer = new GroupCommitter(log, { gatherTurn: false });
  const r1 = request({ entries: entriesFrom(1, 1, 1) });
  const p1 = committer.persist(r1);
  t.equal(log.written.length, 1, 'the write is handed over before persist() returns, not a turn later');
  const r2 = request({ entries: entriesFrom(2, 1, 1) });
  const r3 = request({ entries: entriesFrom(3, 1, 1) });
  const rest = [committer.persist(r2), committer.persist(r3)];
  t.equal(log.written.length, 1, 'while a batch is being written, the others wait');
  log.reportWritten();
  t.equal(log.written.length, 2, 'once it is in, the waiting requests go at once, as one batch');
  t.same(
    log.written[1]?.entries.map((e) => e.index),
    [2, 3],
  );
  log.complete();
  log.complete();
  await Promise.all([p1, ...rest]);
  t.same(committer.stats(), { requests: 3, batches: 2 });
  await committer.close();
});

t.test('a batch holds at most batchRequestsMax requests', async (t) => {
  const log = new ManualLog();
  const committer = new GroupCommitter(log, { batchRequestsMax: 3 });
  const all = Array.from({ length: 7 }, (_, i) => committer.persist(request({ entries: entriesFrom(i + 1, 1, 1) })));
  for (let batch = 0; batch < 3; batch++) {
    while (log.inFlight === 0) await turn();
    log.complete();
  }
  await Promise.all(all);
  t.same(
    log.written.map((r) => r.entries.length),
    [3, 3, 1],
  );
});

t.test(
  'a request carrying a snapshot starts a new batch (it must see the log the requests before it left, Raft §7)',
  async (t) => {
    const log = new ManualLog();
    const committer = new GroupCommitter(log);
    const all = [
      request({ entries: entriesFrom(1, 4, 1) }),
      request({ entries: entriesFrom(5, 1, 1) }),
      request({ snapshot: snapshotAt(3, 1, 10) }),
      request({ entries: entriesFrom(6, 1, 1) }),
    ].map((req) => committer.persist(req));
    while (log.written.length < 2 || log.inFlight > 0) {
      await turn();
      log.complete();
    }
    await Promise.all(all);
    t.same(
      log.written.map((r) => [r.snapshot?.meta.index ?? null, r.entries.map((e) => e.index)]),
      [
        [null, [1, 2, 3, 4, 5]],
        [3, [6]],
      ],
    );
  },
);

/**
 * A committer on a hand-driven log: a first request (entry 1) is being written as a batch, and a
 * second (entry 2) waits behind it. Neither write has completed.
 */
async function oneWritingOneQueued(): Promise<{
  log: ManualLog;
  committer: GroupCommitter;
  first: Promise<void>;
  second: Promise<void>;
}> {
  const log = new ManualLog();
  const committer = new GroupCommitter(log);
  const first = committer.persist(request({ entries: entriesFrom(1, 1, 1) }));
  await turn();
  const second = committer.persist(request({ entries: entriesFrom(2, 1, 1) }));
  return { log, committer, first, second };
}

t.test('a failed batch rejects its requests, the queued ones and every later one (fail-stop)', async (t) => {
  const { log, committer, first, second } = await oneWritingOneQueued();
  const outcome = Promise.allSettled([first, second]);
  const failure = new Error('EIO');
  log.fail(failure);
  const [a, b] = await outcome;
  t.equal(a?.status === 'rejected' ? a.reason : null, failure, 'the failed batch rejects');
  t.equal(b?.status === 'rejected' ? b.reason : null, failure, 'the queued request rejects without being written');
  t.equal(log.written.length, 1);
  const later = await committer.persist(request({ entries: entriesFrom(2, 1, 1) })).then(
    () => null,
    (e: unknown) => e,
  );
  t.equal(later, failure, 'a later request is refused');
  await committer.close();
});

t.test('a batch in flight behind a failed one rejects with the first failure', async (t) => {
  const { log, committer, first, second } = await oneWritingOneQueued();
  log.reportWritten();
  await turn();
  t.equal(log.written.length, 2, 'the second batch is in flight behind the first');
  const outcome = Promise.allSettled([first, second]);
  const failure = new Error('EIO: confirming the first batch failed');
  log.fail(failure);
  log.fail(new Error('stopped'));
  const [a, b] = await outcome;
  t.equal(a?.status === 'rejected' ? a.reason : null, failure);
  t.equal(b?.status === 'rejected' ? b.reason : null, failure, 'every later request hears of the first failure');
  await committer.close();
});

t.test('on level: hundreds of concurrent proposers share few batches and every entry lands in order', async (t) => {
  const dir = t.testdir();
  const log = await openLevelLog({ dir, clusterId: 'gc', nodeId: n1 });
  await log.load();
  const committer = new GroupCommitter(log);
  let next = 1;
  const submitted: PersistRequest[] = [];
  const acked: number[] = [];
  const proposer = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) {
      const index = next++;
      const req = request({ hardState: hardState(1, index - 1), entries: entriesFrom(index, 1, 1), sync: true });
      submitted.push(req);
      await committer.persist(req);
      acked.push(index);
    }
  };
  await Promise.all(Array.from({ length: 200 }, proposer));
  t.same(
    acked,
    [...acked].sort((x, y) => x - y),
    'acknowledged in index order',
  );
  const { requests, batches } = committer.stats();
  t.equal(requests, 1000);
  t.ok(batches <= requests / 20, `1000 requests took ${batches} batches`);
  t.equal(log.batches, batches, 'one LevelDB batch per group');
  await committer.close();
  const reopened = await openLevelLog({ dir, clusterId: 'gc', nodeId: n1 });
  t.same(normal(await reopened.load()), normal(modelOf(submitted)));
  await reopened.close();
});

t.test('onBatchWritten reports each durable batch: the merged request, how many it merged, its duration', async (t) => {
  const log = new ManualLog();
  const reports: { entries: number; sync: boolean; requests: number; seconds: number }[] = [];
  const committer = new GroupCommitter(log, {
    onBatchWritten: (batch, requests, seconds) =>
      reports.push({ entries: batch.entries.length, sync: batch.sync, requests, seconds }),
  });
  const first = committer.persist(request({ entries: entriesFrom(1, 1, 1), sync: true }));
  await turn();
  const rest = [
    committer.persist(request({ entries: entriesFrom(2, 2, 1), sync: false })),
    committer.persist(request({ entries: entriesFrom(4, 1, 1), sync: true })),
  ];
  await turn();
  t.same(reports, [], 'nothing is reported before the write completes');
  log.complete();
  await first;
  await turn();
  log.complete();
  await Promise.all(rest);
  t.same(
    reports.map(({ entries, sync, requests }) => ({ entries, sync, requests })),
    [
      { entries: 1, sync: true, requests: 1 },
      { entries: 3, sync: true, requests: 2 },
    ],
  );
  t.ok(
    reports.every((r) => r.seconds >= 0 && r.seconds < 10),
    'durations in seconds',
  );
  await committer.close();
});
