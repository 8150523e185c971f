// Storage benchmark: the disk's synced-write limit, group commit against it, recovery of a large
// log and a large snapshot. `npx tsx bench/storage.ts [--short] [--dir PATH]`; prints a table.
import { Level } from 'level';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { GroupCommitter } from '../src/storage/group-commit.js';
import { openLevelLog } from '../src/storage/level-log.js';
import { crc32c } from '../src/storage/crc32c.js';
import type { Entry, LogIndex, NodeId, Term } from '../src/raft/types.js';

const short = process.argv.includes('--short');
const dirFlag = process.argv.indexOf('--dir');
const root = mkdtempSync(join(dirFlag >= 0 ? (process.argv[dirFlag + 1] ?? tmpdir()) : tmpdir(), 'raftlock-bench-'));

const phaseMs = short ? 500 : 3000;
const proposerCounts = [1, 8, 64, 512];
const recoveryEntries = short ? 20_000 : 1_000_000;
const snapshotBytes = short ? 4 * 1024 * 1024 : 70 * 1024 * 1024;
const payloadBytes = 100;
const nodeId = 'n1' as NodeId;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const rows: [string, string, string][] = [];
const row = (what: string, value: string, note = ''): void => {
  rows.push([what, value, note]);
  console.error(`  ${what}: ${value} ${note}`);
};
const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mb = (bytes: number): string => `${fmt(bytes / (1024 * 1024), 1)} MB`;
let dirCounter = 0;
const freshDir = (label: string): string => join(root, `${label}-${++dirCounter}`);

function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) total += statSync(join(dir, name)).size;
  return total;
}

function entry(index: number): Entry {
  const data = Buffer.alloc(payloadBytes, index & 0xff);
  return { index: index as LogIndex, term: 1 as Term, kind: 'command', data };
}

/** The physical limit: one small put with sync per operation, one at a time. */
async function rawSyncedRate(): Promise<number> {
  const db = new Level<string, Buffer>(freshDir('raw'), { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  await db.open();
  const value = Buffer.alloc(payloadBytes + 20, 1);
  let ops = 0;
  const start = performance.now();
  while (performance.now() - start < phaseMs) {
    await db.put(`k${String(ops).padStart(12, '0')}`, value, { sync: true });
    ops++;
  }
  const rate = ops / ((performance.now() - start) / 1000);
  await db.close();
  return rate;
}

async function groupCommitRate(proposers: number): Promise<{ rate: number; perBatch: number }> {
  const log = await openLevelLog({ dir: freshDir(`gc${proposers}`), clusterId: 'bench', nodeId });
  await log.load();
  const committer = new GroupCommitter(log);
  let next = 1;
  let acked = 0;
  let seq = 0;
  const start = performance.now();
  const stopAt = start + phaseMs;
  const proposer = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const index = next++;
      await committer.persist({
        seq: ++seq,
        hardState: { term: 1 as Term, vote: nodeId, commit: index as LogIndex },
        entries: [entry(index)],
        snapshot: null,
        sync: true,
      });
      acked++;
    }
  };
  await Promise.all(Array.from({ length: proposers }, proposer));
  const rate = acked / ((performance.now() - start) / 1000);
  const { requests, batches } = committer.stats();
  await committer.close();
  return { rate, perBatch: requests / batches };
}

