import type { Command } from 'commander';
import type { ClusterOptions } from './client-common.js';
import { action, clusterOptions, exitCodes, print, sessionlessClient, toJson } from './client-common.js';

/** `raftlock snapshot`: the leader (or the one node --endpoints names) snapshots now. */
async function runSnapshot(options: ClusterOptions): Promise<number> {
  // One endpoint named: snapshot that node, not the leader it would lead us to.
  const single = (options.endpoints ?? '').split(',').filter((e) => e.trim() !== '').length === 1;
  const { client } = await sessionlessClient(options, { followLeader: !single });
  try {
    const index = await client.snapshot();
    const node = client.welcome?.nodeId ?? '?';
    if (options.json === true) print(toJson({ node, index }));
    // With background snapshots (the default) the node answers once the snapshot has started.
    else print(`${node} snapshots its state through index ${index}`);
    return exitCodes.ok;
  } finally {
    client.abandon();
  }
}

export function registerSnapshotCommand(program: Command): void {
  clusterOptions(program.command('snapshot').description('take a snapshot now and compact the log'), true).action(
    action(runSnapshot),
  );
}
