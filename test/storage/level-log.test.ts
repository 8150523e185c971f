// LevelLog keeps what Raft must never forget (Raft §5, Figure 2: currentTerm, votedFor and log[]
// are persisted before answering anything) and refuses to start from a directory it cannot trust.
import t from 'tap';
import type { Test } from 'tap';
import fc from 'fast-check';
import { join } from 'node:path';
import type { PersistRequest } from '../../src/node/durable-log.js';
import type { LevelLogOptions } from '../../src/storage/level-log.js';
import { openLevelLog } from '../../src/storage/level-log.js';
import { crc32c } from '../../src/storage/crc32c.js';
import {
  chunkKey,
  entryKey,
  entryKeyIndex,
  hardStateKey,
  identityKey,
  snapshotMetaKey,
} from '../../src/storage/keys.js';
import {
  decodeEntry,
  decodeSnapshotMeta,
  encodeEntry,
  encodeHardState,
  encodeIdentity,
  encodeSnapshotMeta,
  openRecord,
  sealRecord,
} from '../../src/storage/records.js';
import { mergeAllRequests, mergeRequests } from '../../src/storage/merge-requests.js';
import { StorageError } from '../../src/storage/errors.js';
import { AssertionError } from '../../src/util/assert.js';
import type { Entry, LogIndex, NodeId, PersistentState, Term } from '../../src/raft/types.js';
import { emptyPersistentState } from '../../src/raft/types.js';
import {
  command,
  entriesFrom,
  hardState,
  modelOf,
  n1,
  n2,
  batchesOf,
  normal,
  request,
  snapshotAt,
} from './fixtures/log-model.js';
import { GroupCommitter } from '../../src/storage/group-commit.js';
import { buildRequests, stepArb } from './fixtures/request-sequences.js';
import { rawKeys, withRawDb } from './fixtures/dirs.js';
import type { RawDb } from './fixtures/dirs.js';

const clusterId = 'test-cluster';

function options(dir: string, extra: Partial<LevelLogOptions> = {}): LevelLogOptions {
  return { dir, clusterId, nodeId: n1, snapshotChunkBytes: 1000, ...extra };
}

async function writeAll(dir: string, requests: readonly PersistRequest[]): Promise<void> {
  const log = await openLevelLog(options(dir));
  await log.load();
  for (const req of requests) await log.persist(req);
  await log.close();
}

async function loadDir(dir: string, extra: Partial<LevelLogOptions> = {}): Promise<PersistentState> {
  const log = await openLevelLog(options(dir, extra));
  try {
    return await log.load();
  } finally {
    await log.close();
  }
}

/** Writes `requests` to the log in `dir`, loads it back and checks it holds what the model says. */
async function writtenAsModelled(t: Test, dir: string, requests: readonly PersistRequest[]): Promise<PersistentState> {
  await writeAll(dir, requests);
  const loaded = await loadDir(dir);
  t.same(normal(loaded), normal(modelOf(requests)));
  return loaded;
}

/** Flips the `mask` bits of byte `at` (negative: from the end) of the value stored under `key`. */
async function flipBits(db: RawDb, key: string, at: number, mask: number): Promise<void> {
  const value = Buffer.from((await db.get(key)) ?? Buffer.alloc(0));
  const i = at < 0 ? value.length + at : at;
  value[i] = (value[i] as number) ^ mask;
  await db.put(key, value);
}

async function refusal(t: Test, dir: string, code: string, ...fragments: string[]): Promise<void> {
  const attempt = async (): Promise<unknown> => loadDir(dir);
  const error: unknown = await attempt().then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(error instanceof StorageError, `refused with a StorageError (${String(error)})`);
  if (!(error instanceof StorageError)) return;
  t.equal(error.code, code);
  t.match(error.message, dir, 'message names the data directory');
  for (const fragment of fragments) t.match(error.message, fragment);
}

t.test('CRC-32C matches the published check values (RFC 3720 B.4 and the catalogue check)', async (t) => {
  t.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  t.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
  t.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  t.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
  t.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c);
  t.equal(crc32c(new Uint8Array(0)), 0);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 100 }), (a, b) => {
      const joined = new Uint8Array([...a, ...b]);
      return crc32c(b, crc32c(a)) === crc32c(joined);
    }),
  );
});

