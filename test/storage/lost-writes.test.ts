// A node whose disk lost writes it had acknowledged must notice, and refuse to start: LevelDB
// repairs a write-ahead log cut short or with a flipped byte by dropping the tail, and opens, so
// without separate evidence the node would forget entries it acknowledged or a vote it cast
// (Raft §5.2, §5.4). Each fault is planted on a real directory after a real SIGKILL; then the
// other side: a clean restart, a crash between the log's write and the evidence's, and a torn
// evidence copy never cause a refusal.
import t from 'tap';
import type { Test } from 'tap';
import fc from 'fast-check';
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { LevelLogOptions } from '../../src/storage/level-log.js';
import { openLevelLog } from '../../src/storage/level-log.js';
import { LostWritesError, StorageError } from '../../src/storage/errors.js';
import {
  decodeEvidence,
  evidenceBlockBytes,
  evidenceFileNames,
  evidenceRecordBytesMax,
} from '../../src/storage/evidence.js';
import { generationKey, hardStateKey } from '../../src/storage/keys.js';
import { encodeHardState, sealRecord } from '../../src/storage/records.js';
import type { NodeId, PersistentState } from '../../src/raft/types.js';
import type { PersistRequest } from '../../src/node/durable-log.js';
import { command, entriesFrom, hardState, modelOf, n1, n2, normal, request } from './fixtures/log-model.js';
import { buildRequests, stepArb } from './fixtures/request-sequences.js';
import { withRawDb } from './fixtures/dirs.js';

const writer = fileURLToPath(new URL('./fixtures/write-then-die.ts', import.meta.url));
const n3 = 'n3' as NodeId;

function options(dir: string, extra: Partial<LevelLogOptions> = {}): LevelLogOptions {
  return { dir, clusterId: 'lost-writes', nodeId: n1, ...extra };
}

/** Appends `count` synced entries from `from` in a child process that then SIGKILLs itself. */
async function writeThenDie(dir: string, from: number, count: number, term = 1, vote: NodeId = n1): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', writer], {
    env: {
      ...process.env,
      WRITE_DIR: dir,
      WRITE_FROM: String(from),
      WRITE_COUNT: String(count),
      WRITE_TERM: String(term),
      WRITE_VOTE: vote,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, s) => resolve(s)));
  if (signal !== 'SIGKILL') throw new Error(`the writer did not die by SIGKILL: ${stderr}`);
}

/** One run of a node that stops cleanly: opens `dir`'s log, loads it, writes `requests` in order, closes it. */
async function persistAndClose(dir: string, ...requests: PersistRequest[]): Promise<void> {
  const log = await openLevelLog(options(dir));
  await log.load();
  for (const req of requests) await log.persist(req);
  await log.close();
}

async function load(dir: string): Promise<PersistentState> {
  const log = await openLevelLog(options(dir));
  try {
    return await log.load();
  } finally {
    await log.close();
  }
}

async function loadError(dir: string): Promise<unknown> {
  return load(dir).then(
    () => null,
    (error: unknown) => error,
  );
}

const lastIndex = (state: PersistentState): number =>
  state.entries[state.entries.length - 1]?.index ?? state.snapshot?.meta.index ?? 0;

/** LevelDB's files in `dir` with this extension, newest (highest number) first. */
function levelFiles(dir: string, extension: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(extension))
    .sort((a, b) => parseInt(b, 10) - parseInt(a, 10));
}

/** Flips one bit `back` bytes before the end of `dir`'s newest LevelDB write-ahead log. */
function flipWalByte(dir: string, back: number): void {
  const wal = join(dir, levelFiles(dir, '.log')[0] ?? '');
  const bytes = readFileSync(wal);
  const at = bytes.length - back;
  bytes[at] = (bytes[at] as number) ^ 0x01;
  writeFileSync(wal, bytes);
}

/** A refusal with the recovery steps an operator needs, naming the directory. */
function expectRecoverySteps(t: Test, error: StorageError, dir: string): void {
  t.match(error.message, `data directory ${dir}`, 'names the data directory');
  t.match(error.message, 'raftlock members remove n1', 'says how to recover: remove the node...');
  t.match(error.message, 'raftlock members add n1', '...add it back with an empty directory...');
  t.match(error.message, 'raftlock members promote n1', '...and promote it once caught up');
}

