import type { NodeId } from '../raft/types.js';
import type { Operation } from '../statemachine/commands.js';
import type { SessionId } from '../statemachine/ids.js';
import type { KeyPage, KeyView } from '../statemachine/queries.js';
import type { NodeStatusView } from '../protocol/client-protocol.js';
import type { RaftlockError } from './errors.js';
import type { Lock, LockKindName } from './lock.js';

/** Options of every way to take a hold. */
export interface AcquireOptions {
  /** How long to wait in the queue; 0 refuses at once with BUSY when the name is taken. */
  readonly waitMs?: number;
  /** Session TTL for this hold; holds with different TTLs use different sessions. */
  readonly ttlMs?: number;
  /** After this hold ends by session expiry, the name stays free of grants this long. */
  readonly lockDelayMs?: number;
  /** Stops waiting (locally and in the queue) when it aborts. */
  readonly signal?: AbortSignal;
}

/** What a hold request sends; built per session, since a lost session means a new one. */
export interface HoldSpec {
  readonly name: string;
  readonly kind: LockKindName;
  readonly request: (session: SessionId, waitMs: number, lockDelayMs: number) => Operation;
}

export interface PutOptions {
  /** Write only if the key's version is this (0: only if the key does not exist). */
  readonly ifVersion?: number;
  /**
   * Write only if `token` is a current grant of `lock` (STALE_TOKEN otherwise). Given a Lock (or
   * the name and token of a hold of this client), the client first checks that the hold is still
   * guaranteed (`Lock.check()`) and does not send the write if it is not.
   */
  readonly fence?: FenceOption;
  /** Delete the key when this client's session ends. */
  readonly ephemeral?: boolean;
}

/** A write's fence: a hold of this client, or a lock name and a token from anywhere. */
export type FenceOption = Lock | { readonly lock: string; readonly token: number };

export interface PutResult {
  readonly version: number;
  readonly createIndex: number;
  readonly modifyIndex: number;
}

export type CasResult = ({ readonly ok: true } & PutResult) | { readonly ok: false; readonly version: number };

/** A page of `kv.list`: `limit` keys at most (default 100, at most 1000), after the key `after`. */
export interface ListOptions {
  readonly limit?: number;
  readonly after?: string;
}

/** The key/value calls of a client, grouped. */
export interface Kv {
  get(key: string): Promise<KeyView | null>;
  list(prefix: string, options?: ListOptions): Promise<KeyPage>;
  put(key: string, value: Uint8Array | string, options?: PutOptions): Promise<PutResult>;
  cas(key: string, ifVersion: number, value: Uint8Array | string): Promise<CasResult>;
  delete(key: string, options?: Omit<PutOptions, 'ephemeral'>): Promise<boolean>;
}

/** Events the client reports; listeners must not throw. */
export interface ClientEvents {
  /** A session can no longer be guaranteed; every hold in it has had its signal aborted. */
  readonly sessionLost: (info: { readonly session: SessionId; readonly error: RaftlockError }) => void;
  readonly connected: (info: { readonly nodeId: NodeId; readonly leader: NodeId | null }) => void;
}

/** A node's own report: role, term, indexes, lag, members, leader and state machine counts. */
export type NodeStatus = NodeStatusView;
