export type { Result } from './util/result.js';
export { ok, err } from './util/result.js';
export type { Rng } from './util/rng.js';
export { createRng } from './util/rng.js';
export type * from './raft/types.js';
/** A node id from a string (a NodeId is a checked string): `startNode({ config, nodeId: nodeId('n1') })`. */
export { nodeId } from './raft/types.js';
export type { Message, MessageType, ReadContext } from './raft/messages.js';
export type { Ready, ReadState, SoftState } from './raft/ready.js';
export type { RaftConfig } from './raft/config.js';
export type { RaftStatus, PeerProgress, ProgressState } from './raft/status.js';
export type { ProposeError, StepError, TransferError, ReadIndexError } from './raft/errors.js';
export type { PeerTransport, PeerLinkStats } from './node/transport.js';
export { TcpTransport, defaultTcpTransportLimits } from './transport/tcp.js';
export type { TcpTransportOptions, TcpTransportLimits, TransportEvent, PeerAddress } from './transport/tcp.js';
export { InProcessHub } from './transport/in-process.js';
export { loadClusterConfig, raftConfigFor } from './config/cluster-config.js';
export type { ClusterConfig, ConfigError } from './config/cluster-config.js';
export { openLevelLog, LevelLog } from './storage/level-log.js';
export type { LevelLogOptions } from './storage/level-log.js';
export { GroupCommitter } from './storage/group-commit.js';
export type { GroupCommitOptions } from './storage/group-commit.js';
export { StorageError, isStorageError } from './storage/errors.js';
export type { StorageErrorCode } from './storage/errors.js';
export type { DurableLog, PersistRequest } from './node/durable-log.js';
export { createRaftNode, RaftNode } from './raft/node.js';
export { describeEntry, describeMessage } from './raft/describe.js';
export type { RaftCore, CreateRaftCore } from './raft/node-api.js';
export * from './statemachine/index.js';
export { NodeHost } from './node/host.js';
export type { HostOutput, HostReply, HostObserver, NodeHostOptions, RequestId } from './node/host.js';
export { encodeEnvelope, decodeEnvelope } from './node/envelope.js';
export { runSimulation, formatFailure, replayCommand } from './sim/simulator.js';
export type { SimulationOutcome, RunOptions } from './sim/simulator.js';
export { Simulation } from './sim/simulation.js';
export type { SimulationOptions, SimulationStats } from './sim/simulation.js';
export { scenarioFromSeed, parseScenario, stringifyScenario } from './sim/scenario.js';
export type { Scenario } from './sim/scenario.js';
export { drawWorld, drawFaultSchedule, describeFault } from './sim/faults.js';
export type { FaultEvent, Profile, WorldKnobs } from './sim/faults.js';
export type { SimStateMachine } from './sim/sim-machine.js';
export { HashMachine } from './sim/hash-machine.js';
export { startNode, startCluster, nodeServerOptions } from './embed/embed.js';
export type { ClusterHandle, ClusterEndpoint, StartClusterOptions, StartNodeOptions } from './embed/embed.js';
export { NodeServer } from './server/node-server.js';
export type { NodeServerOptions } from './server/node-server.js';
export { createLogger } from './util/logger.js';
export type { Logger, LogLevel } from './util/logger.js';
export {
  connect,
  RaftlockClient,
  RaftlockError,
  isRaftlockError,
  Lock,
  Semaphore,
  RwLock,
  Election,
  WatchStream,
  ClientSession,
  safeUntilMs,
  systemClock,
  Users,
  Roles,
} from './client/index.js';
export type {
  ConnectOptions,
  AcquireOptions,
  CasResult,
  ClientEvents,
  HoldSpec,
  Kv,
  NodeStatus,
  KeyPage,
  KeyView,
  ListOptions,
  PutOptions,
  PutResult,
  RaftlockErrorCode,
  RaftlockErrorDetails,
  LockKindName,
  Leadership,
  LeaderState,
  WatchOptions,
  ClientClock,
  CancelTimer,
  ClientTls,
  Credentials,
} from './client/index.js';
