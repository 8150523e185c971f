/**
 * Messages between a node and its snapshot worker (src/server/snapshot-worker.ts). The node sends
 * batches of operations in log order; the worker applies them to its copy of the state machine and
 * answers each `snapshot` operation with the canonical bytes at that point.
 */
import type { LockMachineConfig } from '../statemachine/config.js';

export type MirrorOp =
  /** Consecutive applied commands, packed by AppliedRunWriter (src/node/mirror-codec.ts). */
  | { readonly op: 'apply'; readonly run: Uint8Array }
  | { readonly op: 'restore'; readonly snapshot: Uint8Array }
  /** Encode the state as it is after every earlier operation: the state at log index `index`. */
  | { readonly op: 'snapshot'; readonly index: number }
  /** Report the worker's heap use (for figures). */
  | { readonly op: 'heap'; readonly id: number };

export interface MirrorBatch {
  readonly ops: readonly MirrorOp[];
}

export type MirrorReply =
  | { readonly kind: 'snapshot'; readonly index: number; readonly bytes: Uint8Array }
  | { readonly kind: 'heap'; readonly id: number; readonly usedBytes: number }
  /** The worker cannot go on (a restore refused, a bug): its copy no longer matches the node's. */
  | { readonly kind: 'broken'; readonly message: string };

export interface MirrorWorkerData {
  readonly machine: LockMachineConfig;
}

/** Narrow an incoming value to a MirrorBatch; the worker trusts only its own node, but checks. */
export function isMirrorBatch(value: unknown): value is MirrorBatch {
  return typeof value === 'object' && value !== null && Array.isArray((value as { ops?: unknown }).ops);
}

export function isMirrorReply(value: unknown): value is MirrorReply {
  if (typeof value !== 'object' || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  return kind === 'snapshot' || kind === 'heap' || kind === 'broken';
}
