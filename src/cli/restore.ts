/**
 * `raftlock restore FILE --config cluster.yml`: seeds the data directories of a NEW cluster from a
 * backup. Each node restored gets the backup's snapshot as its stored snapshot, with the cluster
 * file's nodes (those without `join: true`) as the voters, so the nodes start as one cluster at
 * the backup's index and elect a leader among themselves. It runs offline: no node may be running.
 */
import { chmod, readdir, readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { NodeId } from '../raft/types.js';
import { decodeBackup } from '../server/backup-format.js';
import type { Backup } from '../server/backup-format.js';
import { machineConfigFor } from '../embed/embed.js';
import { decodeEnvelope } from '../node/envelope.js';
import { LockStateMachine } from '../statemachine/machine.js';
import { openLevelLog } from '../storage/level-log.js';
import { exitCodes, nodeIdArgument, print } from './client-common.js';
import { loadConfigForNodes } from './load-config.js';

interface RestoreOptions {
  readonly config: string;
  readonly node?: NodeId[];
  readonly keepClusterId?: boolean;
}

function fail(message: string, code: number = exitCodes.refused): number {
  process.stderr.write(`raftlock restore: ${message}\n`);
  return code;
}

/** Whether `dir` is missing or empty (a data directory restore may seed). */
async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
}

export async function runRestore(file: string, options: RestoreOptions): Promise<number> {
  const config = await loadConfigForNodes(options.config);
  if (config === null) return exitCodes.usage;
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    return fail(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`, exitCodes.usage);
  }
  const decoded = decodeBackup(bytes);
  if (!decoded.ok) return fail(`${file} is damaged, refused: ${decoded.error}`);
  const backup: Backup = decoded.value;
  const { header } = backup;
  // The snapshot must be one this cluster's state machine accepts, before anything is written.
  const envelope = decodeEnvelope(backup.snapshot);
  if (!envelope.ok)
    return fail(`${file}: the snapshot at index ${header.index} is not a node snapshot: ${envelope.error}`);
  const restored = new LockStateMachine(machineConfigFor(config)).restore(envelope.value.payload);
  if (!restored.ok)
    return fail(`${file}: the state machine refuses the snapshot at index ${header.index}: ${restored.error}`);
  if (header.clusterId === config.cluster.id && options.keepClusterId !== true) {
    return fail(
      `${config.file} names cluster id ${JSON.stringify(config.cluster.id)}, the backup's own: a restored cluster gets a new id, ` +
        'so that a surviving node of the old cluster can never join it; set a new cluster.id in the file, or pass --keep-cluster-id',
      exitCodes.usage,
    );
  }
  const voters = config.nodes.filter((n) => !n.join).map((n) => n.id);
  if (voters.length === 0) return fail(`${config.file} lists no node without join: true`, exitCodes.usage);
  const wanted = options.node ?? voters;
  const targets = [];
  for (const id of wanted) {
    const node = config.nodes.find((n) => n.id === id);
    if (node === undefined) return fail(`node ${id} is not in ${config.file}`, exitCodes.usage);
    if (node.join)
      return fail(`node ${id} has join: true in ${config.file}: it starts empty and is added later`, exitCodes.usage);
    targets.push(node);
  }
  for (const node of targets) {
    if (!(await isEmptyDir(node.dataDir))) {
      return fail(
        `the data directory of ${node.id}, ${node.dataDir}, is not empty; restore seeds new directories only (move it away first)`,
      );
    }
  }
  const meta = { index: header.index, term: header.term, conf: { voters, learners: [] } };
  for (const node of targets) {
    const log = await openLevelLog({ dir: node.dataDir, clusterId: config.cluster.id, nodeId: node.id });
    try {
      await log.load();
      await log.persist({
        seq: 1,
        hardState: { term: header.term, vote: null, commit: header.index },
        entries: [],
        snapshot: { meta, data: backup.snapshot },
        sync: true,
      });
    } finally {
      await log.close();
    }
    // The directory holds password hashes: its owner only.
    await chmod(node.dataDir, 0o700);
    print(
      `restored ${node.id} into ${node.dataDir}: cluster ${config.cluster.id}, index ${header.index}, term ${header.term}`,
    );
  }
  print(
    `backup of ${header.clusterId} taken ${header.createdAt}; voters ${voters.join(', ')}; start the nodes with raftlock start`,
  );
  return exitCodes.ok;
}

function collectNode(text: string, previous: NodeId[] | undefined): NodeId[] {
  return [...(previous ?? []), nodeIdArgument(text)];
}

export function registerRestoreCommand(program: Command): void {
  program
    .command('restore')
    .description('seed the data directories of a new cluster (from --config) with a backup file')
    .argument('<file>', 'a file written by raftlock backup')
    .option('-c, --config <file>', 'the new cluster: its id, nodes and data directories', 'cluster.yml')
    .option('--node <id>', 'restore only this node (repeatable; default: every node without join: true)', collectNode)
    .option(
      '--keep-cluster-id',
      "allow the backup's own cluster id (only when no node of the old cluster can come back)",
      false,
    )
    .action(async (file: string, options: RestoreOptions) => {
      try {
        process.exitCode = await runRestore(file, options);
      } catch (error) {
        process.exitCode = fail(error instanceof Error ? error.message : String(error));
      }
    });
}
