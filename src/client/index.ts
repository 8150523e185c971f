/** The raftlock client library: `connect()` and everything it hands out. */
export { connect, RaftlockClient } from './client.js';
export type {
  AcquireOptions,
  CasResult,
  ClientEvents,
  HoldSpec,
  Kv,
  NodeStatus,
  ListOptions,
  PutOptions,
  PutResult,
} from './types.js';
export type { ConnectOptions } from './options.js';
export type { ClientTls, Credentials } from './client-pki.js';
export { defaultPkiDir, pkiEnvVar } from './client-pki.js';
export { Roles, Users } from './admin.js';
export type { AdminAction, Permission, Right, RoleView, UserView, WhoAmI } from '../statemachine/auth-types.js';
export { RaftlockError, isRaftlockError } from './errors.js';
export type { RaftlockErrorCode, RaftlockErrorDetails } from './errors.js';
export { Lock } from './lock.js';
export type { LockKindName } from './lock.js';
export { Election, RwLock, Semaphore } from './recipes.js';
export type { LeaderState, Leadership } from './recipes.js';
export { WatchStream } from './watch.js';
export type { WatchOptions } from './watch.js';
export type { ClientClock, CancelTimer } from './clock.js';
export { systemClock } from './clock.js';
export { ClientSession, safeUntilMs } from './session.js';
export type { WatchEvent } from '../statemachine/results.js';
export type { KeyPage, KeyView, LeaderView, LockView } from '../statemachine/queries.js';
export type { FencingToken, SessionId } from '../statemachine/ids.js';