t.test('the write-ahead log cut short after SIGKILL: refused, naming the lost entries', async (t) => {
  const dir = t.testdir();
  await writeThenDie(dir, 1, 300);
  const wal = levelFiles(dir, '.log')[0];
  if (wal === undefined) throw new Error('no write-ahead log');
  truncateSync(join(dir, wal), statSync(join(dir, wal)).size - 300);
  const error = await loadError(dir);
  t.ok(error instanceof LostWritesError, `refused with LOST_WRITES (${String(error)})`);
  if (!(error instanceof LostWritesError)) return;
  t.equal(error.code, 'LOST_WRITES');
  const { entries, recorded, found } = error.lostWrites;
  t.equal(recorded.lastIndex, 300, 'the evidence records all 300 acknowledged entries');
  t.ok(found.lastIndex < 300 && found.lastIndex > 280, `the log kept ${found.lastIndex}`);
  t.same(entries, { from: found.lastIndex + 1, to: 300 }, 'the lost entries');
  t.match(error.message, `log entries ${found.lastIndex + 1}..300`);
  t.match(error.message, join(dir, 'raftlock-evidence-'), 'names the evidence file');
  expectRecoverySteps(t, error, dir);
  // LevelDB moved what it kept into a table at that open: the loss is for good, and so is the refusal.
  t.ok((await loadError(dir)) instanceof LostWritesError, 'refused again at the next start');
});

t.test('a flipped byte in the tail of the write-ahead log: refused', async (t) => {
  const dir = t.testdir();
  await writeThenDie(dir, 1, 300);
  // About five batches from the end: LevelDB drops that batch and the ones after it.
  flipWalByte(dir, 1000);
  const error = await loadError(dir);
  t.ok(error instanceof LostWritesError, `refused with LOST_WRITES (${String(error)})`);
  if (error instanceof LostWritesError) {
    t.equal(error.lostWrites.entries?.to, 300, 'entries up to 300 are named as lost');
    expectRecoverySteps(t, error, dir);
  }
});

t.test('only the newest batch lost: written again from the evidence that carries it', async (t) => {
  const dir = t.testdir();
  await writeThenDie(dir, 1, 300);
  // Inside the last batch's record: LevelDB drops that batch alone.
  flipWalByte(dir, 100);
  const log = await openLevelLog(options(dir));
  try {
    t.equal(lastIndex(await log.load()), 300, 'the node starts with all 300 acknowledged entries');
    t.equal(log.replayed, 300, 'batch 300 was written again from its evidence');
  } finally {
    await log.close();
  }
  const again = await openLevelLog(options(dir));
  try {
    t.equal(lastIndex(await again.load()), 300, 'and the log holds it: the next start needs no replay');
    t.equal(again.replayed, null);
  } finally {
    await again.close();
  }
});

t.test('the newest table file deleted: refused, naming the file', async (t) => {
  const dir = t.testdir();
  await writeThenDie(dir, 1, 300);
  t.equal(lastIndex(await load(dir)), 300, 'opening moves the write-ahead log into a table file');
  await writeThenDie(dir, 301, 100);
  const table = levelFiles(dir, '.ldb')[0];
  if (table === undefined) throw new Error('no table file');
  unlinkSync(join(dir, table));
  const error = await loadError(dir);
  t.ok(error instanceof StorageError && error.code === 'CORRUPT_DATA', `refused with CORRUPT_DATA (${String(error)})`);
  if (error instanceof StorageError) {
    t.match(error.message, table, 'names the missing table file');
    t.match(error.message, 'LevelDB finds its files damaged');
    expectRecoverySteps(t, error, dir);
  }
});

