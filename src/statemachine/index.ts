// The public surface of the lock state machine, for the node host, the client and the simulator.
export { LockStateMachine } from './machine.js';
export { encodeCommand, decodeCommand } from './commands.js';
export { stampPrincipal } from './commands.js';
export type { ClientCommand, Command, Operation, Fence, RwMode } from './commands.js';
export { adminRole, allRights, rootUser } from './auth-types.js';
export type {
  AdminAction,
  AdminCommand,
  AdminCommandType,
  Permission,
  Right,
  RoleView,
  UserView,
  WhoAmI,
} from './auth-types.js';
export { nameProblem, passwordHashProblem, prefixProblem, rightsProblem } from './auth-validate.js';
export type { AuthStore } from './auth-store.js';
export {
  describeDenial,
  describeSessionDenial,
  describeUnknownUser,
  isAdmin,
  mayActOnSession,
  mayUse,
  mayWatch,
  userExists,
} from './authorize.js';
export { neededRight } from './access.js';
export { adminCommandOf, passwordOf } from './admin-action.js';
export { defaultLockMachineConfig, validateLockMachineConfig } from './config.js';
export type { LockMachineConfig } from './config.js';
export { sessionId, fencingToken } from './ids.js';
export type { SessionId, FencingToken } from './ids.js';
export type {
  ApplyOutput,
  CommandResult,
  CycleStep,
  LockKind,
  Notification,
  OkValue,
  ResultCode,
  RevokeReason,
  WatchEvent,
} from './results.js';
export {
  authRevision,
  checkFence,
  eventsSince,
  getKey,
  listLocks,
  listRoles,
  listUsers,
  observe,
  passwordHashOf,
  sessionInfo,
  sessionOwner,
  whoami,
} from './queries.js';
export type { EventsAnswer, KeyView, LeaderView, LockView, SessionView } from './queries.js';
export { checkInvariants } from './invariants.js';
export { holdsEndedByRestore } from './restore-diff.js';
export { revokeReasons } from './results.js';
export type { LockState } from './state.js';
