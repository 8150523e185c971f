import type { RaftConfig } from '../raft/config.js';
import type { CreateRaftCore } from '../raft/node-api.js';
import type { Entry } from '../raft/types.js';
import type { SnapshotMode } from '../node/host.js';
import type { LockMachineConfig } from '../statemachine/config.js';
import type { Notification } from '../statemachine/results.js';
import type { Rng } from '../util/rng.js';
import type { Profile, WorldKnobs } from './faults.js';
import type { LockWorkloadOptions } from './lock-workload.js';
import type { MutantName } from './mutants.js';
import type { SimStateMachine } from './sim-machine.js';

/** What the nodes run: the hash machine on a bare NodeHost, or the lock service's ServerCore. */
export type SimMachineKind = 'hash' | 'locks';

export interface SimulationOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly profile?: Profile;
  /** Overrides the world the seed would draw (noise, request rate). */
  readonly world?: WorldKnobs;
  /** The Raft core to run (default: this package's `createRaftNode`). */
  readonly createRaft?: CreateRaftCore;
  /** A seeded bug to run with (src/sim/mutants.ts): the mutation tests of the simulator itself. */
  readonly mutant?: MutantName;
  /**
   * `locks`: every node runs the production ServerCore (NodeHost + LockStateMachine, batched
   * keepalives, ReadIndex queries, notifications), clients run the lock workload and the lock
   * checkers watch every replica. Default `hash`.
   */
  readonly machineKind?: SimMachineKind;
  readonly lockWorkload?: LockWorkloadOptions;
  readonly lockMachine?: LockMachineConfig;
  /** Leader's keepalive batching interval in lock mode (default 50 ms). */
  readonly keepaliveIntervalMs?: number;
  /** Lock mode: called for every entry a node applies, after the checkers saw it (for tests). */
  readonly onLockApplied?: (node: string, entry: Entry) => void;
  /** Lock mode: the notifications a node's applies emitted (what it would push to its clients). */
  readonly onNotifications?: (node: string, notifications: readonly Notification[]) => void;
  /** The replicated state machine under test in hash mode (default: `HashMachine`). */
  readonly createMachine?: () => SimStateMachine<unknown>;
  /** Client command bytes for the random workload (default: 1–32 random bytes). */
  readonly payload?: (rng: Rng) => Uint8Array;
  /** Random client traffic (default on). Scripts that drive requests themselves turn it off. */
  readonly workload?: boolean;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly snapshotEntries?: number;
  /**
   * `deferred` (default, as the production node's background mode): a node's snapshot request is
   * answered with the state machine's bytes after a seeded random virtual delay, while entries
   * keep applying, InstallSnapshots arrive and the node may crash. `inline`: taken on the spot.
   */
  readonly snapshotMode?: SnapshotMode;
  readonly logTimeTickMs?: number;
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'initialVoters'>>;
  readonly traceRing?: number;
  readonly onTrace?: (line: string) => void;
}
