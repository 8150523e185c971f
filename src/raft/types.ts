import type { Brand } from '../util/brand.js';
import { assert } from '../util/assert.js';

/** A cluster member's id, as written in cluster.yml (`n1`, `n2`, ...). */
export type NodeId = Brand<string, 'NodeId'>;
/** A Raft term: a non-negative safe integer that never decreases on a node (Raft §5.1). */
export type Term = Brand<number, 'Term'>;
/** A log position: 1-based; 0 means "before the first entry". */
export type LogIndex = Brand<number, 'LogIndex'>;

const nodeIdPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function isValidNodeId(value: unknown): value is NodeId {
  return typeof value === 'string' && nodeIdPattern.test(value);
}

export function nodeId(value: string): NodeId {
  assert(isValidNodeId(value), () => `invalid node id ${JSON.stringify(value)}`);
  return value;
}

export function term(value: number): Term {
  assert(Number.isSafeInteger(value) && value >= 0, () => `invalid term ${value}`);
  return value as Term;
}

export function logIndex(value: number): LogIndex {
  assert(Number.isSafeInteger(value) && value >= 0, () => `invalid log index ${value}`);
  return value as LogIndex;
}

/** Identifies one entry: Log Matching (Raft §5.3) says equal ids imply equal prefixes. */
export interface EntryId {
  readonly term: Term;
  readonly index: LogIndex;
}

/** Where a member added with its addresses (addMember) listens, each as `host:port`. */
export interface AddressedMember {
  readonly node: NodeId;
  readonly peer: string;
  readonly client: string;
}

/** Membership: voters count for quorums; learners receive the log but never vote. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /**
   * The addresses of the members that were added with them, in the order they were added; absent
   * when there are none. They belong to the configuration, so a snapshot keeps them once the
   * addMember entry that carried them is compacted away. The core never reads them.
   */
  readonly addresses?: readonly AddressedMember[];
}

/** One-server-at-a-time membership changes (Raft dissertation §4.1). */
export type ConfChange =
  | { readonly type: 'addLearner'; readonly node: NodeId }
  /**
   * As addLearner, with the addresses (`host:port`) where the new member listens, so every node
   * learns them from the log instead of from its own cluster.yml.
   */
  | { readonly type: 'addMember'; readonly node: NodeId; readonly peer: string; readonly client: string }
  | { readonly type: 'promoteLearner'; readonly node: NodeId }
  | { readonly type: 'removeNode'; readonly node: NodeId };

/**
 * A log entry. `noop` is what a new leader appends to commit its term (Raft §5.4.2, §8);
 * `command` carries the host's opaque bytes; `config` carries a membership change, which takes
 * effect on every node as soon as it is appended (dissertation §4.1), committed or not.
 */
export type Entry = EntryId &
  (
    | { readonly kind: 'noop' }
    | { readonly kind: 'command'; readonly data: Uint8Array }
    | { readonly kind: 'config'; readonly change: ConfChange }
  );

/** What must be durable before a node answers anything that depends on it (Raft Figure 2). */
export interface HardState {
  readonly term: Term;
  readonly vote: NodeId | null;
  readonly commit: LogIndex;
}

export interface SnapshotMeta {
  /** The last entry the snapshot covers. */
  readonly index: LogIndex;
  readonly term: Term;
  /** Membership in force at `index`. */
  readonly conf: ConfState;
}

/** A state machine image at `meta.index`; `data` is opaque to Raft. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/**
 * Everything a node persisted, handed back to it on restart. `entries` follow the snapshot
 * (or index 1) without gaps; the storage layer verified that before building this value.
 */
export interface PersistentState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Approximate encoded size of an entry, for the byte limits on appends and uncommitted data. */
export function entryBytes(entry: Entry): number {
  switch (entry.kind) {
    case 'noop':
      return 16;
    case 'command':
      return 16 + entry.data.byteLength;
    case 'config':
      return 16 + 8 + entry.change.node.length;
  }
}

export const emptyHardState: HardState = { term: 0 as Term, vote: null, commit: 0 as LogIndex };

export function emptyPersistentState(): PersistentState {
  return { hardState: emptyHardState, snapshot: null, entries: [] };
}