t.test('records round-trip and any single corrupted byte is detected', async (t) => {
  const samples: Entry[] = [
    { index: 1 as LogIndex, term: 1 as Term, kind: 'noop' },
    command(2, 1, 0),
    command(3, 2, 300),
    { index: 4 as LogIndex, term: 2 as Term, kind: 'config', change: { type: 'addLearner', node: 'n3' as NodeId } },
    // A plain Uint8Array that is a view into a larger buffer, as a decoder may hand over.
    { index: 5 as LogIndex, term: 2 as Term, kind: 'command', data: new Uint8Array([9, 8, 7, 6, 5, 4]).subarray(2, 5) },
  ];
  for (const entry of samples) {
    const key = entryKey(entry.index);
    const payload = openRecord(key, sealRecord(key, encodeEntry(entry)));
    t.not(payload, null);
    if (payload === null) continue;
    const decoded = decodeEntry(payload);
    t.same(
      decoded.ok ? normal({ ...emptyPersistentState(), entries: [decoded.value] }) : null,
      normal({ ...emptyPersistentState(), entries: [entry] }),
      `${entry.kind} entry round-trips`,
    );
  }
  const meta = {
    index: 9 as LogIndex,
    term: 3 as Term,
    conf: { voters: [n1, n2], learners: [] },
    dataBytes: 5,
    chunkCount: 1,
    dataCrc: 0xfedcba98,
  };
  const decodedMeta = decodeSnapshotMeta(encodeSnapshotMeta(meta));
  t.same(decodedMeta.ok ? decodedMeta.value : null, meta, 'snapshot metadata round-trips');
  // A record moved under another key fails too: the checksum covers the key.
  t.equal(openRecord(entryKey(5), sealRecord(entryKey(4), encodeEntry(command(4, 1)))), null);
  fc.assert(
    fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (position, flip) => {
      const key = entryKey(7);
      const sealed = sealRecord(key, encodeEntry(command(7, 2, 40)));
      const damaged = Buffer.from(sealed);
      const at = position % damaged.length;
      damaged[at] = (damaged[at] as number) ^ flip;
      return openRecord(key, damaged) === null;
    }),
  );
});

t.test('entries, hard state and snapshot survive close and reopen (Raft §5.2 persistent state)', async (t) => {
  const dir = t.testdir();
  const requests = [
    request({ hardState: hardState(1, 0), entries: entriesFrom(1, 5, 1) }),
    request({ hardState: hardState(2, 3, n2), entries: entriesFrom(6, 3, 2), sync: false }),
    request({ entries: [{ index: 9 as LogIndex, term: 2 as Term, kind: 'noop' }] }),
  ];
  const loaded = await writtenAsModelled(t, dir, requests);
  t.equal(loaded.entries.length, 9);
  t.equal(loaded.hardState.vote, n2);
});

t.test(
  'entries from a conflicting index replace the stored suffix and the stale tail is deleted (Raft §5.3)',
  async (t) => {
    const dir = t.testdir();
    const requests = [
      request({ hardState: hardState(1, 2), entries: entriesFrom(1, 10, 1) }),
      // A new leader's log diverges at 4 and is shorter: 4..6 replace 4..10 and 7..10 must go.
      request({ hardState: hardState(3, 3), entries: entriesFrom(4, 3, 3) }),
    ];
    const loaded = await writtenAsModelled(t, dir, requests);
    t.same(
      loaded.entries.map((e) => [e.index, e.term]),
      [
        [1, 1],
        [2, 1],
        [3, 1],
        [4, 3],
        [5, 3],
        [6, 3],
      ],
    );
    const entryKeys = (await rawKeys(dir)).filter((k) => k.startsWith('entry:'));
    t.same(entryKeys, [1, 2, 3, 4, 5, 6].map(entryKey), 'no stale entry keys remain');
  },
);