t.test('a rolled-back vote: the log restored from an older copy, or its vote rewritten', async (t) => {
  const root = t.testdir();
  const dir = join(root, 'live');
  await persistAndClose(dir, request({ hardState: hardState(3, 5, n2), entries: entriesFrom(1, 5, 3) }));
  const copy = join(root, 'copy');
  mkdirSync(copy);
  for (const name of readdirSync(dir))
    if (!name.startsWith('raftlock-evidence') && name !== 'LOCK') copyFileSync(join(dir, name), join(copy, name));
  await persistAndClose(dir, request({ hardState: hardState(4, 7, n3), entries: entriesFrom(6, 2, 4) }));

  // The log's files put back as they were at term 3; the evidence stays.
  const restored = join(root, 'restored');
  mkdirSync(restored);
  for (const name of readdirSync(copy)) copyFileSync(join(copy, name), join(restored, name));
  for (const name of evidenceFileNames) copyFileSync(join(dir, name), join(restored, name));
  const rolledBack = await loadError(restored);
  t.ok(rolledBack instanceof LostWritesError, `refused with LOST_WRITES (${String(rolledBack)})`);
  if (rolledBack instanceof LostWritesError) {
    t.match(rolledBack.message, 'term 4 (the log is back at term 3)');
    t.match(rolledBack.message, 'the vote for n3 in term 4');
    t.match(rolledBack.message, 'log entries 6..7');
  }

  // The vote rewritten in place, in the same term, behind the log's back.
  await withRawDb(dir, (db) => db.put(hardStateKey, sealRecord(hardStateKey, encodeHardState(hardState(4, 7, n2)))));
  const rewritten = await loadError(dir);
  t.ok(rewritten instanceof LostWritesError, `refused with LOST_WRITES (${String(rewritten)})`);
  if (rewritten instanceof LostWritesError) {
    t.match(rewritten.message, 'the vote for n3 in term 4 (the log holds a vote for n2)');
    expectRecoverySteps(t, rewritten, dir);
  }

  // The term rolled back in place, generation and all: the same refusal by the term alone.
  await withRawDb(dir, async (db) => {
    await db.put(hardStateKey, sealRecord(hardStateKey, encodeHardState(hardState(3, 7, n2))));
    await db.del(generationKey);
  });
  const older = await loadError(dir);
  t.ok(older instanceof LostWritesError, `refused with LOST_WRITES (${String(older)})`);
  if (older instanceof LostWritesError) t.match(older.message, 'the vote for n3 in term 4');
});

t.test('evidence older than the log is no loss: the node starts, and the next loss is still caught', async (t) => {
  const dir = t.testdir();
  await persistAndClose(dir, request({ hardState: hardState(1, 1), entries: entriesFrom(1, 1, 1) }));
  const saved = evidenceFileNames.map((name) => readFileSync(join(dir, name)));
  await persistAndClose(dir, request({ hardState: hardState(2, 3, n2), entries: entriesFrom(2, 2, 2) }));
  evidenceFileNames.forEach((name, i) => writeFileSync(join(dir, name), saved[i] as Buffer));
  t.equal(lastIndex(await load(dir)), 3, 'the log is ahead of its (restored) evidence: nothing was lost');
  await writeThenDie(dir, 4, 50, 2, n2);
  const wal = join(dir, levelFiles(dir, '.log')[0] ?? '');
  truncateSync(wal, statSync(wal).size - 200);
  t.ok((await loadError(dir)) instanceof LostWritesError, 'the writes after it are evidence again');
});

t.test('a clean restart, or a crash between the log and its evidence, is never refused', async (t) => {
  const dir = t.testdir();
  let crashBeforeEvidence = false;
  const requests = [
    request({ hardState: hardState(1, 2), entries: entriesFrom(1, 3, 1) }),
    request({ hardState: hardState(2, 3, n2), entries: entriesFrom(3, 2, 2) }),
    request({ hardState: hardState(2, 4, n2) }),
    request({ hardState: hardState(3, 4, null), entries: entriesFrom(5, 1, 3) }),
  ];
  for (const [i, req] of requests.entries()) {
    const log = await openLevelLog(
      options(dir, {
        beforeEvidenceWrite: () => {
          if (crashBeforeEvidence) throw new Error('killed before the evidence write (injected)');
        },
      }),
    );
    await log.load();
    // Every other request: its batch is durable, its evidence never written.
    crashBeforeEvidence = i % 2 === 1;
    const result = await log.persist(req).then(
      () => 'written',
      (e: unknown) => (e instanceof StorageError ? e.code : String(e)),
    );
    t.equal(
      result,
      crashBeforeEvidence ? 'WRITE_FAILED' : 'written',
      `request ${i + 1}: ${crashBeforeEvidence ? 'the evidence write fails' : 'written'}`,
    );
    await log.close();
    t.same(
      normal(await load(dir)),
      normal(modelOf(requests.slice(0, i + 1))),
      `after request ${i + 1} the node starts with it`,
    );
  }
});

