// The public surface of the lock state machine, for the node host, the client and the simulator.
export { LockStateMachine } from './machine.js';
export { encodeCommand, decodeCommand } from './commands.js';
export type { Command, Operation, Fence, RwMode } from './commands.js';
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
  WatchEvent,
} from './results.js';
export { checkFence, eventsSince, getKey, listLocks, observe, sessionInfo } from './queries.js';
export type { EventsAnswer, KeyView, LeaderView, LockView, SessionView } from './queries.js';
export { checkInvariants } from './invariants.js';
export type { LockState } from './state.js';