t.test('a snapshot drops the entries it covers and replaces the old snapshot (Raft §7)', async (t) => {
  const dir = t.testdir();
  const requests = [
    request({ hardState: hardState(1, 20), entries: entriesFrom(1, 30, 1) }),
    request({ snapshot: snapshotAt(12, 1, 4500) }),
    request({ entries: entriesFrom(31, 2, 1) }),
    // A smaller, later snapshot: chunks 2..4 of the old one must disappear with it.
    request({ snapshot: snapshotAt(25, 1, 1500) }),
  ];
  const loaded = await writtenAsModelled(t, dir, requests);
  t.equal(loaded.snapshot?.meta.index, 25);
  t.equal(loaded.snapshot?.data.byteLength, 1500);
  t.same(
    loaded.entries.map((e) => e.index),
    [26, 27, 28, 29, 30, 31, 32],
  );
  const keys = await rawKeys(dir);
  t.same(
    keys.filter((k) => k.startsWith('snapchunk:')),
    [chunkKey(0), chunkKey(1)],
    'old chunks removed',
  );
  t.same(keys.filter((k) => k.startsWith('entry:')).length, 7, 'covered entries removed');

  // A snapshot whose last entry is not in the log (same index, other term) discards the whole log
  // (Raft §7); one that matches keeps the entries after it (checked above).
  const dir3 = t.testdir();
  const mismatch = [
    request({ hardState: hardState(1, 2), entries: entriesFrom(1, 10, 1) }),
    request({ hardState: hardState(3, 8), snapshot: snapshotAt(8, 3, 100) }),
  ];
  const discarded = await writtenAsModelled(t, dir3, mismatch);
  t.same(discarded.entries, [], 'entries 9 and 10 of the old term are gone');
  t.same(
    (await rawKeys(dir3)).filter((k) => k.startsWith('entry:')),
    [],
  );

  // A snapshot from the leader past the end of the log (Raft §7 InstallSnapshot) empties the log.
  const dir2 = t.testdir();
  const install = [
    request({ hardState: hardState(1, 2), entries: entriesFrom(1, 4, 1) }),
    request({ hardState: hardState(2, 50), snapshot: snapshotAt(50, 2, 0) }),
    request({ entries: entriesFrom(51, 1, 2) }),
  ];
  const installed = await writtenAsModelled(t, dir2, install);
  t.equal(installed.snapshot?.data.byteLength, 0, 'an empty snapshot has no chunks and loads');
});

// A snapshot covering many entries must not put all their deletes into one batch: every commit
// queued behind that batch would wait for it. The covered entries go a bounded number per batch,
// oldest first, across later writes and across a restart; what loads is the same all along.
t.test('covered entries are deleted a bounded number per batch, across later writes and a restart', async (t) => {
  const dir = t.testdir();
  // No idle sweep here: this test counts what the writes themselves delete.
  const spread = { coveredDeletesPerWrite: 4, coveredSweepDelayMs: 600_000 };
  const entryIndexes = async (): Promise<number[]> =>
    (await rawKeys(dir)).map(entryKeyIndex).filter((index): index is number => index !== null);
  const requests = [
    request({ hardState: hardState(1, 20), entries: entriesFrom(1, 30, 1) }),
    request({ snapshot: snapshotAt(20, 1, 100) }),
  ];
  let log = await openLevelLog(options(dir, spread));
  await log.load();
  for (const req of requests) await log.persist(req);
  await log.close();
  t.same(
    await entryIndexes(),
    Array.from({ length: 26 }, (_, i) => 5 + i),
    'the snapshot batch deleted only entries 1..4',
  );
  t.same(
    (await loadDir(dir, spread)).entries.map((e) => e.index),
    Array.from({ length: 10 }, (_, i) => 21 + i),
    'recovery starts after the snapshot',
  );

  log = await openLevelLog(options(dir, spread));
  await log.load();
  const more = request({ entries: entriesFrom(31, 1, 1) });
  await log.persist(more);
  requests.push(more);
  await log.close();
  t.same((await entryIndexes()).slice(0, 2), [9, 10], 'the recovered log went on with 5..8 in its next batch');

  log = await openLevelLog(options(dir, spread));
  await log.load();
  for (let i = 0; i < 3; i++) {
    const next = request({ entries: entriesFrom(32 + i, 1, 1) });
    await log.persist(next);
    requests.push(next);
  }
  await log.close();
  t.same(
    await entryIndexes(),
    Array.from({ length: 14 }, (_, i) => 21 + i),
    'every covered entry is gone, nothing else',
  );
  t.same(normal(await loadDir(dir, spread)), normal(modelOf(requests)));
});

