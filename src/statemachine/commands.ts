import { Packr } from 'msgpackr';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import { assertNever } from '../util/assert.js';
import type { AdminCommand, AdminCommandType, Permission } from './auth-types.js';
import { nameProblem, passwordHashProblem, prefixProblem, rightsProblem } from './auth-validate.js';
import type { LockMachineConfig } from './config.js';
import type { SessionId } from './ids.js';
import { sessionId, utf8Length } from './ids.js';

/** A write that must be fenced: refused with STALE_TOKEN unless `token` is a current grant of `lock`. */
export interface Fence {
  readonly lock: string;
  readonly token: number;
}

/**
 * The most tokens one handoff may reserve for a run of callers: the run holds the name against
 * every other session for as long as it lasts, so it is bounded like a queue's share of a lock.
 */
export const turnsMax = 1024;

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
      /**
       * One entry that ends the session's hold on the mutex `name` (if it holds it) and then asks
       * for it again as a new request at the tail of the FIFO, as `acquire` would: a client hands
       * the name from one of its callers to the next in one commit instead of two in series.
       */
      readonly type: 'handoff';
      readonly session: SessionId;
      readonly name: string;
      readonly waitMs: number;
      readonly lockDelayMs: number;
      /**
       * The grant's tokens, one per caller of the client queued for the name when it sent this
       * (at most `turnsMax`): the client passes the hold from caller to caller under them without
       * another entry (docs/statemachine.md, "Runs of turns"). 1 is today's single grant.
       */
      readonly turns: number;
    }
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
 * A client's command. `principal` is stamped by the node that authenticated the connection (never
 * taken from the client); absent means insecure mode, where every client is unrestricted.
 */
export interface ClientCommand {
  readonly type: 'client';
  readonly principal?: string;
  readonly clientId: string;
  readonly seq: number;
  readonly op: Operation;
}

/**
 * A replicated command. Client commands carry `(clientId, seq)` for exactly-once; the keepalive
 * batch is proposed by the leader itself (one per interval) and is idempotent, so it carries none.
 * Admin commands change the auth store; `principal` null means insecure mode (unrestricted).
 * An empty payload is not a command: it is the leader's time-advance tick.
 */
export type Command =
  | { readonly type: 'keepAliveBatch'; readonly sessions: readonly SessionId[] }
  | ClientCommand
  | { readonly type: 'admin'; readonly principal: string | null; readonly action: AdminCommand };

/**
 * The command as the node proposes it: `principal` replaced by the connection's (null: none, in
 * insecure mode). Whatever principal the input carried is dropped.
 */
export function stampPrincipal(command: ClientCommand, principal: string | null): ClientCommand {
  const { clientId, seq, op } = command;
  return principal === null ? { type: 'client', clientId, seq, op } : { type: 'client', principal, clientId, seq, op };
}

const packr = new Packr({ useRecords: false });

// Wire format: a MessagePack array, positional, no field names (smaller log entries and about
// twice as fast to decode as maps):
//   [1, sessions[]]                                   keepAliveBatch
//   [2, clientId, seq, opCode, ...operands]           client command without principal (insecure)
//   [3, principal, clientId, seq, opCode, ...operands] client command with its principal
//   [4, principal|null, actionCode, ...operands]      admin command; operands per actionCode below
// Forms 1 and 2 are unchanged from before principals existed, so old logs replay as they did.
const opCodes = [
  'openSession', // ttlMs
  'keepAlive', // session
  'closeSession', // session
  'acquire', // session, name, waitMs, lockDelayMs
  'acquireSemaphore', // session, name, permits, waitMs, lockDelayMs
  'acquireRw', // session, name, mode (0 read, 1 write), waitMs, lockDelayMs
  'release', // session, name
  'campaign', // session, name, value, waitMs, lockDelayMs
  'resign', // session, name
  'proclaim', // session, name, value
  'put', // session, key, value, ifVersion|null, ephemeral, fenceLock|null, fenceToken|null
  'delete', // session, key, ifVersion|null, fenceLock|null, fenceToken|null
  'handoff', // session, name, waitMs, lockDelayMs[, turns ≥ 2] (appended: earlier codes keep their meaning)
] as const satisfies readonly Operation['type'][];

