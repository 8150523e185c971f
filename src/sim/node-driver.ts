/**
 * The Simulation's two modes behind one contract. The Simulation owns what every run has — virtual
 * time, faults, the network, the disks, the clocks and the Raft and state-machine checkers — and a
 * mode owns what the nodes run and what their clients do: raft mode (src/sim/raft-mode.ts) runs
 * the hash machine on a bare NodeHost with random writes and reads; lock mode
 * (src/sim/lock-mode.ts) runs the lock service's ServerCore with lock clients and the lock
 * checkers. A mode boots each incarnation of a node as a `NodeDriver`, which the Simulation then
 * feeds time, messages, finished writes and client requests, and drains.
 */
import type { RaftConfig } from '../raft/config.js';
import type { Message } from '../raft/messages.js';
import type { RaftStatus } from '../raft/status.js';
import type { ConfChange, LogIndex, NodeId, PersistentState } from '../raft/types.js';
import type { DrainedOutput } from '../node/driven-node.js';
import type { HostReply } from '../node/host-reply.js';
import type { NodeHostOptions, SnapshotRequest } from '../node/host.js';
import type { UnreachableCause } from '../node/transport.js';
import type { WireResult } from '../protocol/client-protocol.js';
import type { Result } from '../util/result.js';
import type { Rng } from '../util/rng.js';
import type { StateMachineSafetyChecker } from './checkers/state-machine-safety.js';
import type { LockRequest } from './lock-workload.js';
import type { SimulationStats } from './sim-stats.js';

/**
 * A client's request on its way to a node: the hash machine's raw writes and reads (raft mode), or
 * a lock-service request (lock mode). A mode's nodes take only its own kinds.
 */
export type ClientRequest =
  | { readonly kind: 'propose'; readonly requestId: string; readonly payload: Uint8Array }
  | { readonly kind: 'read'; readonly requestId: string }
  | { readonly kind: 'lock'; readonly request: LockRequest };

/** A request and the node (by name) its client sends it to. */
export interface AddressedRequest {
  readonly node: string;
  readonly request: ClientRequest;
}

/** The answer a scripted request got: the host's reply (raft mode) or the lock protocol's result. */
export type ClientAnswer =
  | { readonly kind: 'host'; readonly reply: HostReply<unknown> }
  | { readonly kind: 'lock'; readonly result: WireResult };

/** Scripted requests (the Simulation's API, the operator) are numbered `s1`, `s2`, ...; clients' are not. */
export function scriptedRequestId(counter: number): string {
  return `s${counter}`;
}

export function isScriptedRequest(requestId: string): boolean {
  return requestId.startsWith('s');
}

/** The part of a drain the Simulation acts on itself: disk, network and snapshot requests. */
export interface NodeOutput extends DrainedOutput {
  readonly snapshotRequests: readonly SnapshotRequest[];
}

/**
 * One running incarnation of a simulated node. After `drain`, the Simulation hands the writes to
 * the disk and the messages to the network, then calls `reportApplied` and `answerClients` for the
 * rest of that drain — or, when a fault crashes the node on the spot, only `reportApplied`: what
 * the node applied happened; the writes, messages and replies it asked for never do.
 */
export interface NodeDriver {
  status(): RaftStatus;
  readonly applied: LogIndex;
  /** Requests waiting for an answer inside the node (the liveness phase waits for none). */
  readonly pendingCount: number;
  tick(localMs: number): void;
  receive(message: Message): void;
  reportUnreachable(peer: NodeId, cause: UnreachableCause): void;
  persisted(seq: number): void;
  request(request: ClientRequest): void;
  proposeConfChange(requestId: string, change: ConfChange): void;
  /** A fault's leadership transfer: nobody waits for its answer. */
  transferLeadership(requestId: string, to: NodeId): void;
  drain(): NodeOutput;
  /** What the last drain applied, to the checkers and to whoever watches applies (lock pushes). */
  reportApplied(): void;
  /** Hand the last drain's replies to the clients. */
  answerClients(): void;
  /** Fail-stop after a failed write: every request still waiting is answered (outcome unknown). */
  stop(reason: string): void;
  /** Deferred snapshots: the state machine's bytes now, at `applied`. */
  snapshot(): Uint8Array;
  snapshotTaken(index: LogIndex, bytes: Uint8Array): boolean;
  /** A hash of the replica's whole state (equal states, equal hashes). */
  stateHash(): number;
}

/** What the Simulation lends its mode: virtual time, the trace, the counters, the state checker. */
export interface SimContext {
  nowMs(): number;
  trace(text: string): void;
  readonly stats: SimulationStats;
  readonly stateChecker: StateMachineSafetyChecker;
  /** The node a Raft id belongs to now (clients know nodes by name; leader hints carry the id). */
  nameOf(address: NodeId): string | null;
  /** Whether the link from one node to another (by name) is cut now: lock mode's forwarding links. */
  linkCut(from: string, to: string): boolean;
  /** Whether the node's process runs now (up and not paused). */
  running(name: string): boolean;
}

/** Host settings every node of a run shares. */
export type HostSettings = Required<
  Pick<
    NodeHostOptions<unknown>,
    'createRaft' | 'tickMs' | 'logTimeTickMs' | 'snapshotEntries' | 'snapshotMode' | 'mutations'
  >
>;

/** One incarnation to boot: its Raft settings, what its disk held, its own random stream and clock. */
export interface NodeBoot {
  readonly name: string;
  readonly raft: RaftConfig;
  readonly persisted: PersistentState;
  readonly rng: Rng;
  readonly nowMs: number;
}

/** The host options an incarnation boots with: the run's shared settings and what its boot brings. */
export function bootHostOptions(
  settings: HostSettings,
  node: NodeBoot,
): HostSettings & Pick<NodeHostOptions<unknown>, 'raft' | 'persisted' | 'rng' | 'nowMs'> {
  return { ...settings, raft: node.raft, persisted: node.persisted, rng: node.rng, nowMs: node.nowMs };
}

/** What the nodes run and what their clients do. */
export interface SimMode {
  /** Start an incarnation on what its disk held; an error when the node refuses to start. */
  boot(node: NodeBoot): Result<NodeDriver, string>;
  /** The node's process ended (crash, fail-stop, replacement): its clients' open requests are lost. */
  nodeLost(name: string): void;
  /** Throws when a script sends a request this mode's nodes do not take. */
  checkScripted(request: ClientRequest): void;
  /** Nobody listens on the node's port: the client learns at once that nothing happened. */
  refuse(node: string, request: ClientRequest): void;
  /** When the random clients send next (null: they never do). */
  nextRequestAtMs(): number | null;
  /** The random clients' requests due at `nowMs`. */
  dueRequests(nowMs: number): readonly AddressedRequest[];
  /**
   * When traffic between nodes that the mode carries itself (lock mode's forwarded requests) is
   * due next; it flows in the liveness phase too, as it is not new client traffic.
   */
  nextForwardAtMs(): number | null;
  /** Its requests due at `nowMs`, addressed to the nodes they go to. */
  dueForwards(nowMs: number): readonly AddressedRequest[];
  answerOf(requestId: string): ClientAnswer | undefined;
  /** Client requests sent and not answered yet. */
  readonly openRequests: number;
  /** The highest log index a client was told its write is at. */
  readonly maxAcknowledgedIndex: number;
  /** The clients' counters folded into `stats`. */
  collectStats(stats: SimulationStats): void;
}
