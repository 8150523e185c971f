// The interface every lock service in the side-by-side benchmark implements: one instance is one
// client with its own session (an etcd lease, a raftlock session), so "32 clients" is 32 instances.
// `acquire` blocks until the lock is held (a waiting lock, never a retry loop) and returns what
// `release` needs; `close` ends the session.

export interface LockBackend<Handle> {
  acquire(name: string): Promise<Handle>;
  release(handle: Handle): Promise<void>;
  close(): Promise<void>;
}

/** Opens clients of one lock service; `index` lets a backend spread clients over endpoints. */
export interface BackendFactory<Handle> {
  /** The column name in the table ("etcd", "raftlock"). */
  readonly name: string;
  open(index: number): Promise<LockBackend<Handle>>;
}
