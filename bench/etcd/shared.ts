// Many workers on one client of a lock service, as a process with a worker pool uses etcd's
// clientv3, Curator or raftlock's client: one connection and one session (lease) for all of them.
import type { BackendFactory, LockBackend } from './backend.js';

/**
 * A factory whose every `open` is a worker on one shared client: the client is opened by the first
 * worker and closed when the last one closes. Workers' calls run concurrently on it.
 */
export function sharedClientFactory<H>(name: string, openClient: () => Promise<LockBackend<H>>): BackendFactory<H> {
  let shared: Promise<LockBackend<H>> | null = null;
  let workers = 0;
  return {
    name,
    open: async () => {
      shared ??= openClient();
      let client: LockBackend<H>;
      try {
        client = await shared;
      } catch (error) {
        shared = null;
        throw error;
      }
      workers++;
      let closed = false;
      return {
        acquire: (lockName) => client.acquire(lockName),
        release: (handle) => client.release(handle),
        close: async () => {
          if (closed) return;
          closed = true;
          workers--;
          if (workers > 0) return;
          shared = null;
          await client.close();
        },
      };
    },
  };
}
