/**
 * Storage metrics: each batch the group committer writes (how long its write and fsync took, how
 * many entries one fsync covered, how many bytes went out), and, at each scrape, the size of the
 * log and of the data directory on disk.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { Gauge } from 'prom-client';
import type { RaftStatus } from '../raft/status.js';
import { entryBytes } from '../raft/types.js';
import type { PersistRequest } from '../node/durable-log.js';
import type { CounterSeries, HistogramSeries } from './fast-metrics.js';
import { FastCounter, FastHistogram } from './fast-metrics.js';
import { batchBounds } from './raft-metrics.js';
import { sampledGauges } from './sampled-gauge.js';

/** Write and fsync durations, in seconds: 100 µs to 5 s. */
export const fsyncBounds: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

export class StorageMetrics {
  private readonly fsyncSeconds: HistogramSeries;
  private readonly unsyncedSeconds: HistogramSeries;
  private readonly entriesPerSync: HistogramSeries;
  private readonly requestsPerBatch: HistogramSeries;
  private readonly bytesWritten: CounterSeries;

  constructor(registry: Registry, status: () => RaftStatus | null, dataDir: string | null) {
    const seconds = new FastHistogram(
      registry,
      'raftlock_storage_fsync_duration_seconds',
      'Durable writes of the log: one batch written and fsynced (sync="true"), or written without fsync (sync="false": snapshots and commit-only changes).',
      fsyncBounds,
      ['sync'],
    );
    this.fsyncSeconds = seconds.at1('true');
    this.unsyncedSeconds = seconds.at1('false');
    this.entriesPerSync = new FastHistogram(
      registry,
      'raftlock_storage_entries_per_sync',
      'Log entries made durable by one fsync (group commit on the storage side).',
      batchBounds,
    ).at0();
    this.requestsPerBatch = new FastHistogram(
      registry,
      'raftlock_storage_requests_per_batch',
      'Write requests (Readies and snapshots) the group committer merged into one batch.',
      batchBounds,
    ).at0();
    this.bytesWritten = new FastCounter(
      registry,
      'raftlock_storage_written_bytes_total',
      'Bytes of log entries and snapshots written (entries as the Raft size limits count them; keys and checksums not included).',
    ).at0();
    const statusGauge = sampledGauges(registry, status);
    statusGauge(
      'raftlock_storage_log_entries',
      "Entries in this node's log after its snapshot (what the next compaction removes).",
      (s) => Math.max(0, s.lastIndex - s.snapshotIndex),
    );
    if (dataDir !== null) {
      new Gauge({
        name: 'raftlock_storage_disk_bytes',
        help: "Size of the files in this node's data directory (log, snapshots and LevelDB's own files).",
        registers: [registry],
        async collect() {
          this.set(await directoryBytes(dataDir));
        },
      });
    }
  }

  /** One batch is durable: `requests` merged into `batch`, written in `seconds`. */
  batchWritten(batch: PersistRequest, requests: number, seconds: number): void {
    let bytes = batch.snapshot === null ? 0 : batch.snapshot.data.byteLength;
    for (const entry of batch.entries) bytes += entryBytes(entry);
    this.bytesWritten.value += bytes;
    this.requestsPerBatch.observe(requests);
    if (batch.sync) {
      this.fsyncSeconds.observe(seconds);
      this.entriesPerSync.observe(batch.entries.length);
    } else {
      this.unsyncedSeconds.observe(seconds);
    }
  }
}

/** Total size of the regular files under `dir` (0 when it cannot be read, e.g. while it closes). */
async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      const info = await stat(path);
      total += info.isDirectory() ? await directoryBytes(path) : info.size;
    } catch {
      // Removed between readdir and stat (LevelDB compacting): it no longer counts.
    }
  }
  return total;
}