t.test('a torn evidence copy, whichever, never causes a refusal (property)', async (t) => {
  const root = t.testdir();
  let run = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(stepArb, { minLength: 1, maxLength: 10 }),
      fc.nat(evidenceRecordBytesMax),
      fc.boolean(),
      async (steps, cut, midWrite) => {
        run++;
        const requests = buildRequests(steps);
        const dir = join(root, `torn-${run}`);
        await persistAndClose(dir, ...requests);
        const blocks = evidenceFileNames.map((name) => readFileSync(join(dir, name)));
        const generations = blocks.map((block) => {
          const decoded = decodeEvidence(block);
          return decoded.ok ? decoded.value.mark.generation : -1;
        });
        const newest = (generations[1] ?? -1) > (generations[0] ?? -1) ? 1 : 0;
        const [newestName, olderName] =
          newest === 1 ? [evidenceFileNames[1], evidenceFileNames[0]] : [evidenceFileNames[0], evidenceFileNames[1]];
        if (midWrite) {
          // A crash while the newest copy was being written over the older record it held: its
          // first `cut` bytes are new, the rest still the old copy's (zeros where the new record
          // was to make the file longer).
          const older = blocks[1 - newest] as Buffer;
          const newer = blocks[newest] as Buffer;
          const torn = Buffer.alloc(Math.max(older.byteLength, Math.min(newer.byteLength, cut)));
          older.copy(torn);
          newer.copy(torn, 0, 0, Math.min(cut, newer.byteLength));
          writeFileSync(join(dir, newestName), torn);
        } else {
          // The older copy damaged on the disk.
          const damaged = Buffer.from(blocks[1 - newest] as Buffer);
          const at = cut % damaged.byteLength;
          damaged[at] = (damaged[at] as number) ^ 0xff;
          writeFileSync(join(dir, olderName), damaged);
        }
        const state = await load(dir).catch((error: unknown) => error);
        t.same(
          state instanceof Error ? state.message : normal(state as PersistentState),
          normal(modelOf(requests)),
          `run ${run}: starts with every write`,
        );
        rmSync(dir, { recursive: true, force: true });
      },
    ),
    { numRuns: 40 },
  );
});

t.test('missing or unreadable evidence: refused unless the log predates it', async (t) => {
  const root = t.testdir();
  let count = 0;
  const written = async (): Promise<string> => {
    const dir = join(root, `dir-${++count}`);
    await persistAndClose(dir, request({ hardState: hardState(1, 2), entries: entriesFrom(1, 2, 1) }));
    return dir;
  };
  let dir = await written();
  for (const name of evidenceFileNames) unlinkSync(join(dir, name));
  let error = await loadError(dir);
  t.ok(error instanceof StorageError && error.code === 'CORRUPT_DATA', 'both copies deleted: CORRUPT_DATA');
  if (error instanceof StorageError) {
    t.match(error.message, 'evidence files raftlock-evidence-a and raftlock-evidence-b are missing');
    expectRecoverySteps(t, error, dir);
  }
  t.ok(
    (await loadError(dir)) instanceof StorageError,
    'and still refused at the next start: the refusal writes nothing',
  );

  dir = await written();
  for (const name of evidenceFileNames) writeFileSync(join(dir, name), Buffer.alloc(evidenceBlockBytes, 7));
  error = await loadError(dir);
  t.ok(error instanceof StorageError && error.code === 'CORRUPT_DATA', 'both copies damaged: CORRUPT_DATA');
  if (error instanceof StorageError) t.match(error.message, 'no copy of its evidence file is readable');

  dir = await written();
  unlinkSync(join(dir, evidenceFileNames[0]));
  t.equal(lastIndex(await load(dir)), 2, 'one copy missing: the other is enough');
  t.ok(statSync(join(dir, evidenceFileNames[0])).size === evidenceBlockBytes, 'and the missing copy is written again');

  // A directory written before batches were numbered has neither: it starts, and gets both.
  dir = await written();
  for (const name of evidenceFileNames) unlinkSync(join(dir, name));
  await withRawDb(dir, (db) => db.del(generationKey));
  t.equal(lastIndex(await load(dir)), 2, 'a directory from before the evidence starts');
  for (const name of evidenceFileNames) t.ok(decodeEvidence(readFileSync(join(dir, name))).ok, `${name} now exists`);
});

