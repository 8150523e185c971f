/**
 * The contract between a deterministic node and the driver that feeds it real time, messages and
 * finished writes (src/server/driver.ts in production, the simulation in src/sim).
 */
import type { Message } from '../raft/messages.js';
import type { NodeId } from '../raft/types.js';
import type { PersistRequest } from './durable-log.js';
import type { UnreachableCause } from './transport.js';

/** What the driver needs of the node it drives (NodeHost and LockNode both fit). */
export interface DrivenNode<O extends DrainedOutput> {
  tick(nowMs: number): void;
  receive(message: Message): void;
  reportUnreachable(peer: NodeId, cause: UnreachableCause): void;
  persisted(seq: number): void;
  drain(): O;
}

/** The part of a drain the driver acts on; the rest goes to `onOutput`. */
export interface DrainedOutput {
  readonly writes: readonly PersistRequest[];
  readonly earlyMessages: readonly Message[];
  readonly messages: readonly Message[];
}
