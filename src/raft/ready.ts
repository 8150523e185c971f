import type { Message, ReadContext } from './messages.js';
import type { Entry, HardState, LogIndex, NodeId, Role, Snapshot } from './types.js';

export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId | null;
}

/** A linearizable read point: serve the read once the state machine has applied `index`. */
export interface ReadState {
  readonly index: LogIndex;
  readonly context: ReadContext;
}

/**
 * Everything the core wants done, drained by `RaftNode.ready()`. The host handles a Ready in this
 * order, and only then calls `advance(ready)`:
 *
 * 1. Send `earlyMessages` at once: they depend on nothing this Ready persists (a leader's appends
 *    and heartbeats; the leader counts its own copy only after `advance`, dissertation §10.2.1).
 * 2. Persist `hardState`, `entries` (replacing any stored suffix from `entries[0].index` on) and
 *    `snapshot` in one atomic write, synced to disk when `mustSync`.
 * 3. Send `messages` (votes, responses: they promise what step 2 made durable).
 * 4. Apply `snapshot` (if any) and then `committed` to the state machine, in order.
 * 5. Call `advance(ready)`.
 *
 * `tick`, `step` and `propose` may be called between `ready()` and `advance()`; a second `ready()`
 * before `advance()` is an assertion failure.
 */
export interface Ready {
  readonly softState: SoftState | null;
  /** Present when term, vote or commit changed since the last Ready. */
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly committed: readonly Entry[];
  readonly earlyMessages: readonly Message[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  /** Term, vote or entries changed: the write must be fsynced before step 3. */
  readonly mustSync: boolean;
}
