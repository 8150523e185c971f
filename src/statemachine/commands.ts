import { Packr } from 'msgpackr';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import type { LockMachineConfig } from './config.js';
import type { SessionId } from './ids.js';
import { sessionId, utf8Length } from './ids.js';

/** A write that must be fenced: refused with STALE_TOKEN unless `token` is a current grant of `lock`. */
export interface Fence {
  readonly lock: string;
  readonly token: number;
}

/** Shared and exclusive modes of a read/write lock. */
export type RwMode = 'read' | 'write';

/** What a client asks for. Every operation but openSession names the session it acts in. */
export type Operation =
  | { readonly type: 'openSession'; readonly ttlMs: number }
  | { readonly type: 'keepAlive'; readonly session: SessionId }
  | { readonly type: 'closeSession'; readonly session: SessionId }
  | {
      readonly type: 'acquire';
      readonly session: SessionId;
      readonly name: string;
      readonly waitMs: number;
      readonly lockDelayMs: number;
    }
  | {
      readonly type: 'acquireSemaphore';
      readonly session: SessionId;
      readonly name: string;
      readonly permits: number;
      readonly waitMs: number;
      readonly lockDelayMs: number;
    }
  | {
      readonly type: 'acquireRw';
      readonly session: SessionId;
      readonly name: string;
      readonly mode: RwMode;
      readonly waitMs: number;
      readonly lockDelayMs: number;
    }
  | { readonly type: 'release'; readonly session: SessionId; readonly name: string }
  | {
      readonly type: 'campaign';
      readonly session: SessionId;
      readonly name: string;
      readonly value: Uint8Array;
      readonly waitMs: number;
      readonly lockDelayMs: number;
    }
  | { readonly type: 'resign'; readonly session: SessionId; readonly name: string }
  | {
      readonly type: 'proclaim';
      readonly session: SessionId;
      readonly name: string;
      readonly value: Uint8Array;
    }
  | {
      readonly type: 'put';
      readonly session: SessionId;
      readonly key: string;
      readonly value: Uint8Array;
      /** null: unconditional; 0: the key must not exist; n: the key's version must be n. */
      readonly ifVersion: number | null;
      /** Bind the key to the session: it is deleted when the session ends. */
      readonly ephemeral: boolean;
      readonly fence: Fence | null;
    }
  | {
      readonly type: 'delete';
      readonly session: SessionId;
      readonly key: string;
      readonly ifVersion: number | null;
      readonly fence: Fence | null;
    };

/**
 * A replicated command. Client commands carry `(clientId, seq)` for exactly-once; the keepalive
 * batch is proposed by the leader itself (one per interval) and is idempotent, so it carries none.
 * An empty payload is not a command: it is the leader's time-advance tick.
 */
export type Command =
  | { readonly type: 'keepAliveBatch'; readonly sessions: readonly SessionId[] }
  | {
      readonly type: 'client';
      readonly clientId: string;
      readonly seq: number;
      readonly op: Operation;
    };

const packr = new Packr({ useRecords: false });

/** Canonical bytes of a command (field order as written by the caller's object). */
export function encodeCommand(command: Command): Uint8Array {
  return packr.pack(command);
}

class DecodeFailure {
  constructor(readonly message: string) {}
}

function fail(message: string): never {
  throw new DecodeFailure(message);
}

type Fields = Readonly<Record<string, unknown>>;

function record(value: unknown, what: string): Fields {
  // Decoded maps are plain objects; anything else (arrays, binary, dates, the 0xC1 sentinel) is not.
  if (typeof value !== 'object' || value === null) fail(`${what} must be a map`);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) fail(`${what} must be a map`);
  return value as Fields;
}

function integer(fields: Fields, key: string, min: number, max: number): number {
  const value = fields[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) fail(`${key} must be an integer`);
  if (value < min || value > max) fail(`${key} must be in [${min}, ${max}], got ${value}`);
  return value;
}

function text(fields: Fields, key: string, bytesMax: number): string {
  const value = fields[key];
  if (typeof value !== 'string') fail(`${key} must be a string`);
  const bytes = utf8Length(value);
  // The decoder turns invalid UTF-8 into U+FFFD, so refusing U+FFFD keeps a malformed name from
  // silently aliasing another one.
  if (bytes < 0 || value.includes('\ufffd')) fail(`${key} is not valid UTF-8`);
  if (bytes === 0) fail(`${key} must not be empty`);
  if (bytes > bytesMax) fail(`${key} is ${bytes} bytes, more than ${bytesMax}`);
  return value;
}

function bytes(fields: Fields, key: string, bytesMax: number): Uint8Array {
  const value = fields[key];
  if (!(value instanceof Uint8Array)) fail(`${key} must be binary`);
  if (value.length > bytesMax) fail(`${key} is ${value.length} bytes, more than ${bytesMax}`);
  return value;
}

function session(fields: Fields): SessionId {
  return sessionId(integer(fields, 'session', 1, Number.MAX_SAFE_INTEGER));
}

