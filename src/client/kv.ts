import type { Operation } from '../statemachine/commands.js';
import type { KeyPage, KeyView } from '../statemachine/queries.js';
import { answerOf } from './answers.js';
import { RaftlockError } from './errors.js';
import type { Query, WireResult } from '../protocol/client-protocol.js';
import type { ClientSession } from './session.js';
import type { CasResult, FenceOption, Kv, ListOptions, PutOptions, PutResult } from './types.js';
import { keysQueryLimitMax } from '../protocol/client-protocol.js';

/** A fence as the wire carries it. */
export interface FenceSpec {
  readonly lock: string;
  readonly token: number;
}

/** What the key/value calls need from the client. */
export interface KvLink {
  session(): Promise<ClientSession>;
  /** Throws (LEASE_EXPIRED, NOT_HOLDER, ...) when the fence names a hold of this client that is no longer guaranteed. */
  checkHold(fence: FenceSpec): void;
  /** Sends a command; `holdCheck` runs right before it goes out (after any wait for a lane). */
  command(op: Operation, holdCheck?: () => void): Promise<WireResult>;
  read(query: Query): Promise<WireResult>;
}

/** A fence as the wire carries it, from a Lock or its name and token. */
function fenceOf(fence: FenceOption | undefined): FenceSpec | null {
  if (fence === undefined) return null;
  if ('fencingToken' in fence) return { lock: fence.name, token: fence.fencingToken };
  return { lock: fence.lock, token: fence.token };
}

/**
 * The check run right before a fenced write is sent: a hold of this client must still be
 * guaranteed on the clock (`Lock.check()`), else the write is not sent — check, then act with the
 * token; the cluster refuses a stale token whatever happens after.
 */
function holdCheckOf(fence: FenceOption | undefined, link: KvLink): (() => void) | undefined {
  if (fence === undefined) return undefined;
  const spec = fenceOf(fence);
  const check = 'fencingToken' in fence ? () => fence.check() : () => link.checkHold(fence);
  return () => {
    try {
      check();
    } catch (error: unknown) {
      // A hold known to be over (released, or ended by someone else) makes the token stale: the
      // fence's own refusal, decided here without a round trip. A lapsed lease or a lost session
      // keeps its code: the token may still be current on the cluster, but is not to be trusted.
      if (spec !== null && error instanceof RaftlockError && error.code === 'NOT_HOLDER') {
        throw new RaftlockError(
          'STALE_TOKEN',
          `token ${spec.token} of ${spec.lock} is no longer a current grant (${error.message})`,
        );
      }
      throw error;
    }
  };
}

/**
 * The versioned key/value store. Writes act in the client's session (an ephemeral key is deleted
 * when it ends); reads are linearizable. Versions start at 1 and grow by one per write.
 */
export class KvStore implements Kv {
  constructor(private readonly link: KvLink) {}

  /** The key's value and versions (linearizable read), or null when it does not exist. */
  async get(key: string): Promise<KeyView | null> {
    return answerOf(await this.link.read({ kind: 'get', key }), 'key').key;
  }

  /**
   * Keys starting with `prefix` in key order (linearizable read), at most `limit` (default 100, at
   * most 1000) per page. Pass a page's `next` as `after` to read the following page; `next` is
   * null after the last page.
   */
  async list(prefix: string, options: ListOptions = {}): Promise<KeyPage> {
    const limit = options.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > keysQueryLimitMax) {
      throw new RaftlockError(
        'INVALID_ARGUMENT',
        `limit must be an integer from 1 to ${keysQueryLimitMax}, got ${limit}`,
      );
    }
    const query = { kind: 'keys', prefix, after: options.after ?? null, limit } as const;
    const { keys, next } = answerOf(await this.link.read(query), 'keys');
    return { keys, next };
  }

  /** Writes a key, optionally conditional on its version and/or fenced by a lock's token. */
  async put(key: string, value: Uint8Array | string, options: PutOptions = {}): Promise<PutResult> {
    const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
    const session = await this.link.session();
    const result = await this.link.command(
      {
        type: 'put',
        session: session.id,
        key,
        value: bytes,
        ifVersion: options.ifVersion ?? null,
        ephemeral: options.ephemeral ?? false,
        fence: fenceOf(options.fence),
      },
      holdCheckOf(options.fence, this.link),
    );
    const { version, createIndex, modifyIndex } = answerOf(result, 'put');
    return { version, createIndex, modifyIndex };
  }

  /** Compare-and-set on the version: `{ ok: false, version }` reports the current version. */
  async cas(key: string, ifVersion: number, value: Uint8Array | string): Promise<CasResult> {
    try {
      return { ok: true, ...(await this.put(key, value, { ifVersion })) };
    } catch (error: unknown) {
      if (error instanceof RaftlockError && error.code === 'VERSION_MISMATCH') {
        return { ok: false, version: error.version ?? 0 };
      }
      throw error;
    }
  }

  /** Deletes a key; resolves with whether it existed. */
  async delete(key: string, options: Omit<PutOptions, 'ephemeral'> = {}): Promise<boolean> {
    const session = await this.link.session();
    const result = await this.link.command(
      {
        type: 'delete',
        session: session.id,
        key,
        ifVersion: options.ifVersion ?? null,
        fence: fenceOf(options.fence),
      },
      holdCheckOf(options.fence, this.link),
    );
    return answerOf(result, 'deleted').existed;
  }
}
