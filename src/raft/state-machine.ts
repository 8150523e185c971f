import type { LogIndex, Term } from './types.js';
import type { Result } from '../util/result.js';

/** A committed command as the state machine sees it: time comes from the entry, never a clock. */
export interface AppliedCommand {
  readonly index: LogIndex;
  readonly term: Term;
  /** Leader-stamped log time; never decreases along the log, across leaders too. */
  readonly logTimeMs: number;
  /** The client's command bytes; empty for a time-advance tick proposed by an idle leader. */
  readonly payload: Uint8Array;
}

/**
 * What the node host replicates. `apply` must be deterministic (same state and command give the
 * same result and next state on every replica) and must never throw on any payload: a bad command
 * is a deterministic error result.
 */
export interface ReplicatedStateMachine<R> {
  apply(command: AppliedCommand): R;
  /** Canonical bytes: equal states give equal bytes on every replica. */
  snapshot(): Uint8Array;
  /** Replace all state with the snapshot's (hashicorp's Restore contract: discard first). */
  restore(snapshot: Uint8Array): Result<void, string>;
}
