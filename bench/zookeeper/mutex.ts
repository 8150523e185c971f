// Curator's InterProcessMutex recipe through node-zookeeper-client, as a `LockBackend`: one
// instance is one ZooKeeper session (one connection). acquire creates an ephemeral sequential node
// under the lock's node (creating that node when missing; Curator makes it a container node, this
// client has no container mode, so it is persistent), lists the contenders, and either holds the
// lock (lowest sequence) or watches its predecessor's node and looks again when it goes; release
// deletes the node, retrying through a lost connection (Curator's "guaranteed" delete). A create
// whose reply was lost to a broken connection is found again by its guid (Curator's protection
// mode), and a failed acquire deletes its node, so no orphan of this session blocks the queue.
import { randomUUID } from 'node:crypto';
import { createClient, CreateMode, Exception, State } from 'node-zookeeper-client';
import type { Event, Stat } from 'node-zookeeper-client';
import type { BackendFactory, LockBackend } from '../etcd/backend.js';
import { findProtected, lockTurn, protectedLockNodeName } from './lock-order.js';

export type ZooKeeperLockHandle = { readonly path: string };

export type ZooKeeperClientOptions = {
  /** ms; the session outlives a server's death by this long (the failover workload needs it to). */
  readonly sessionTimeoutMs?: number;
  /** ms to reach a server and open the session. */
  readonly connectTimeoutMs?: number;
};

/**
 * The calls this recipe makes on a ZooKeeper session, each in the one form it uses:
 * node-zookeeper-client's `Client` has them all, and the tests drive the recipe through a stand-in
 * whose events can be held back.
 */
export interface ZooKeeperSession {
  create(path: string, mode: number, callback: (error: Error | Exception | null, path: string) => void): void;
  mkdirp(path: string, callback: (error: Error | Exception | null, path: string) => void): void;
  getChildren(path: string, callback: (error: Error | Exception | null, children: string[]) => void): void;
  getData(path: string, watcher: (event: Event) => void, callback: (error: Error | Exception | null) => void): void;
  exists(path: string, callback: (error: Error | Exception | null, stat: Stat | null) => void): void;
  remove(path: string, version: number, callback: (error: Error | Exception | null) => void): void;
  getState(): State;
  once(event: 'connected', listener: () => void): unknown;
  close(): void;
}

/** Every lock of the benchmark lives under this node. */
export const locksRoot = '/raftlock-bench-locks';

/** A client-side failure after which the same request may simply be sent again on the reconnected session. */
function isConnectionLoss(error: unknown): boolean {
  return (
    error instanceof Exception &&
    (error.getCode() === Exception.CONNECTION_LOSS || error.getCode() === Exception.OPERATION_TIMEOUT)
  );
}
const codeOf = (error: unknown): number | null => (error instanceof Exception ? error.getCode() : null);

/**
 * A waiter whose predecessor's watch has not fired for this long asks whether the predecessor still
 * exists, and again after twice as long each time, up to `lookAgainMaxMs` (see predecessorGone).
 */
const lookAgainMs = 100;
const lookAgainMaxMs = 8_000;

/** A lost connection is retried for this long (a leader's death takes ZooKeeper seconds to get over). */
const retryForMs = 60_000;

export class ZooKeeperLockClient implements LockBackend<ZooKeeperLockHandle> {
  /** Watches this client waits on, ended with an error when it closes. */
  private readonly waits = new Set<(error: Error) => void>();
  /** Lock nodes known to exist (created or seen by this client). */
  private readonly knownLockNodes = new Set<string>();
  private closed = false;

  private constructor(private readonly client: ZooKeeperSession) {}

  /** The recipe over a session that is already connected. */
  static over(session: ZooKeeperSession): ZooKeeperLockClient {
    return new ZooKeeperLockClient(session);
  }

