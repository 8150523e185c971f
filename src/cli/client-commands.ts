import type { Command } from 'commander';
import { registerAcquireCommands } from './client-acquire.js';
import { registerAuthCommands } from './client-auth.js';
import { registerBackupCommands } from './client-backup.js';
import { registerElectCommand } from './client-elect.js';
import { registerKvCommands } from './client-kv.js';
import { registerLockCommand } from './client-lock.js';
import { registerLocksCommand } from './client-locks.js';
import { registerMembersCommands } from './client-members.js';
import { registerSnapshotCommand } from './client-snapshot.js';
import { registerStatusCommand } from './client-status.js';
import { registerWatchCommand } from './client-watch.js';

/**
 * Every client-side command: status, lock, acquire, release, locks, kv, watch, elect, members,
 * leader, snapshot, backup, restore, user, role, whoami.
 */
export function registerClientCommands(program: Command): void {
  registerStatusCommand(program);
  registerLockCommand(program);
  registerAcquireCommands(program);
  registerLocksCommand(program);
  registerKvCommands(program);
  registerWatchCommand(program);
  registerElectCommand(program);
  registerMembersCommands(program);
  registerSnapshotCommand(program);
  registerBackupCommands(program);
  registerAuthCommands(program);
}