/** What the sweep tests watch of a LevelLog. */
type SweepingLog = { readonly sweeps: number; readonly coveredStored: number };

/** Polls every 2 ms until `done`; the idle sweep runs on timers, so the tests wait on its state. */
async function waitForSweeps(done: () => boolean, failure: () => string): Promise<void> {
  for (let waited = 0; !done(); waited += 2) {
    if (waited > 10_000) throw new Error(failure());
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

t.test('an idle log sweeps the entries its snapshot covers; writes meanwhile are kept', async (t) => {
  const dir = t.testdir();
  const entryIndexes = async (): Promise<number[]> =>
    (await rawKeys(dir)).map(entryKeyIndex).filter((index): index is number => index !== null);
  const settle = (log: SweepingLog): Promise<void> =>
    waitForSweeps(
      () => log.coveredStored === 0,
      () => `${log.coveredStored} covered entries still stored after 10 s idle`,
    );
  const requests = [
    request({ hardState: hardState(1, 30), entries: entriesFrom(1, 40, 1) }),
    request({ snapshot: snapshotAt(30, 1, 100) }),
  ];
  let log = await openLevelLog(options(dir, { coveredDeletesPerWrite: 4, coveredSweepDelayMs: 20 }));
  await log.load();
  for (const req of requests) await log.persist(req);
  t.equal(log.coveredStored, 26, 'the snapshot batch deleted 4 of the 30 covered entries');
  await settle(log);
  t.ok(log.sweeps >= 7, `the rest went in sweeps of at most 4 (${log.sweeps} sweeps)`);
  t.equal(log.batches, 2, 'sweeps are not counted as writes');
  await log.close();
  t.same(
    await entryIndexes(),
    Array.from({ length: 10 }, (_, i) => 31 + i),
    'only the entries after the snapshot are left',
  );

  // Writes that arrive while a sweep is under way queue behind at most one sweep batch and are
  // all kept; the sweep carries on once they are done.
  log = await openLevelLog(options(dir, { coveredDeletesPerWrite: 4, coveredSweepDelayMs: 0 }));
  await log.load();
  const more = [
    request({ hardState: hardState(1, 75), entries: entriesFrom(41, 40, 1) }),
    request({ snapshot: snapshotAt(75, 1, 100) }),
  ];
  for (const req of more) await log.persist(req);
  requests.push(...more);
  for (let i = 0; i < 6; i++) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    const next = request({ entries: entriesFrom(81 + i, 1, 1) });
    await log.persist(next);
    requests.push(next);
  }
  await settle(log);
  await log.close();
  t.same(
    await entryIndexes(),
    Array.from({ length: 11 }, (_, i) => 76 + i),
    'covered entries gone, every later entry kept',
  );
  t.same(normal(await loadDir(dir)), normal(modelOf(requests)), 'the loaded state is the model');
});

// Random request sequences: LevelLog (with reopens in between), a one-batch group write and the
// pure merge must all end in the state the reference model computes. The log sweeps covered
// entries whenever it is idle (delay 0), one entry per batch, and the sequence pauses at random
// after a write until at least one sweep batch has run, so that the next write meets a sweep
// half done. The pauses wait on the sweep itself rather than on a clock, and a fixed first case
// leaves covered entries before a pause, so every run of this test sweeps.

/** Waits until the idle log has run one more sweep batch, or has nothing left to sweep. */
function oneSweepBatch(log: SweepingLog): Promise<void> {
  const before = log.sweeps;
  return waitForSweeps(
    () => log.sweeps > before || log.coveredStored === 0,
    () => `no sweep batch in 10 s with ${log.coveredStored} covered entries stored`,
  );
}

t.test(
  'random request sequences: stored state equals the model, across reopens and group-committed batches',
  async (t) => {
    const root = t.testdir();
    let run = 0;
    let sweeps = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb, { minLength: 1, maxLength: 14 }),
        fc.nat(),
        fc.nat(),
        async (steps, reopenMask, pauseMask) => {
          run++;
          const requests = buildRequests(steps);
          const expected = normal(modelOf(requests));
          const groups = batchesOf(requests);
          t.same(
            normal(modelOf(groups.map(mergeAllRequests))),
            expected,
            'the pure merge of each group has the same effect',
          );
          const pairwise = groups.map((group) => group.slice(1).reduce(mergeRequests, group[0] as PersistRequest));
          t.same(normal(modelOf(pairwise)), expected, 'merging pairwise agrees');

          const dir = join(root, `seq-${run}`);
          const sweeping = { coveredDeletesPerWrite: 1, coveredSweepDelayMs: 0 };
          let log = await openLevelLog(options(dir, sweeping));
          await log.load();
          for (const [i, req] of requests.entries()) {
            await log.persist(req);
            if ((pauseMask >> i) & 1) await oneSweepBatch(log);
            if ((reopenMask >> i) & 1) {
              sweeps += log.sweeps;
              await log.close();
              log = await openLevelLog(options(dir, sweeping));
              t.same(normal(await log.load()), normal(modelOf(requests.slice(0, i + 1))));
            }
          }
          sweeps += log.sweeps;
          await log.close();
          t.same(normal(await loadDir(dir)), expected);

          const grouped = await openLevelLog(options(join(root, `grouped-${run}`)));
          await grouped.load();
          const committer = new GroupCommitter(grouped);
          await Promise.all(requests.map((req) => committer.persist(req)));
          t.equal(committer.stats().batches, groups.length, 'one batch per group');
          t.same(normal(await grouped.load()), expected);
          await committer.close();
        },
      ),
      // Five entries, a snapshot in their term at 4 (its write deletes one covered entry, three
      // stay), a pause, then two more entries.
      {
        numRuns: 40,
        examples: [
          [
            [
              [0, 0, 4, 4, true],
              [3, 0, 0, 0, true],
              [0, 0, 1, 0, true],
            ],
            0,
            0b10,
          ],
        ],
      },
    );
    t.ok(sweeps > 0, `idle sweeps ran between the writes (${sweeps})`);
  },
);

