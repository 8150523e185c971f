/**
 * `raftlock backup FILE` and `raftlock restore FILE --config cluster.yml`: the way back after a
 * cluster lost its majority or its data (docs/operations.md, "Disaster recovery").
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import type { Command } from 'commander';
import { decodeBackup } from '../server/backup-format.js';
import type { ClusterOptions } from './client-common.js';
import { action, CliExit, clusterOptions, exitCodes, print, sessionlessClient, toJson } from './client-common.js';
import { registerRestoreCommand } from './restore.js';

/** Progress on stderr, only for a person watching a terminal. */
function progress(done: number, total: number): void {
  if (process.stderr.isTTY !== true) return;
  const percent = total === 0 ? 100 : Math.floor((done * 100) / total);
  process.stderr.write(`\rbackup: ${done} of ${total} bytes (${percent}%)`);
  if (done >= total) process.stderr.write('\n');
}

/**
 * Fetches the file chunk by chunk into FILE.part, checks it end to end (the node computed the
 * checksums over what it encoded), and only then renames it to FILE: a failed backup never
 * leaves a FILE that looks whole.
 */
async function runBackup(file: string, options: ClusterOptions): Promise<number> {
  const { client } = await sessionlessClient(options, { followLeader: true });
  const partial = `${file}.part`;
  const out = await open(partial, 'w', 0o600);
  let closed = false;
  try {
    let chunk = await client.backupChunk(0, 0);
    const { backup, total } = chunk;
    let written = 0;
    for (;;) {
      if (chunk.offset !== written || chunk.total !== total) {
        throw new CliExit(
          exitCodes.unavailable,
          `the node answered offset ${chunk.offset} of ${chunk.total} bytes, expected ${written} of ${total}`,
        );
      }
      await out.write(chunk.bytes, 0, chunk.bytes.byteLength, written);
      written += chunk.bytes.byteLength;
      progress(written, total);
      if (written >= total) break;
      if (chunk.bytes.byteLength === 0)
        throw new CliExit(exitCodes.unavailable, `the node sent an empty chunk at offset ${written}`);
      chunk = await client.backupChunk(backup, written);
    }
    await out.sync();
    await out.close();
    closed = true;
    const decoded = decodeBackup(await readFile(partial));
    if (!decoded.ok)
      throw new CliExit(exitCodes.unavailable, `the backup received is damaged (${decoded.error}); try again`);
    await rename(partial, file);
    const { header } = decoded.value;
    if (options.json === true) print(toJson({ file, ...header, fileBytes: total }));
    else
      print(
        `backup of ${header.clusterId} at index ${header.index} (term ${header.term}, taken on ${header.nodeId}) written to ${file}: ${total} bytes`,
      );
    return exitCodes.ok;
  } catch (error) {
    if (!closed) await out.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw error;
  } finally {
    client.abandon();
  }
}

export function registerBackupCommands(program: Command): void {
  clusterOptions(
    program
      .command('backup')
      .description(
        "write a checksummed snapshot of the cluster's applied state to FILE (admin only; holds password hashes)",
      )
      .argument('<file>', 'where to write the backup (written to FILE.part, renamed when complete)'),
    true,
  ).action(action(runBackup));
  registerRestoreCommand(program);
}