function operands(op: Operation): unknown[] {
  switch (op.type) {
    case 'openSession':
      return [op.ttlMs];
    case 'keepAlive':
    case 'closeSession':
      return [op.session];
    case 'acquire':
      return [op.session, op.name, op.waitMs, op.lockDelayMs];
    case 'handoff':
      // One token is written as before the runs existed, so such a command stays canonical.
      return op.turns === 1
        ? [op.session, op.name, op.waitMs, op.lockDelayMs]
        : [op.session, op.name, op.waitMs, op.lockDelayMs, op.turns];
    case 'acquireSemaphore':
      return [op.session, op.name, op.permits, op.waitMs, op.lockDelayMs];
    case 'acquireRw':
      return [op.session, op.name, op.mode === 'write' ? 1 : 0, op.waitMs, op.lockDelayMs];
    case 'release':
    case 'resign':
      return [op.session, op.name];
    case 'campaign':
      return [op.session, op.name, op.value, op.waitMs, op.lockDelayMs];
    case 'proclaim':
      return [op.session, op.name, op.value];
    case 'put':
      return [
        op.session,
        op.key,
        op.value,
        op.ifVersion,
        op.ephemeral,
        op.fence?.lock ?? null,
        op.fence?.token ?? null,
      ];
    case 'delete':
      return [op.session, op.key, op.ifVersion, op.fence?.lock ?? null, op.fence?.token ?? null];
    default:
      return assertNever(op, 'operation');
  }
}

const actionCodes = [
  'userAdd', // user, passwordHash|null
  'userDelete', // user
  'userPassword', // user, passwordHash
  'userGrantRole', // user, role
  'userRevokeRole', // user, role
  'roleAdd', // role
  'roleDelete', // role
  'roleGrant', // role, prefix, rights[]
  'roleRevoke', // role, prefix
] as const satisfies readonly AdminCommandType[];

function actionOperands(action: AdminCommand): unknown[] {
  switch (action.type) {
    case 'userAdd':
      return [action.user, action.passwordHash];
    case 'userDelete':
      return [action.user];
    case 'userPassword':
      return [action.user, action.passwordHash];
    case 'userGrantRole':
    case 'userRevokeRole':
      return [action.user, action.role];
    case 'roleAdd':
    case 'roleDelete':
      return [action.role];
    case 'roleGrant':
      return [action.role, action.permission.prefix, action.permission.rights];
    case 'roleRevoke':
      return [action.role, action.prefix];
    default:
      return assertNever(action, 'admin action');
  }
}

/** The bytes of a command (see the wire format above). */
export function encodeCommand(command: Command): Uint8Array {
  switch (command.type) {
    case 'keepAliveBatch':
      return packr.pack([1, command.sessions]);
    case 'client': {
      const code = opCodes.indexOf(command.op.type);
      if (command.principal === undefined)
        return packr.pack([2, command.clientId, command.seq, code, ...operands(command.op)]);
      return packr.pack([3, command.principal, command.clientId, command.seq, code, ...operands(command.op)]);
    }
    case 'admin':
      return packr.pack([
        4,
        command.principal,
        actionCodes.indexOf(command.action.type),
        ...actionOperands(command.action),
      ]);
    default:
      return assertNever(command, 'command');
  }
}

class DecodeFailure {
  constructor(readonly message: string) {}
}

function fail(message: string): never {
  throw new DecodeFailure(message);
}

type Fields = readonly unknown[];

/** Names a bad value without converting it: String() on a decoded value can throw. */
function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 64)) : `of type ${typeof value}`;
}

function integer(value: unknown, key: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) fail(`${key} must be an integer`);
  if (value < min || value > max) fail(`${key} must be in [${min}, ${max}], got ${value}`);
  return value;
}

function text(value: unknown, key: string, bytesMax: number): string {
  if (typeof value !== 'string') fail(`${key} must be a string`);
  const bytes = utf8Length(value);
  // The decoder turns invalid UTF-8 into U+FFFD, so refusing U+FFFD keeps a malformed name from
  // silently aliasing another one.
  if (bytes < 0 || value.includes('\ufffd')) fail(`${key} is not valid UTF-8`);
  if (bytes === 0) fail(`${key} must not be empty`);
  if (bytes > bytesMax) fail(`${key} is ${bytes} bytes, more than ${bytesMax}`);
  return value;
}