t.test('every kind of damage refuses to start with CORRUPT_DATA naming the directory, key and fault', async (t) => {
  const base = [
    request({ hardState: hardState(2, 8), entries: entriesFrom(1, 10, 1) }),
    request({ snapshot: snapshotAt(4, 1, 2500) }),
  ];
  const fresh = async (): Promise<string> => {
    const dir = t.testdir();
    await writeAll(dir, base);
    return dir;
  };

  let dir = await fresh();
  await withRawDb(dir, (db) => flipBits(db, entryKey(7), -1, 0x01));
  await refusal(t, dir, 'CORRUPT_DATA', entryKey(7), 'log index 7', 'checksum');

  dir = await fresh();
  await withRawDb(dir, (db) => db.del(entryKey(6)));
  await refusal(t, dir, 'CORRUPT_DATA', entryKey(7), 'gap', 'index 6 is missing');

  // The first entry after the snapshot is missing: also a gap.
  dir = await fresh();
  await withRawDb(dir, (db) => db.del(entryKey(5)));
  await refusal(t, dir, 'CORRUPT_DATA', entryKey(6), 'gap', 'index 5 is missing');

  dir = await fresh();
  await withRawDb(dir, (db) => flipBits(db, hardStateKey, 0, 0x80));
  await refusal(t, dir, 'CORRUPT_DATA', `"${hardStateKey}"`, 'checksum');

  dir = await fresh();
  await withRawDb(dir, (db) => db.put(hardStateKey, sealRecord(hardStateKey, encodeHardState(hardState(2, 11)))));
  await refusal(t, dir, 'CORRUPT_DATA', 'commit 11 beyond the last stored index 10');

  dir = await fresh();
  await withRawDb(dir, (db) => flipBits(db, chunkKey(1), 10, 0xff));
  await refusal(t, dir, 'CORRUPT_DATA', chunkKey(1), 'chunk 1', 'checksum');

  dir = await fresh();
  await withRawDb(dir, (db) => db.del(chunkKey(2)));
  await refusal(t, dir, 'CORRUPT_DATA', chunkKey(2), 'missing', '3 chunks');

  // Metadata that is intact itself but describes other data.
  dir = await fresh();
  await withRawDb(dir, async (db) => {
    const payload = openRecord(snapshotMetaKey, (await db.get(snapshotMetaKey)) ?? Buffer.alloc(0));
    const meta = payload === null ? null : decodeSnapshotMeta(payload);
    if (meta === null || !meta.ok) throw new Error('snapshot metadata unreadable in setup');
    const wrong = encodeSnapshotMeta({ ...meta.value, dataCrc: (meta.value.dataCrc + 1) >>> 0 });
    await db.put(snapshotMetaKey, sealRecord(snapshotMetaKey, wrong));
  });
  await refusal(t, dir, 'CORRUPT_DATA', `"${snapshotMetaKey}"`, 'does not match the snapshot data');

  dir = await fresh();
  await withRawDb(dir, async (db) => {
    const key = entryKey(8);
    await db.put(key, sealRecord(key, encodeEntry(command(9, 1))));
  });
  await refusal(t, dir, 'CORRUPT_DATA', entryKey(8), 'holds the entry for index 9');

  // A record whose checksum is right but whose content is not an entry (a bug, not bit rot).
  dir = await fresh();
  await withRawDb(dir, (db) => db.put(entryKey(9), sealRecord(entryKey(9), Buffer.from([0x81, 0xa1, 0x61, 0x01]))));
  await refusal(t, dir, 'CORRUPT_DATA', entryKey(9), 'log index 9', 'is not an entry record');

  dir = await fresh();
  await withRawDb(dir, (db) => db.put('entry:12x', Buffer.alloc(8)));
  await refusal(t, dir, 'CORRUPT_DATA', '"entry:12x" is not a valid entry key');

  dir = await fresh();
  await withRawDb(dir, (db) => db.del(snapshotMetaKey));
  await refusal(t, dir, 'CORRUPT_DATA', chunkKey(0), 'no snapshot metadata');

  dir = await fresh();
  await withRawDb(dir, (db) => db.put(identityKey, Buffer.from('garbage')));
  const identityError = await openLevelLog(options(dir)).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(
    identityError instanceof StorageError && identityError.code === 'CORRUPT_DATA',
    'a damaged identity record is refused',
  );
});

