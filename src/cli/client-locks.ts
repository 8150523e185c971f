import type { Command } from 'commander';
import type { HolderView } from '../statemachine/queries.js';
import type { ClusterOptions } from './client-common.js';
import {
  action,
  clusterOptions,
  exitCodes,
  integerOption,
  print,
  sessionlessClient,
  table,
  toJson,
} from './client-common.js';

/**
 * One holder in the table: `session:token`, `session:first-last` for a run of turns (the tokens
 * its grant reserved), `(shared)` after a reader's.
 */
export function holderText(holder: HolderView): string {
  const tokens = holder.lastToken === undefined ? `${holder.token}` : `${holder.token}-${holder.lastToken}`;
  return `${holder.session}:${tokens}${holder.mode === 'shared' ? '(shared)' : ''}`;
}

interface LocksOptions extends ClusterOptions {
  readonly limit: number;
}

/**
 * `raftlock locks [PREFIX]`: locks by name with their holders (session:token, or session:first-last
 * for a run of turns) and waiters.
 */
async function runLocks(prefix: string | undefined, options: LocksOptions): Promise<number> {
  const { client } = await sessionlessClient(options);
  try {
    const locks = await client.locks(prefix ?? '', options.limit);
    if (options.json === true) {
      print(toJson(locks));
      return exitCodes.ok;
    }
    const rows = [['NAME', 'KIND', 'HOLDERS', 'WAITERS']];
    for (const lock of locks) {
      const holders = lock.holders.map(holderText).join(' ') || '-';
      const kind = lock.kind === 'semaphore' ? `semaphore/${lock.permits}` : lock.kind;
      rows.push([lock.name, kind, holders, String(lock.waiters.length)]);
    }
    print(table(rows));
    return exitCodes.ok;
  } finally {
    client.abandon();
  }
}

export function registerLocksCommand(program: Command): void {
  clusterOptions(
    program
      .command('locks')
      .description('list locks (name, kind, holders as session:token, number of waiters)')
      .argument('[prefix]', 'only names starting with this')
      .option('--limit <n>', 'at most this many locks', integerOption, 1000),
    true,
  ).action(action(runLocks));
}