function optionalVersion(fields: Fields): number | null {
  if (fields['ifVersion'] === null || fields['ifVersion'] === undefined) return null;
  return integer(fields, 'ifVersion', 0, Number.MAX_SAFE_INTEGER);
}

function optionalFence(fields: Fields, config: LockMachineConfig): Fence | null {
  const value = fields['fence'];
  if (value === null || value === undefined) return null;
  const fence = record(value, 'fence');
  return {
    lock: text(fence, 'lock', config.nameBytesMax),
    token: integer(fence, 'token', 0, Number.MAX_SAFE_INTEGER),
  };
}

function waitMs(fields: Fields, config: LockMachineConfig): number {
  return integer(fields, 'waitMs', 0, config.waitMsMax);
}

function lockDelayMs(fields: Fields, config: LockMachineConfig): number {
  if (fields['lockDelayMs'] === undefined) return 0;
  return integer(fields, 'lockDelayMs', 0, config.lockDelayMsMax);
}

function decodeOperation(fields: Fields, config: LockMachineConfig): Operation {
  const type = fields['type'];
  const name = config.nameBytesMax;
  switch (type) {
    case 'openSession':
      return { type, ttlMs: integer(fields, 'ttlMs', config.ttlMsMin, config.ttlMsMax) };
    case 'keepAlive':
    case 'closeSession':
      return { type, session: session(fields) };
    case 'acquire':
      return {
        type,
        session: session(fields),
        name: text(fields, 'name', name),
        waitMs: waitMs(fields, config),
        lockDelayMs: lockDelayMs(fields, config),
      };
    case 'acquireSemaphore':
      return {
        type,
        session: session(fields),
        name: text(fields, 'name', name),
        permits: integer(fields, 'permits', 1, config.permitsMax),
        waitMs: waitMs(fields, config),
        lockDelayMs: lockDelayMs(fields, config),
      };
    case 'acquireRw': {
      const mode = fields['mode'];
      if (mode !== 'read' && mode !== 'write') fail('mode must be "read" or "write"');
      return {
        type,
        session: session(fields),
        name: text(fields, 'name', name),
        mode,
        waitMs: waitMs(fields, config),
        lockDelayMs: lockDelayMs(fields, config),
      };
    }
    case 'release':
    case 'resign':
      return { type, session: session(fields), name: text(fields, 'name', name) };
    case 'campaign':
      return {
        type,
        session: session(fields),
        name: text(fields, 'name', name),
        value: bytes(fields, 'value', config.valueBytesMax),
        waitMs: waitMs(fields, config),
        lockDelayMs: lockDelayMs(fields, config),
      };
    case 'proclaim':
      return {
        type,
        session: session(fields),
        name: text(fields, 'name', name),
        value: bytes(fields, 'value', config.valueBytesMax),
      };
    case 'put': {
      const ephemeral = fields['ephemeral'] ?? false;
      if (typeof ephemeral !== 'boolean') fail('ephemeral must be a boolean');
      return {
        type,
        session: session(fields),
        key: text(fields, 'key', name),
        value: bytes(fields, 'value', config.valueBytesMax),
        ifVersion: optionalVersion(fields),
        ephemeral,
        fence: optionalFence(fields, config),
      };
    }
    case 'delete':
      return {
        type,
        session: session(fields),
        key: text(fields, 'key', name),
        ifVersion: optionalVersion(fields),
        fence: optionalFence(fields, config),
      };
    default:
      return fail(`unknown operation type ${JSON.stringify(String(type)).slice(0, 80)}`);
  }
}

function decodeFields(fields: Fields, config: LockMachineConfig): Command {
  const type = fields['type'];
  if (type === 'keepAliveBatch') {
    const sessions = fields['sessions'];
    if (!Array.isArray(sessions)) fail('sessions must be an array');
    if (sessions.length > config.keepAliveBatchMax) {
      fail(`keepAliveBatch holds ${sessions.length} sessions, more than ${config.keepAliveBatchMax}`);
    }
    const ids: SessionId[] = [];
    for (const id of sessions) {
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
        fail('sessions must hold positive integers');
      }
      ids.push(sessionId(id));
    }
    return { type, sessions: ids };
  }
  if (type !== 'client') return fail(`unknown command type ${JSON.stringify(String(type)).slice(0, 80)}`);
  return {
    type,
    clientId: text(fields, 'clientId', config.clientIdBytesMax),
    seq: integer(fields, 'seq', 1, Number.MAX_SAFE_INTEGER),
    op: decodeOperation(record(fields['op'], 'op'), config),
  };
}

/**
 * Decodes and validates a command. Never throws: malformed bytes, wrong shapes and out-of-range
 * arguments all give `err(message)`, the same message on every replica.
 */
export function decodeCommand(payload: Uint8Array, config: LockMachineConfig): Result<Command, string> {
  let decoded: unknown;
  try {
    decoded = packr.unpack(payload);
  } catch (error: unknown) {
    return err(`malformed command: not a MessagePack value (${payload.length} bytes)`);
  }
  try {
    return ok(decodeFields(record(decoded, 'command'), config));
  } catch (error: unknown) {
    if (error instanceof DecodeFailure) return err(error.message);
    throw error;
  }
}