t.test('a directory of another cluster, another node or another format is refused at open', async (t) => {
  const dir = t.testdir();
  await writeAll(dir, [request({ entries: entriesFrom(1, 1, 1) })]);
  const openError = (extra: Partial<LevelLogOptions>): Promise<unknown> =>
    openLevelLog(options(dir, extra)).then(
      async (log) => {
        await log.close();
        return null;
      },
      (e: unknown) => e,
    );

  const otherNode = await openError({ nodeId: n2 });
  t.ok(otherNode instanceof StorageError);
  if (otherNode instanceof StorageError) {
    t.equal(otherNode.code, 'IDENTITY_MISMATCH');
    t.match(otherNode.message, `data directory ${dir} belongs to node n1 of cluster "test-cluster", not node n2`);
  }
  const otherCluster = await openError({ clusterId: 'prod' });
  t.ok(otherCluster instanceof StorageError && otherCluster.code === 'IDENTITY_MISMATCH');
  if (otherCluster instanceof StorageError) t.match(otherCluster.message, 'not node n1 of cluster "prod"');

  await withRawDb(dir, (db) =>
    db.put(identityKey, sealRecord(identityKey, encodeIdentity({ formatVersion: 2, clusterId, nodeId: n1 }))),
  );
  const future = await openError({});
  t.ok(future instanceof StorageError && future.code === 'FORMAT');
  if (future instanceof StorageError) t.match(future.message, 'storage format 2');

  const foreign = t.testdir();
  await withRawDb(foreign, (db) => db.put('some-app-key', Buffer.from('x')));
  const notOurs = await openLevelLog(options(foreign)).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(notOurs instanceof StorageError && notOurs.code === 'FORMAT');
  if (notOurs instanceof StorageError) t.match(notOurs.message, 'no identity record');
});

t.test('a directory that cannot be created is refused with OPEN_FAILED naming it', async (t) => {
  const root = t.testdir({ 'not-a-dir': 'a plain file' });
  const dir = join(root, 'not-a-dir', 'data');
  const error = await openLevelLog(options(dir)).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(error instanceof StorageError && error.code === 'OPEN_FAILED', 'refused with OPEN_FAILED');
  if (error instanceof StorageError) t.match(error.message, `data directory ${dir} cannot be opened`);
});