t.test('the evidence overlaps the next batch, yet requests are acknowledged in order', async (t) => {
  const dir = t.testdir();
  const log = await openLevelLog(options(dir));
  await log.load();
  const acknowledged: number[] = [];
  const requests = Array.from({ length: 40 }, (_, i) =>
    request({ hardState: hardState(1, i + 1), entries: entriesFrom(i + 1, 1, 1), sync: i % 3 !== 2 }),
  );
  const written: number[] = [];
  await Promise.all(
    requests.map((req, i) =>
      log
        .persist(req, () => written.push(i))
        .then(() => {
          acknowledged.push(i);
        }),
    ),
  );
  t.same(
    acknowledged,
    requests.map((_, i) => i),
    'synced or not, in submission order',
  );
  t.same(written, acknowledged, 'each batch was reported written before it was acknowledged');
  await log.close();
  t.same(normal(await load(dir)), normal(modelOf(requests)));
});

t.test('a small synced batch is recorded with its redo while LevelDB writes it; others after', async (t) => {
  const dir = t.testdir();
  const events: string[] = [];
  const log = await openLevelLog(
    options(dir, {
      beforeWrite: (info) => events.push(`batch ${String(info.seq)}`),
      beforeEvidenceWrite: (generation) => events.push(`evidence ${generation}`),
    }),
  );
  await log.load();
  const big = request({ hardState: hardState(1, 3), entries: [command(3, 1, evidenceRecordBytesMax)] });
  const requests = [
    request({ hardState: hardState(1, 1), entries: entriesFrom(1, 1, 1) }),
    request({ hardState: hardState(1, 2), entries: entriesFrom(2, 1, 1) }),
    big,
    request({ hardState: hardState(1, 4), entries: entriesFrom(4, 1, 1), sync: false }),
    request({ hardState: hardState(1, 5), entries: entriesFrom(5, 1, 1) }),
    request({ hardState: hardState(1, 6), entries: entriesFrom(6, 1, 1) }),
  ];
  for (const req of requests) await log.persist(req);
  await log.close();
  const seqs = requests.map((req) => req.seq);
  t.same(
    events,
    [
      `batch ${seqs[0]}`,
      'evidence 1', // the first batch after load: after it
      'evidence 2', // its predecessor synced: with its redo, before LevelDB has it
      `batch ${seqs[1]}`,
      `batch ${seqs[2]}`,
      'evidence 3', // too large for a redo: after it
      `batch ${seqs[3]}`, // unsynced: no evidence of its own
      `batch ${seqs[4]}`,
      'evidence 5', // after an unsynced batch: after it
      'evidence 6',
      `batch ${seqs[5]}`,
    ],
    'the order of the batches and their evidence',
  );
  const copies = evidenceFileNames.map((name) => decodeEvidence(readFileSync(join(dir, name))));
  const byGeneration = new Map(copies.flatMap((c) => (c.ok ? [[c.value.mark.generation, c.value] as const] : [])));
  t.ok(byGeneration.get(6)?.redo !== null, 'the newest record carries its batch');
  t.equal(byGeneration.get(5)?.redo, null, 'the one after an unsynced batch does not');
  t.same(normal(await load(dir)), normal(modelOf(requests)));
});

t.test('the batch fails after its redo was recorded: the next start writes it again', async (t) => {
  const dir = t.testdir();
  const failing = request({ hardState: hardState(2, 3, n2), entries: entriesFrom(3, 2, 2) });
  const log = await openLevelLog(
    options(dir, {
      beforeWrite: (info) => {
        if (info.seq === failing.seq) throw new Error('killed before LevelDB had the batch (injected)');
      },
    }),
  );
  await log.load();
  const requests = [request({ hardState: hardState(1, 2), entries: entriesFrom(1, 2, 1) }), failing];
  await log.persist(requests[0] as PersistRequest);
  const result = await log.persist(failing).then(
    () => 'written',
    (e: unknown) => (e instanceof StorageError ? e.code : String(e)),
  );
  t.equal(result, 'WRITE_FAILED', 'the batch itself failed, its evidence was written');
  await log.close();
  const reopened = await openLevelLog(options(dir));
  try {
    t.same(normal(await reopened.load()), normal(modelOf(requests)), 'the node starts with the batch');
    t.equal(reopened.replayed, 2, 'written again from the evidence');
  } finally {
    await reopened.close();
  }
});