function bytes(value: unknown, key: string, bytesMax: number): Uint8Array {
  if (!(value instanceof Uint8Array)) fail(`${key} must be binary`);
  if (value.length > bytesMax) fail(`${key} is ${value.length} bytes, more than ${bytesMax}`);
  // A plain Uint8Array view (the decoder returns Buffers): state and events hold one type only.
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

function session(value: unknown): SessionId {
  return sessionId(integer(value, 'session', 1, Number.MAX_SAFE_INTEGER));
}

function optionalVersion(value: unknown): number | null {
  return value === null ? null : integer(value, 'ifVersion', 0, Number.MAX_SAFE_INTEGER);
}

function optionalFence(lock: unknown, token: unknown, config: LockMachineConfig): Fence | null {
  if (lock === null && token === null) return null;
  return {
    lock: text(lock, 'fence lock', config.nameBytesMax),
    token: integer(token, 'fence token', 0, Number.MAX_SAFE_INTEGER),
  };
}

function delay(value: unknown, config: LockMachineConfig): number {
  return integer(value, 'lockDelayMs', 0, config.lockDelayMsMax);
}

const operandCounts: Readonly<Record<Operation['type'], number>> = {
  openSession: 1,
  keepAlive: 1,
  closeSession: 1,
  acquire: 4,
  acquireSemaphore: 5,
  acquireRw: 5,
  release: 2,
  campaign: 5,
  resign: 2,
  proclaim: 3,
  put: 7,
  delete: 5,
  handoff: 4,
};

interface HeldOperands {
  session: SessionId;
  name: string;
}

interface WaitOperands {
  waitMs: number;
  lockDelayMs: number;
}

/** The operands most lock operations start with: whose hold (f[4]) on which name (f[5]). */
function heldOperands(f: Fields, nameBytesMax: number): HeldOperands {
  return { session: session(f[4]), name: text(f[5], 'name', nameBytesMax) };
}

/** How long to wait (f[at]) and the lock-delay after the hold ends (f[at + 1]). */
function waitOperands(f: Fields, at: number, config: LockMachineConfig): WaitOperands {
  return { waitMs: integer(f[at], 'waitMs', 0, config.waitMsMax), lockDelayMs: delay(f[at + 1], config) };
}

/**
 * Decodes a client command's op code (at position `base`: 3 in form 2, 4 in form 3) and the
 * operands that follow it.
 */
function decodeOperation(all: Fields, base: number, config: LockMachineConfig): Operation {
  // Operands are read as f[4], f[5], ... relative to an op code at position 3 (a copy of a few
  // references for form 3, cheap next to the MessagePack decoding).
  const f: Fields = base === 3 ? all : all.slice(base - 3);
  const code = f[3];
  const type = typeof code === 'number' ? opCodes[code] : undefined;
  if (type === undefined) return fail(`unknown operation code ${describe(code)}`);
  const count = f.length - 4;
  if (count !== operandCounts[type] && !(type === 'handoff' && count === operandCounts[type] + 1)) {
    fail(
      `${type} takes ${operandCounts[type]} operands${type === 'handoff' ? ' (or one more: turns)' : ''}, got ${count}`,
    );
  }
  const name = config.nameBytesMax;
  // An object literal evaluates left to right, so the shared operands (heldOperands,
  // waitOperands) are still checked in their wire order.
  switch (type) {
    case 'openSession':
      return { type, ttlMs: integer(f[4], 'ttlMs', config.ttlMsMin, config.ttlMsMax) };
    case 'keepAlive':
    case 'closeSession':
      return { type, session: session(f[4]) };
    case 'acquire':
      return { type, ...heldOperands(f, name), ...waitOperands(f, 6, config) };
    case 'handoff':
      return {
        type,
        ...heldOperands(f, name),
        ...waitOperands(f, 6, config),
        turns: f.length > 8 ? integer(f[8], 'turns', 2, turnsMax) : 1,
      };
    case 'acquireSemaphore':
      return {
        type,
        ...heldOperands(f, name),
        permits: integer(f[6], 'permits', 1, config.permitsMax),
        ...waitOperands(f, 7, config),
      };
    case 'acquireRw': {
      const mode = f[6];
      if (mode !== 0 && mode !== 1) fail('mode must be 0 (read) or 1 (write)');
      return { type, ...heldOperands(f, name), mode: mode === 1 ? 'write' : 'read', ...waitOperands(f, 7, config) };
    }
    case 'release':
    case 'resign':
      return { type, ...heldOperands(f, name) };
    case 'campaign':
      return {
        type,
        ...heldOperands(f, name),
        value: bytes(f[6], 'value', config.valueBytesMax),
        ...waitOperands(f, 7, config),
      };
    case 'proclaim':
      return { type, ...heldOperands(f, name), value: bytes(f[6], 'value', config.valueBytesMax) };
    case 'put': {
      const ephemeral = f[8];
      if (typeof ephemeral !== 'boolean') fail('ephemeral must be a boolean');
      return {
        type,
        session: session(f[4]),
        key: text(f[5], 'key', name),
        value: bytes(f[6], 'value', config.valueBytesMax),
        ifVersion: optionalVersion(f[7]),
        ephemeral,
        fence: optionalFence(f[9], f[10], config),
      };
    }
    case 'delete':
      return {
        type,
        session: session(f[4]),
        key: text(f[5], 'key', name),
        ifVersion: optionalVersion(f[6]),
        fence: optionalFence(f[7], f[8], config),
      };
    default:
      return assertNever(type, 'operation type');
  }
}

function authName(value: unknown, what: string): string {
  const problem = nameProblem(value, what);
  if (problem !== null) fail(problem);
  return value as string;
}

function prefix(value: unknown, config: LockMachineConfig): string {
  const problem = prefixProblem(value, 'prefix', config.nameBytesMax);
  if (problem !== null) fail(problem);
  return value as string;
}

function passwordHash(value: unknown): string {
  const problem = passwordHashProblem(value, 'passwordHash');
  if (problem !== null) fail(problem);
  return value as string;
}

function permission(prefixValue: unknown, rights: unknown, config: LockMachineConfig): Permission {
  const problem = rightsProblem(rights, 'rights');
  if (problem !== null) fail(problem);
  return { prefix: prefix(prefixValue, config), rights: [...(rights as Permission['rights'])] };
}

const actionOperandCounts: Readonly<Record<AdminCommandType, number>> = {
  userAdd: 2,
  userDelete: 1,
  userPassword: 2,
  userGrantRole: 2,
  userRevokeRole: 2,
  roleAdd: 1,
  roleDelete: 1,
  roleGrant: 3,
  roleRevoke: 2,
};

/** Decodes the action code at position 2 of an admin command and its operands. */
function decodeAction(f: Fields, config: LockMachineConfig): AdminCommand {
  const code = f[2];
  const type = typeof code === 'number' ? actionCodes[code] : undefined;
  if (type === undefined) return fail(`unknown admin action code ${describe(code)}`);
  const count = actionOperandCounts[type];
  if (f.length !== 3 + count) fail(`${type} takes ${count} operands, got ${f.length - 3}`);
  switch (type) {
    case 'userAdd':
      return { type, user: authName(f[3], 'user'), passwordHash: f[4] === null ? null : passwordHash(f[4]) };
    case 'userDelete':
      return { type, user: authName(f[3], 'user') };
    case 'userPassword':
      return { type, user: authName(f[3], 'user'), passwordHash: passwordHash(f[4]) };
    case 'userGrantRole':
    case 'userRevokeRole':
      return { type, user: authName(f[3], 'user'), role: authName(f[4], 'role') };
    case 'roleAdd':
    case 'roleDelete':
      return { type, role: authName(f[3], 'role') };
    case 'roleGrant':
      return { type, role: authName(f[3], 'role'), permission: permission(f[4], f[5], config) };
    case 'roleRevoke':
      return { type, role: authName(f[3], 'role'), prefix: prefix(f[4], config) };
    default:
      return assertNever(type, 'admin action type');
  }
}

/**
 * A client command in form 2 (`signed` false) or form 3, which only puts the principal before
 * clientId: both read clientId, seq and the operation from one position on.
 */
function decodeClient(f: Fields, signed: boolean, config: LockMachineConfig): ClientCommand {
  const at = signed ? 2 : 1;
  if (f.length < at + 3) fail(`a client command needs ${signed ? 'principal, ' : ''}clientId, seq and an op code`);
  const principal = signed ? authName(f[1], 'principal') : null;
  const clientId = text(f[at], 'clientId', config.clientIdBytesMax);
  const seq = integer(f[at + 1], 'seq', 1, Number.MAX_SAFE_INTEGER);
  return stampPrincipal({ type: 'client', clientId, seq, op: decodeOperation(f, at + 2, config) }, principal);
}

function decodeFields(f: Fields, config: LockMachineConfig): Command {
  const tag = f[0];
  if (tag === 1) {
    if (f.length !== 2) fail('keepAliveBatch takes 1 operand');
    const sessions = f[1];
    if (!Array.isArray(sessions)) fail('sessions must be an array');
    if (sessions.length > config.keepAliveBatchMax) {
      fail(`keepAliveBatch holds ${sessions.length} sessions, more than ${config.keepAliveBatchMax}`);
    }
    const ids: SessionId[] = [];
    for (const id of sessions as readonly unknown[]) ids.push(session(id));
    return { type: 'keepAliveBatch', sessions: ids };
  }
  if (tag === 2) return decodeClient(f, false, config);
  if (tag === 3) return decodeClient(f, true, config);
  if (tag === 4) {
    if (f.length < 3) fail('an admin command needs a principal (or null) and an action code');
    return {
      type: 'admin',
      principal: f[1] === null ? null : authName(f[1], 'principal'),
      action: decodeAction(f, config),
    };
  }
  return fail(`unknown command tag ${describe(tag)}`);
}

/**
 * Decodes and validates a command. Never throws: malformed bytes, wrong shapes and out-of-range
 * arguments all give `err(message)`, the same message on every replica.
 */
export function decodeCommand(payload: Uint8Array, config: LockMachineConfig): Result<Command, string> {
  let decoded: unknown;
  try {
    decoded = packr.unpack(payload);
  } catch {
    return err(`malformed command: not a MessagePack value (${payload.length} bytes)`);
  }
  if (!Array.isArray(decoded)) return err('a command must be an array');
  try {
    return ok(decodeFields(decoded as Fields, config));
  } catch (error: unknown) {
    if (error instanceof DecodeFailure) return err(error.message);
    throw error;
  }
}