async function recovery(): Promise<void> {
  const dir = freshDir('recovery');
  const log = await openLevelLog({ dir, clusterId: 'bench', nodeId });
  await log.load();
  const perRequest = 1000;
  const writeStart = performance.now();
  for (let first = 1; first <= recoveryEntries; first += perRequest) {
    const entries = Array.from({ length: Math.min(perRequest, recoveryEntries - first + 1) }, (_, i) =>
      entry(first + i),
    );
    await log.persist({ seq: first, hardState: null, entries, snapshot: null, sync: false });
  }
  await log.close();
  row(
    `write ${fmt(recoveryEntries)} entries (batches of ${perRequest}, unsynced)`,
    `${fmt((performance.now() - writeStart) / 1000, 1)} s`,
  );
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const external = process.memoryUsage().arrayBuffers;
  const loadStart = performance.now();
  const reopened = await openLevelLog({ dir, clusterId: 'bench', nodeId });
  const state = await reopened.load();
  const seconds = (performance.now() - loadStart) / 1000;
  gc();
  const usage = process.memoryUsage();
  if (state.entries.length !== recoveryEntries) throw new Error(`loaded ${state.entries.length} entries`);
  row(
    `recover ${fmt(recoveryEntries)} entries (open + verify + load)`,
    `${fmt(seconds, 2)} s`,
    `${fmt(recoveryEntries / seconds)} entries/s`,
  );
  row(
    `memory held by ${fmt(recoveryEntries)} loaded entries`,
    mb(usage.heapUsed - heapBefore + usage.arrayBuffers - external),
    `heap ${mb(usage.heapUsed - heapBefore)} + buffers ${mb(usage.arrayBuffers - external)}; rss ${mb(usage.rss)}; on disk ${mb(dirBytes(dir))}`,
  );
  await reopened.close();
}

async function snapshot(): Promise<void> {
  const dir = freshDir('snapshot');
  const data = Buffer.alloc(snapshotBytes);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  const log = await openLevelLog({ dir, clusterId: 'bench', nodeId });
  await log.load();
  const writeStart = performance.now();
  await log.persist({
    seq: 1,
    hardState: { term: 1 as Term, vote: nodeId, commit: 1_000_000 as LogIndex },
    entries: [],
    snapshot: {
      meta: { index: 1_000_000 as LogIndex, term: 1 as Term, conf: { voters: [nodeId], learners: [] } },
      data,
    },
    sync: true,
  });
  const writeSeconds = (performance.now() - writeStart) / 1000;
  await log.close();
  row(
    `snapshot write ${mb(snapshotBytes)} (one synced batch)`,
    `${fmt(writeSeconds, 2)} s`,
    `${fmt(snapshotBytes / (1024 * 1024) / writeSeconds)} MB/s; on disk ${mb(dirBytes(dir))}`,
  );
  const readStart = performance.now();
  const reopened = await openLevelLog({ dir, clusterId: 'bench', nodeId });
  const state = await reopened.load();
  const readSeconds = (performance.now() - readStart) / 1000;
  await reopened.close();
  if (state.snapshot === null || crc32c(state.snapshot.data) !== crc32c(data))
    throw new Error('snapshot did not round-trip');
  row(
    `snapshot restore ${mb(snapshotBytes)} (open + verify + load)`,
    `${fmt(readSeconds, 2)} s`,
    `${fmt(snapshotBytes / (1024 * 1024) / readSeconds)} MB/s`,
  );
}

try {
  console.error(`raftlock storage bench${short ? ' (--short)' : ''}, data in ${root}`);
  // The disk is shared and its sync rate drifts: measure it before and after the group-commit runs
  // and compare against the higher of the two (the conservative ratio).
  const rawBefore = await rawSyncedRate();
  const results: { proposers: number; rate: number; perBatch: number }[] = [];
  for (const proposers of proposerCounts) results.push({ proposers, ...(await groupCommitRate(proposers)) });
  const rawAfter = await rawSyncedRate();
  const raw = Math.max(rawBefore, rawAfter);
  row(
    'raw synced put (1 op per fsync)',
    `${fmt(raw)} ops/s`,
    `the physical limit (before ${fmt(rawBefore)}, after ${fmt(rawAfter)})`,
  );
  let ratio512 = 0;
  for (const { proposers, rate, perBatch } of results) {
    const ratio = rate / raw;
    if (proposers === 512) ratio512 = ratio;
    row(
      `group commit, ${proposers} proposers`,
      `${fmt(rate)} entries/s`,
      `${fmt(ratio, 1)}× raw; ${fmt(perBatch, 1)} requests/batch`,
    );
  }
  await recovery();
  await snapshot();
  const widths = [0, 1, 2].map((c) =>
    Math.max(...rows.map((r) => r[c]?.length ?? 0), ['what', 'result', 'notes'][c]?.length ?? 0),
  );
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join(' | ')} |`;
  console.log(line(['what', 'result', 'notes']));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(r));
  console.log(`\ngroup commit at 512 proposers: ${fmt(ratio512, 1)}× the raw synced rate (target ≥ 10×)`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
