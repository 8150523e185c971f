import type { Command } from 'commander';
import type { ClusterOptions } from './client-common.js';
import { action, clusterOptions, exitCodes, print, sessionlessClient, toJson } from './client-common.js';

/** `raftlock snapshot`: the connected node (the leader unless --endpoints names one node) snapshots now. */
async function runSnapshot(options: ClusterOptions): Promise<number> {
  const { client } = await sessionlessClient(options);
  try {
    const index = await client.snapshot();
    const node = client.welcome?.nodeId ?? '?';
    print(options.json === true ? toJson({ node, index }) : `${node} took a snapshot at index ${index}`);
    return exitCodes.ok;
  } finally {
    client.abandon();
  }
}

export function registerSnapshotCommand(program: Command): void {
  clusterOptions(program.command('snapshot').description('take a snapshot now and compact the log'), true).action(action(runSnapshot));
}
