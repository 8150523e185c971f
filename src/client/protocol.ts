/**
 * The client side of the client protocol (docs/client.md): the frames a client sends, and checked
 * views of the frames it receives. Incoming frames are validated here, once, so the rest of the
 * client works with typed values and never trusts the wire.
 */
import { isValidNodeId } from '../raft/types.js';
import type { WatchEvent } from '../statemachine/results.js';
import { revokeReasons } from '../statemachine/results.js';
import type { MemberAddress, PushEvent, PushFrame, Welcome } from '../protocol/client-protocol.js';
import { isPlainObject } from '../protocol/schema.js';

// The frames' types are the protocol's own (one definition for both ends); this module adds the
// client's checked reading of what arrives.
export type {
  ClientOp,
  HelloAuth,
  MemberAddress,
  MembersAction,
  PushEvent,
  PushFrame,
  Query,
  RequestFrame,
  Welcome,
} from '../protocol/client-protocol.js';

export type Fields = Readonly<Record<string, unknown>>;

/**
 * A Response's result: a map with a string `code` (OK or a refusal); the other fields depend on
 * the code and the request, and are read with the guards below where they are used.
 */
export interface WireResult extends Fields {
  readonly code: string;
}

export interface ResponseFrame {
  readonly type: 'Response';
  readonly id: number;
  readonly result: WireResult;
}

export interface ErrorFrameView {
  readonly type: 'Error';
  readonly code: string;
  readonly message: string;
}

export type IncomingFrame = Welcome | ResponseFrame | PushFrame | ErrorFrameView;

export function isUint(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export function fieldsOf(value: unknown): Fields | null {
  return isPlainObject(value) ? value : null;
}

function members(value: unknown): MemberAddress[] | null {
  if (!Array.isArray(value)) return null;
  const out: MemberAddress[] = [];
  for (const item of value as readonly unknown[]) {
    const f = fieldsOf(item);
    if (f === null || !isValidNodeId(f['id']) || typeof f['client'] !== 'string') return null;
    out.push({ id: f['id'], client: f['client'] });
  }
  return out;
}

function welcome(f: Fields): Welcome | null {
  const leader = f['leader'] ?? null;
  const list = members(f['members']);
  if (typeof f['clusterId'] !== 'string' || !isValidNodeId(f['nodeId'])) return null;
  if (list === null) return null;
  if (leader !== null && !isValidNodeId(leader)) return null;
  const principal = f['principal'] ?? null;
  const token = f['token'];
  if (principal !== null && typeof principal !== 'string') return null;
  if (token !== undefined && typeof token !== 'string') return null;
  const base = { type: 'Welcome', clusterId: f['clusterId'], nodeId: f['nodeId'], leader } as const;
  return { ...base, members: list, principal, ...(token === undefined ? {} : { token }) };
}

function watchEvent(value: unknown): WatchEvent | null {
  const f = fieldsOf(value);
  if (f === null || !isUint(f['index'])) return null;
  switch (f['type']) {
    case 'put':
      if (typeof f['key'] !== 'string' || !isUint(f['version'])) return null;
      return f['value'] instanceof Uint8Array ? (f as unknown as WatchEvent) : null;
    case 'delete':
      return typeof f['key'] === 'string' ? (f as unknown as WatchEvent) : null;
    case 'grant':
    case 'leader':
    case 'release':
      if (typeof f['lock'] !== 'string') return null;
      return isUint(f['session']) ? (f as unknown as WatchEvent) : null;
    default:
      return null;
  }
}

function pushEvent(value: unknown): PushEvent | null {
  const f = fieldsOf(value);
  if (f === null) return null;
  switch (f['kind']) {
    case 'granted':
    case 'timeout':
      if (!isUint(f['session']) || typeof f['clientId'] !== 'string') return null;
      if (!isUint(f['seq'])) return null;
      if (typeof f['name'] !== 'string') return null;
      if (f['kind'] === 'granted' && !isUint(f['token'])) return null;
      return f as unknown as PushEvent;
    case 'sessionExpired':
      if (typeof f['clientId'] !== 'string') return null;
      return isUint(f['session']) ? (f as unknown as PushEvent) : null;
    case 'revoked': {
      const by = f['by'] ?? null;
      const reason = f['reason'];
      if (!isUint(f['session']) || typeof f['clientId'] !== 'string') return null;
      if (typeof f['name'] !== 'string' || (by !== null && typeof by !== 'string')) return null;
      if (!isUint(f['token']) || !revokeReasons.some((known) => known === reason)) return null;
      return f as unknown as PushEvent;
    }
    case 'watchCancelled': {
      const code = f['code'];
      if (!isUint(f['watchId']) || (code !== 'COMPACTED' && code !== 'UNAVAILABLE')) return null;
      const message = typeof f['message'] === 'string' ? f['message'] : 'watch cancelled';
      return { kind: 'watchCancelled', watchId: f['watchId'], code, message };
    }
    case 'event': {
      const event = watchEvent(f['event']);
      if (!isUint(f['watchId']) || event === null) return null;
      return { kind: 'event', watchId: f['watchId'], event };
    }
    default:
      return null;
  }
}

/** A decoded frame from a node, or null when it is not one the client understands. */
export function parseIncoming(value: unknown): IncomingFrame | null {
  const f = fieldsOf(value);
  if (f === null) return null;
  switch (f['type']) {
    case 'Welcome':
      return welcome(f);
    case 'Response': {
      const result = fieldsOf(f['result']);
      if (!isUint(f['id']) || result === null || typeof result['code'] !== 'string') return null;
      return { type: 'Response', id: f['id'], result: result as WireResult };
    }
    case 'Push': {
      const push = pushEvent(f['push']);
      return push === null ? null : { type: 'Push', push };
    }
    case 'Error':
      return typeof f['code'] === 'string' && typeof f['message'] === 'string'
        ? { type: 'Error', code: f['code'], message: f['message'] }
        : null;
    default:
      return null;
  }
}