  /** Opens a session with one server of `connectionString` (the client picks one at random). */
  static open(connectionString: string, options: ZooKeeperClientOptions = {}): Promise<ZooKeeperLockClient> {
    const client = createClient(connectionString, {
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      spinDelay: 100,
      retries: 0,
    });
    const limitMs = options.connectTimeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        client.close();
        reject(new Error(`no ZooKeeper session with ${connectionString} within ${limitMs}ms`));
      }, limitMs);
      client.once('connected', () => {
        clearTimeout(timer);
        resolve(new ZooKeeperLockClient(client));
      });
      client.connect();
    });
  }

  /** Runs one request, sending it again while the connection is lost (for at most `retryForMs`). */
  private async retrying<T>(
    what: string,
    request: (done: (error: Error | Exception | null, value: T) => void) => void,
  ): Promise<T> {
    const started = Date.now();
    for (;;) {
      if (this.closed) throw new Error(`ZooKeeper client closed during ${what}`);
      try {
        return await new Promise<T>((resolve, reject) =>
          request((error, value) => (error === null ? resolve(value) : reject(error))),
        );
      } catch (error) {
        if (!isConnectionLoss(error) || Date.now() - started > retryForMs) throw wrap(what, error);
        await this.connected();
      }
    }
  }

  /** Resolves once the session is connected again (at once when it is). */
  private connected(): Promise<void> {
    if (this.client.getState() === State.SYNC_CONNECTED) return Promise.resolve();
    return new Promise((resolve) => this.client.once('connected', () => resolve()));
  }

  private async createContender(lockNode: string, guid: string): Promise<string> {
    const name = `${lockNode}/${protectedLockNodeName(guid)}`;
    const started = Date.now();
    for (;;) {
      if (this.closed) throw new Error(`ZooKeeper client closed while creating a node under ${lockNode}`);
      try {
        return await new Promise<string>((resolve, reject) =>
          this.client.create(name, CreateMode.EPHEMERAL_SEQUENTIAL, (error, path) =>
            error === null ? resolve(path) : reject(error),
          ),
        );
      } catch (error) {
        if (codeOf(error) === Exception.NO_NODE) {
          await this.retrying<string>(`creating ${lockNode}`, (done) => this.client.mkdirp(lockNode, done));
          continue;
        }
        if (!isConnectionLoss(error) || Date.now() - started > retryForMs)
          throw wrap(`creating a node under ${lockNode}`, error);
        // The create may have happened: look for it by its guid before creating another.
        await this.connected();
        const children = await this.children(lockNode);
        const mine = findProtected(children, guid);
        if (mine !== undefined) return `${lockNode}/${mine}`;
      }
    }
  }

  private children(lockNode: string): Promise<string[]> {
    return this.retrying<string[]>(`listing ${lockNode}`, (done) =>
      this.client.getChildren(lockNode, (error, children) => done(error, children)),
    );
  }

  /**
   * Waits until `path` is deleted or changes (the watch set by reading it fires); resolves at once
   * when it is already gone. The caller looks at the contenders again either way, as Curator does.
   * One addition to Curator: node-zookeeper-client sometimes hands over a predecessor's deletion
   * only with the next packet the server sends, the ping a third of the session timeout later
   * (10 s), and every waiter behind stalls with it (docs/benchmarks.md, "ZooKeeper"). So a wait
   * without an event asks whether the node still exists after `lookAgainMs`, then at doubling
   * intervals: the answer is such a packet, and a node found gone ends the wait. No watch is added
   * and no listing made, so a deep queue of long waits costs the servers little.
   */
  private predecessorGone(path: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let lookAgain: NodeJS.Timeout | undefined;
      const look = (delayMs: number): void => {
        lookAgain = setTimeout(() => {
          this.client.exists(path, (error, stat) => {
            if (settled) return;
            if (error === null && stat === null) end(null);
            else look(Math.min(2 * delayMs, lookAgainMaxMs));
          });
        }, delayMs);
      };
      look(lookAgainMs);
      const end = (error: Error | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(lookAgain);
        this.waits.delete(end);
        if (error === null) resolve();
        else reject(error);
      };
      this.waits.add(end);
      this.retrying<boolean>(`watching ${path}`, (done) =>
        this.client.getData(
          path,
          () => end(null),
          (error) => (codeOf(error) === Exception.NO_NODE ? done(null, false) : done(error, true)),
        ),
      ).then(
        (present) => {
          if (!present) end(null);
        },
        (error: unknown) => end(error instanceof Error ? error : new Error(String(error))),
      );
    });
  }

  async acquire(name: string): Promise<ZooKeeperLockHandle> {
    const lockNode = `${locksRoot}/${name}`;
    const ours = await this.createContender(lockNode, randomUUID());
    const ourName = ours.slice(lockNode.length + 1);
    try {
      for (;;) {
        const turn = lockTurn(await this.children(lockNode), ourName);
        if (turn.kind === 'holds') return { path: ours };
        await this.predecessorGone(`${lockNode}/${turn.predecessor}`);
      }
    } catch (error) {
      // Never leave this session's node in the queue: it would block every later contender.
      if (!this.closed) await this.release({ path: ours }).catch(() => undefined);
      throw error;
    }
  }

  async release(handle: ZooKeeperLockHandle): Promise<void> {
    try {
      await this.retrying<null>(`deleting ${handle.path}`, (done) =>
        this.client.remove(handle.path, -1, (error) => done(error, null)),
      );
    } catch (error) {
      // A retried delete whose first attempt went through finds no node: it is released.
      if (codeOf(errorCause(error)) !== Exception.NO_NODE) throw error;
    }
  }

  /** Ends every wait of this client, then the session (which deletes its ephemeral nodes). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const end of [...this.waits]) end(new Error('ZooKeeper client closed'));
    this.client.close();
  }
}

/** `error` with what was being done, keeping ZooKeeper's exception as its cause. */
function wrap(what: string, error: unknown): Error {
  return new Error(
    `ZooKeeper ${what}: ${error instanceof Exception ? error.getName() : error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}
const errorCause = (error: unknown): unknown => (error instanceof Error ? error.cause : error);

/**
 * Clients of one ensemble, each its own session with a server the client picks at random from the
 * connection string (ZooKeeper's own client balancing).
 */
export function zookeeperFactory(
  connectionString: string,
  options: ZooKeeperClientOptions = {},
): BackendFactory<ZooKeeperLockHandle> {
  return { name: 'zookeeper', open: () => ZooKeeperLockClient.open(connectionString, options) };
}
