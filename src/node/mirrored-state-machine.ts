import type { Result } from '../util/result.js';
import type { AppliedCommand, ReplicatedStateMachine } from '../raft/state-machine.js';

/**
 * Where a second copy of the state machine is fed. It sees exactly the calls that changed the
 * primary, in the same order: because `apply` is deterministic, the copy's state after the
 * command at index i equals the primary's after it, and can be snapshotted at i elsewhere.
 */
export interface StateMachineMirror {
  /** The primary applied `command` (the mirror keeps no reference to its payload past the call). */
  apply(command: AppliedCommand): void;
  /** The primary replaced its state by `snapshot` successfully. */
  restore(snapshot: Uint8Array): void;
}

/**
 * A ReplicatedStateMachine that forwards every state change to a mirror after the primary made
 * it, so the node host drives both without knowing of the mirror. Results and inline snapshots
 * come from the primary alone.
 */
export class MirroredStateMachine<R> implements ReplicatedStateMachine<R> {
  constructor(
    private readonly primary: ReplicatedStateMachine<R>,
    private readonly mirror: StateMachineMirror,
  ) {}

  apply(command: AppliedCommand): R {
    const result = this.primary.apply(command);
    this.mirror.apply(command);
    return result;
  }

  snapshot(): Uint8Array {
    return this.primary.snapshot();
  }

  restore(snapshot: Uint8Array): Result<void, string> {
    const restored = this.primary.restore(snapshot);
    // A refused snapshot left the primary untouched; the mirror must stay equal to it.
    if (restored.ok) this.mirror.restore(snapshot);
    return restored;
  }
}
