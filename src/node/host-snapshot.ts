import type { ConfState, LogIndex, Term } from '../raft/types.js';

/** The applied state's point a snapshot is taken at, and what it needs to complete. */
export interface SnapshotPoint {
  readonly index: LogIndex;
  readonly term: Term;
  readonly conf: ConfState;
  readonly logTimeMs: number;
  /** `bytesSinceSnapshot` at the point: what the snapshot will account for once taken. */
  readonly bytes: number;
  /** Snapshots installed from a leader by then: one installed since makes the completion stale. */
  readonly installs: number;
}

/**
 * Where the host's deferred snapshot stands (SnapshotMode `deferred`; inline snapshots finish in
 * the call that takes them and stay `idle`). One state, never several flags at once:
 * - `idle`: nothing asked for;
 * - `wanted`: an operator asked (`snapshotNow`); the request goes out at the end of the next drain;
 * - `requested`: the caller was asked for the state machine's bytes at `point` and has not answered;
 * - `awaitingCore`: the bytes came, but entries applied early are not yet advanced in the core,
 *   which compacts only what it has advanced; written once it has. `then` is what follows: `wanted`
 *   when an operator asked for a snapshot meanwhile.
 */
export type SnapshotProgress =
  | { readonly kind: 'idle' }
  | { readonly kind: 'wanted' }
  | { readonly kind: 'requested'; readonly point: SnapshotPoint }
  | {
      readonly kind: 'awaitingCore';
      readonly point: SnapshotPoint;
      readonly payload: Uint8Array;
      readonly then: 'idle' | 'wanted';
    };

export const snapshotIdle: SnapshotProgress = { kind: 'idle' };
export const snapshotWanted: SnapshotProgress = { kind: 'wanted' };