t.test('a second handle on a directory in use fails at once with DATA_DIR_LOCKED', async (t) => {
  const dir = t.testdir();
  const first = await openLevelLog(options(dir));
  const second = await openLevelLog(options(dir)).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(second instanceof StorageError);
  if (second instanceof StorageError) {
    t.equal(second.code, 'DATA_DIR_LOCKED');
    t.match(second.message, `data directory ${dir} is in use by another raftlock process`);
  }
  await first.close();
  const again = await openLevelLog(options(dir));
  t.pass('the directory opens again once the holder closed it');
  await again.close();
});

t.test('a failed write stops the log: that persist and every later call reject (fail-stop)', async (t) => {
  const dir = t.testdir();
  let failAt = 3;
  const log = await openLevelLog(
    options(dir, {
      beforeWrite: (info) => {
        if (info.seq === failAt) throw new Error('EIO: fsync failed (injected)');
      },
    }),
  );
  await log.load();
  const r1 = request({ hardState: hardState(1, 0), entries: entriesFrom(1, 3, 1) });
  const r2 = request({ entries: entriesFrom(4, 3, 1) });
  const r3 = request({ entries: entriesFrom(7, 3, 1) });
  failAt = r3.seq;
  await log.persist(r1);
  await log.persist(r2);
  const failed = await log.persist(r3).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(
    failed instanceof StorageError && failed.code === 'WRITE_FAILED',
    'the failing persist rejects with WRITE_FAILED',
  );
  if (failed instanceof StorageError) t.match(failed.message, 'EIO: fsync failed');
  const later = await log.persist(request({ entries: entriesFrom(7, 1, 1) })).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(later instanceof StorageError && later.code === 'STOPPED', 'a later persist is refused');
  const reload = await log.load().then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(reload instanceof StorageError && reload.code === 'STOPPED', 'a later load is refused');
  await log.close();
  // r3's evidence was recorded with its redo while LevelDB failed it (lost-writes.test.ts), so
  // the next start writes it again: never acknowledged, and not lost either.
  t.same(
    normal(await loadDir(dir)),
    normal(modelOf([r1, r2, r3])),
    'after a restart the log holds what was written, and the failed batch from its evidence',
  );

  // A request that breaks the log's shape (a gap) is a caller bug: assertion, then the same stop.
  const log2 = await openLevelLog(options(dir));
  await log2.load();
  const gap = await log2.persist(request({ entries: entriesFrom(11, 1, 1) })).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(gap instanceof AssertionError, 'a gap is an assertion failure');
  const after = await log2.persist(request({ entries: entriesFrom(10, 1, 1) })).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(after instanceof StorageError && after.code === 'STOPPED');
  await log2.close();
  const closed = await log2.persist(request({})).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(closed instanceof StorageError, 'calls after close are refused');
});

t.test('a failed idle-sweep batch stops the log like a failed write; what was written stays', async (t) => {
  const dir = t.testdir();
  const sweepsTried: number[] = [];
  const log = await openLevelLog(
    options(dir, {
      coveredDeletesPerWrite: 4,
      coveredSweepDelayMs: 0,
      beforeWrite: (info) => {
        if (info.seq !== null) return;
        sweepsTried.push(info.ops);
        throw new Error('EIO: write failed (injected)');
      },
    }),
  );
  await log.load();
  const requests = [
    request({ hardState: hardState(1, 20), entries: entriesFrom(1, 30, 1) }),
    request({ snapshot: snapshotAt(20, 1, 100) }),
  ];
  for (const req of requests) await log.persist(req);
  await waitForSweeps(
    () => sweepsTried.length > 0,
    () => 'no sweep was tried',
  );
  t.same(sweepsTried, [4], 'one sweep batch of 4 deletes was tried, and no other after it failed');
  const later = await log.persist(request({ entries: entriesFrom(31, 1, 1) })).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(later instanceof StorageError && later.code === 'STOPPED', 'the next persist is refused');
  t.equal(log.sweeps, 0, 'the failed batch is not counted');
  await log.close();
  t.same(
    normal(await loadDir(dir)),
    normal(modelOf(requests)),
    'after a restart the log holds every acknowledged write',
  );
});
