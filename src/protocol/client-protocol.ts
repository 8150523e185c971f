/**
 * The client protocol (docs/client-protocol.md): frames a client and a node exchange after the
 * client Hello, their types, and the validation the node applies to everything a client sends.
 *
 * Same framing and MessagePack codec as the peer protocol (frame.ts, codec.ts). A client opens
 * with a Hello (`clientHello`), the node answers Welcome or an Error frame; then the client sends
 * Request frames and the node sends one Response per request (matched by `id`) and unsolicited
 * Push frames. A decoded frame stays `unknown` until a validator here accepts it.
 */
import type { NodeId } from '../raft/types.js';
import type { Command, Operation } from '../statemachine/commands.js';
import type { AdminAction, Right } from '../statemachine/auth-types.js';
import { allRights } from '../statemachine/auth-types.js';
import { decodeCommand, encodeCommand } from '../statemachine/commands.js';
import { utf8Length } from '../statemachine/ids.js';
import type { LockMachineConfig } from '../statemachine/config.js';
import type { SessionId } from '../statemachine/ids.js';
import type { KeyView, LeaderView, LockView, SessionView } from '../statemachine/queries.js';
import type {
  CommandResult,
  CycleStep,
  Notification,
  OkValue,
  PlainErrorCode,
  WatchEvent,
} from '../statemachine/results.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import type { ErrorFrame, Hello } from './handshake.js';
import {
  asErrorFrame,
  clientHelloFrame,
  errorFrame,
  helloLabelLengthMax,
  protocolName,
  protocolVersion,
} from './handshake.js';
import { normalisedResult, pushEventShape, resultShape } from './answer-schema.js';
import type { Check, SchemaViolation } from './schema.js';
import {
  describeValue,
  exactObject,
  isPlainObject,
  literal,
  nodeId,
  nullable,
  string,
  taggedUnion,
  uint,
  violation,
  within,
} from './schema.js';

// ---------------------------------------------------------------------------------------------
// Hello and Welcome

// ---------------------------------------------------------------------------------------------
// Principals and credentials

/** A principal (user) name: 1..128 bytes of `[A-Za-z0-9._@-]`. Role names follow the same rule. */
export const principalLengthMax = 128;
const principalPattern = /^[A-Za-z0-9._@-]+$/;
/** Passwords travel inside TLS only; the bound keeps a Hello small and scrypt's input sane. */
export const passwordBytesMax = 1024;
/** Tokens are the node's own (base64url of 32 random bytes); anything longer is not one. */
export const tokenLengthMax = 128;

export function isPrincipalName(value: unknown): value is string {
  return (
    typeof value === 'string' && value.length >= 1 && value.length <= principalLengthMax && principalPattern.test(value)
  );
}

/**
 * How a client proves who it is when it has no user certificate: a user name and password (the
 * node answers with a token in the Welcome), or a token this very node issued earlier.
 */
export type HelloAuth = { readonly user: string; readonly password: string } | { readonly token: string };

/** Per-connection options a client states in its Hello. */
export interface ClientHelloOptions {
  /**
   * true: a write sent to a follower is answered NOT_LEADER with the leader's client address
   * (the client reconnects itself). false (default): the node forwards it to the leader.
   */
  readonly redirect?: boolean;
  /** Credentials, for a secure node when the client presents no user certificate. */
  readonly auth?: HelloAuth;
}

/** The client Hello: the transport's client Hello plus the optional `redirect` and `auth`. */
export type ClientHello = Extract<Hello, { readonly client: string }> & {
  readonly redirect?: boolean;
  readonly auth?: HelloAuth;
};

/**
 * The first frame a client sends. `clusterId` '' means "any cluster": the node accepts it and
 * names its cluster in the Welcome (a secure node only after the client has authenticated).
 */
export function clientHello(clusterId: string, client: string, options: ClientHelloOptions = {}): ClientHello {
  const hello = clientHelloFrame(clusterId, client) as Extract<Hello, { readonly client: string }>;
  return {
    ...hello,
    ...(options.redirect === true ? { redirect: true } : {}),
    ...(options.auth === undefined ? {} : { auth: options.auth }),
  };
}

/** Where a member serves clients (`host:port`), for redirects and client discovery. */
export interface MemberAddress {
  readonly id: NodeId;
  readonly client: string;
}

/**
 * The node's answer to a valid (and, on a secure node, authenticated) client Hello. Nothing about
 * the cluster is sent before it.
 */
export interface Welcome {
  readonly type: 'Welcome';
  readonly clusterId: string;
  readonly nodeId: NodeId;
  readonly leader: NodeId | null;
  readonly members: readonly MemberAddress[];
  /**
   * Who this connection acts as: the user of its certificate or credentials; null on an insecure
   * node (unrestricted) and for a member node's forwarding connection (it acts for others).
   */
  readonly principal: string | null;
  /**
   * After a password login: a token for `auth: { token }` on a later connection to this same node
   * (node-local, expires; a client falls back to its password when it is refused).
   */
  readonly token?: string;
}

const clientHelloShape = exactObject({
  type: literal('Hello'),
  protocol: string(helloLabelLengthMax),
  version: uint,
  clusterId: string(helloLabelLengthMax),
  client: string(helloLabelLengthMax),
});

const principalName: Check = (value) =>
  isPrincipalName(value)
    ? null
    : violation(`expected a user name (1..${principalLengthMax} of A-Z a-z 0-9 . _ @ -), got ${describeValue(value)}`);

/** Never echoes the password: messages say only what is wrong with it. */
const passwordText: Check = (value) => {
  if (typeof value !== 'string') return violation('expected a string');
  const bytes = utf8Length(value);
  if (bytes < 0 || value.includes('\ufffd')) return violation('not valid UTF-8');
  if (bytes === 0) return violation('must not be empty');
  if (bytes > passwordBytesMax) return violation(`longer than ${passwordBytesMax} bytes`);
  return null;
};

const tokenText: Check = (value) =>
  typeof value === 'string' && value.length >= 1 && value.length <= tokenLengthMax
    ? null
    : violation(`expected a token (1..${tokenLengthMax} characters)`);

const userPasswordAuth = exactObject({ user: principalName, password: passwordText });
const tokenAuth = exactObject({ token: tokenText });

function checkHelloAuth(value: unknown): SchemaViolation | null {
  if (isPlainObject(value) && Object.hasOwn(value, 'token')) return tokenAuth(value);
  return userPasswordAuth(value);
}

/**
 * Checks a connection's first frame on the client port: protocol name first (a stranger gets
 * BAD_HELLO), then version, then cluster id ('' accepted), then the exact shape.
 */
export function checkClientHello(value: unknown, clusterId: string): Result<ClientHello, ErrorFrame> {
  if (!isPlainObject(value) || value['type'] !== 'Hello' || value['protocol'] !== protocolName) {
    return err(errorFrame('BAD_HELLO', `expected a ${protocolName} client Hello frame first`));
  }
  if (value['version'] !== protocolVersion) {
    const theirs = describeValue(value['version']);
    const message = `protocol version ${theirs} is not supported; ` + `this node speaks version ${protocolVersion}`;
    return err(errorFrame('VERSION_MISMATCH', message));
  }
  const theirCluster = value['clusterId'];
  if (theirCluster !== '' && theirCluster !== clusterId) {
    const message =
      `cluster id ${typeof theirCluster === 'string' ? JSON.stringify(theirCluster) : describeValue(theirCluster)} does not match this node's cluster id ` +
      JSON.stringify(clusterId);
    return err(errorFrame('CLUSTER_MISMATCH', message));
  }
  const { redirect, auth, ...rest } = value;
  if (redirect !== undefined && typeof redirect !== 'boolean') {
    return err(errorFrame('BAD_HELLO', `invalid Hello at $.redirect: expected a boolean`));
  }
  if (auth !== undefined) {
    const badAuth = checkHelloAuth(auth);
    if (badAuth !== null) {
      return err(errorFrame('BAD_HELLO', `invalid Hello at $.auth${badAuth.path}: ${badAuth.reason}`));
    }
  }
  const bad = clientHelloShape(rest);
  if (bad !== null) {
    const message = `invalid client Hello at $${bad.path}: ${bad.reason}`;
    return err(errorFrame('BAD_HELLO', message));
  }
  return ok(value as unknown as ClientHello);
}

// ---------------------------------------------------------------------------------------------
// Requests

/** A linearizable read, answered after ReadIndex by a pure query of src/statemachine/queries.ts. */
export type Query =
  | { readonly kind: 'get'; readonly key: string }
  | { readonly kind: 'checkFence'; readonly lock: string; readonly token: number }
  | { readonly kind: 'observe'; readonly name: string }
  | { readonly kind: 'locks'; readonly prefix: string; readonly limit: number }
  /** Keys starting with `prefix` after the key `after` (null: from the first), at most `limit`. */
  | { readonly kind: 'keys'; readonly prefix: string; readonly after: string | null; readonly limit: number }
  | { readonly kind: 'session'; readonly session: SessionId }
  /** Admin only: every user with its roles (never a password hash). */
  | { readonly kind: 'users' }
  /** Admin only: every role with its permissions. */
  | { readonly kind: 'roles' };

export type { AdminAction, Permission, Right, RoleView, UserView } from '../statemachine/auth-types.js';
export const rights: readonly Right[] = allRights;

export type MembersAction = 'list' | 'addLearner' | 'promote' | 'remove';

/** What a client asks a node to do. */
export type ClientOp =
  | { readonly kind: 'command'; readonly command: ClientCommand }
  | { readonly kind: 'keepAlive'; readonly session: SessionId; readonly clientId: string }
  | { readonly kind: 'read'; readonly query: Query }
  | { readonly kind: 'watch'; readonly prefix: string; readonly fromIndex: number }
  | { readonly kind: 'unwatch'; readonly watchId: number }
  | { readonly kind: 'status' }
  | {
      readonly kind: 'members';
      readonly action: MembersAction;
      readonly node?: NodeId;
      readonly peer?: string;
      readonly client?: string;
    }
  | { readonly kind: 'transferLeader'; readonly to: NodeId }
  | { readonly kind: 'snapshot' }
  /**
   * `raftlock backup`: `backup: 0, offset: 0` makes the node encode a backup file of its applied
   * state (src/server/backup-format.ts) and answer its first chunk; later chunks name that backup.
   */
  | { readonly kind: 'backup'; readonly backup: number; readonly offset: number }
  | { readonly kind: 'admin'; readonly action: AdminAction }
  /** Who this connection acts as; answered by the node itself. Also a cheap keepalive. */
  | { readonly kind: 'whoami' };

/** The state machine's client command: `(clientId, seq)` make it exactly-once. */
export type ClientCommand = Extract<Command, { readonly type: 'client' }>;

export interface RequestFrame {
  readonly type: 'Request';
  readonly id: number;
  readonly op: ClientOp;
  /**
   * On whose behalf: set only by a member node forwarding a client's request to the leader, over
   * a connection authenticated by its node certificate. From anyone else the frame is refused.
   */
  readonly as?: string;
}

export function requestFrame(id: number, op: ClientOp, as?: string): RequestFrame {
  return as === undefined ? { type: 'Request', id, op } : { type: 'Request', id, op, as };
}

/** Convenience for clients: a command op for `op` as client `clientId`'s `seq`-th command. */
export function commandOp(clientId: string, seq: number, op: Operation): ClientOp {
  return { kind: 'command', command: { type: 'client', clientId, seq, op } };
}

// ---------------------------------------------------------------------------------------------
// Responses and pushes

/** A node's view of itself and the cluster, for `status`. */
export interface NodeStatusView {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  readonly role: 'follower' | 'preCandidate' | 'candidate' | 'leader';
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** Leader only: per member, how many entries it is behind the leader's last index. */
  readonly lag: readonly { readonly id: NodeId; readonly behind: number }[];
  readonly sessions: number;
  readonly locks: number;
  readonly waiters: number;
  /** Client connections open on this node. */
  readonly connections: number;
}

/** One member as `members list` shows it. */
export interface MemberView {
  readonly id: NodeId;
  readonly role: 'voter' | 'learner';
  readonly peer: string;
  readonly client: string;
}

/**
 * What an OK response carries besides a command's own OkValue (which also holds the auth answers:
 * `admin {done}`, `users`, `roles`, `whoami`).
 */
export type WireValue =
  | OkValue
  | { readonly kind: 'key'; readonly key: KeyView | null }
  | { readonly kind: 'fence'; readonly lock: string; readonly token: number }
  | { readonly kind: 'leader'; readonly name: string; readonly leader: LeaderView | null }
  | { readonly kind: 'locks'; readonly locks: readonly LockView[] }
  | { readonly kind: 'keys'; readonly keys: readonly KeyView[]; readonly next: string | null }
  | { readonly kind: 'sessionInfo'; readonly session: SessionView | null }
  /** Events after `fromIndex` are pushed (for a `fromIndex: 0` watch: the applied index then). */
  | { readonly kind: 'watching'; readonly watchId: number; readonly fromIndex: number }
  | { readonly kind: 'unwatched'; readonly watchId: number }
  | { readonly kind: 'status'; readonly status: NodeStatusView }
  | { readonly kind: 'members'; readonly members: readonly MemberView[] }
  | { readonly kind: 'snapshotTaken'; readonly index: number }
  | {
      readonly kind: 'backupChunk';
      readonly backup: number;
      readonly offset: number;
      /** The whole file's length in bytes. */
      readonly total: number;
      readonly bytes: Uint8Array;
    }
  | { readonly kind: 'accepted' };

/** Every code a response may carry. */
export type WireCode = CommandResult['code'] | 'UNAVAILABLE';

/** The result of one request: the state machine's result codes plus NOT_LEADER and UNAVAILABLE. */
export type WireResult =
  | { readonly code: 'OK'; readonly value: WireValue }
  | { readonly code: Exclude<PlainErrorCode, 'NOT_LEADER'>; readonly message: string }
  | { readonly code: 'DEADLOCK'; readonly message: string; readonly cycle: readonly CycleStep[] }
  | { readonly code: 'VERSION_MISMATCH'; readonly message: string; readonly version: number }
  | {
      readonly code: 'NOT_LEADER';
      readonly message: string;
      readonly leader: NodeId | null;
      /** The leader's client address, when known. */
      readonly leaderClient: string | null;
    }
  /** No leader known, or the request timed out inside the cluster: the outcome may be unknown. */
  | { readonly code: 'UNAVAILABLE'; readonly message: string };

export interface ResponseFrame {
  readonly type: 'Response';
  readonly id: number;
  readonly result: WireResult;
}

/** Unsolicited events: the state machine's notifications for this client, and watch traffic. */
export type PushEvent =
  | Exclude<Notification, { readonly kind: 'event' }>
  | { readonly kind: 'event'; readonly watchId: number; readonly event: WatchEvent }
  /** The node ended a watch (e.g. the client fell too far behind); resume with a new watch. */
  | {
      readonly kind: 'watchCancelled';
      readonly watchId: number;
      readonly code: 'COMPACTED' | 'UNAVAILABLE' | 'PERMISSION_DENIED';
      readonly message: string;
    };

export interface PushFrame {
  readonly type: 'Push';
  readonly push: PushEvent;
}

/** Any frame a node sends a client after the Hello. */
export type ServerFrame = Welcome | ResponseFrame | PushFrame | ErrorFrame;

/** A result other than OK: the refusals a reader turns into its own error. */
export type Refusal = Exclude<WireResult, { readonly code: 'OK' }>;

/** The OK value of kind `K`, e.g. `WireAnswer<'keys'>` for a `keys` query's page. */
export type WireAnswer<K extends WireValue['kind']> = Extract<WireValue, { readonly kind: K }>;

export function responseFrame(id: number, result: WireResult): ResponseFrame {
  return { type: 'Response', id, result };
}

export function pushFrame(push: PushEvent): PushFrame {
  return { type: 'Push', push };
}

/** Converts a state machine result to its wire form (NOT_LEADER gains the leader fields). */
export function wireResultOf(
  result: CommandResult,
  leader: NodeId | null = null,
  leaderClient: string | null = null,
): WireResult {
  if (result.code === 'NOT_LEADER') {
    return { code: 'NOT_LEADER', message: result.message, leader, leaderClient };
  }
  return result as WireResult;
}

export function unavailable(message: string): WireResult {
  return { code: 'UNAVAILABLE', message };
}

export function invalidArgument(message: string): WireResult {
  return { code: 'INVALID_ARGUMENT', message };
}

export function permissionDenied(message: string): WireResult {
  return { code: 'PERMISSION_DENIED', message };
}

// ---------------------------------------------------------------------------------------------
// Validation of what a client sends

/** Largest `limit` of a `locks` query. */
export const locksQueryLimitMax = 10_000;
/** Largest `limit` of a `keys` query (a page of values must fit in one frame). */
export const keysQueryLimitMax = 1_000;
/** Prefix strings (watch, locks) in characters. */
export const prefixLengthMax = 1024;

const keyText = string(4096);
const prefixText = string(prefixLengthMax);
const address = string(256);

const queryShape: Check = taggedUnion('kind', {
  get: { key: keyText },
  checkFence: { lock: keyText, token: uint },
  observe: { name: keyText },
  locks: { prefix: prefixText, limit: uint },
  keys: { prefix: prefixText, after: nullable(keyText), limit: uint },
  session: { session: uint },
  users: {},
  roles: {},
});

const rightsList: Check = (value) => {
  if (!Array.isArray(value)) return violation(`expected an array, got ${describeValue(value)}`);
  if (value.length === 0) return violation(`expected at least one of ${rights.join(', ')}`);
  const seen = new Set<unknown>();
  for (let i = 0; i < value.length; i++) {
    const right: unknown = value[i];
    if (!rights.includes(right as Right)) {
      return within(`[${i}]`, violation(`expected one of ${rights.join(', ')}, got ${describeValue(right)}`));
    }
    if (seen.has(right)) return within(`[${i}]`, violation(`${String(right)} is listed twice`));
    seen.add(right);
  }
  return null;
};

const permissionShape = exactObject({ prefix: prefixText, rights: rightsList });

const adminActionShape: Check = taggedUnion('type', {
  userAdd: { user: principalName, password: nullable(passwordText) },
  userDelete: { user: principalName },
  userPassword: { user: principalName, password: passwordText },
  userGrantRole: { user: principalName, role: principalName },
  userRevokeRole: { user: principalName, role: principalName },
  roleAdd: { role: principalName },
  roleDelete: { role: principalName },
  roleGrant: { role: principalName, permission: permissionShape },
  roleRevoke: { role: principalName, prefix: prefixText },
});

const membersAction: Check = (value) =>
  value === 'list' || value === 'addLearner' || value === 'promote' || value === 'remove'
    ? null
    : violation(`unknown members action ${describeValue(value)}`);

const membersOptional: Readonly<Record<string, Check>> = {
  node: nodeId,
  peer: address,
  client: address,
};

function checkMembers(value: Readonly<Record<string, unknown>>): SchemaViolation | null {
  const bad = membersAction(value['action']);
  if (bad !== null) return within('.action', bad);
  for (const key of Object.keys(value)) {
    if (key === 'kind' || key === 'action') continue;
    const check = membersOptional[key];
    if (check === undefined) return within(`.${key}`, violation('unknown field'));
    const wrong = check(value[key]);
    if (wrong !== null) return within(`.${key}`, wrong);
  }
  if (value['action'] !== 'list' && value['node'] === undefined) {
    return within('.node', violation(`missing (required by ${String(value['action'])})`));
  }
  return null;
}

const simpleOps: Readonly<Record<string, Check>> = {
  keepAlive: exactObject({
    kind: literal('keepAlive'),
    session: uint,
    clientId: string(helloLabelLengthMax),
  }),
  read: exactObject({ kind: literal('read'), query: queryShape }),
  watch: exactObject({ kind: literal('watch'), prefix: prefixText, fromIndex: uint }),
  unwatch: exactObject({ kind: literal('unwatch'), watchId: uint }),
  status: exactObject({ kind: literal('status') }),
  transferLeader: exactObject({ kind: literal('transferLeader'), to: nodeId }),
  snapshot: exactObject({ kind: literal('snapshot') }),
  backup: exactObject({ kind: literal('backup'), backup: uint, offset: uint }),
  admin: exactObject({ kind: literal('admin'), action: adminActionShape }),
  whoami: exactObject({ kind: literal('whoami') }),
};

/**
 * Validates a request's op. A command is checked by the state machine's own decoder on its
 * canonical encoding (decodeCommand(encodeCommand(x))), so the node refuses at the door exactly
 * what every replica would refuse at apply time; only 'client' commands are accepted.
 */
export function validateOp(value: unknown, config: LockMachineConfig): Result<ClientOp, string> {
  if (!isPlainObject(value)) return err(`op: expected an object, got ${describeValue(value)}`);
  const kind = value['kind'];
  if (kind === 'command') {
    const keys = Object.keys(value);
    if (keys.length !== 2 || !Object.hasOwn(value, 'command')) {
      return err('op: a command op has exactly the fields kind and command');
    }
    const command = validateCommand(value['command'], config);
    if (!command.ok) return command;
    return ok({ kind: 'command', command: command.value });
  }
  if (kind === 'members') {
    const bad = checkMembers(value);
    if (bad !== null) return err(`op${bad.path}: ${bad.reason}`);
    return ok(value as unknown as ClientOp);
  }
  const check = typeof kind === 'string' ? simpleOps[kind] : undefined;
  if (check === undefined) return err(`op.kind: unknown op kind ${describeValue(kind)}`);
  const bad = check(value);
  if (bad !== null) return err(`op${bad.path}: ${bad.reason}`);
  if (kind === 'read') {
    const query = value['query'] as Query;
    if (query.kind === 'locks' && query.limit > locksQueryLimitMax) {
      return err(`op.query.limit: at most ${locksQueryLimitMax}`);
    }
    if (query.kind === 'keys' && (query.limit < 1 || query.limit > keysQueryLimitMax)) {
      return err(`op.query.limit: must be from 1 to ${keysQueryLimitMax}`);
    }
    if (query.kind === 'session' && query.session < 1) {
      return err('op.query.session: must be ≥ 1');
    }
  }
  if (kind === 'keepAlive' && (value['session'] as number) < 1) {
    return err('op.session: must be ≥ 1');
  }
  return ok(value as unknown as ClientOp);
}

/**
 * A client command as the state machine would decode it, or why not: the object is encoded with
 * the state machine's own encoder and decoded back, so exactly the commands every replica would
 * accept pass (unknown extra fields are dropped by the canonical encoding).
 */
export function validateCommand(value: unknown, config: LockMachineConfig): Result<ClientCommand, string> {
  if (!isPlainObject(value)) return err(`command: expected an object, got ${describeValue(value)}`);
  if (value['type'] !== 'client') return err('command: only client commands may be sent');
  if (Object.hasOwn(value, 'principal')) {
    // The node stamps every command with the connection's principal; a client naming one would
    // act as anybody it likes.
    return err('command.principal: set by the node from the connection, never by the client');
  }
  if (!isPlainObject(value['op'])) {
    return err(`command.op: expected an object, got ${describeValue(value['op'])}`);
  }
  let bytes: Uint8Array;
  try {
    bytes = encodeCommand(value as unknown as Command);
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    return err(`command: not encodable (${reason})`);
  }
  const decoded = decodeCommand(bytes, config);
  if (!decoded.ok) return err(`command: ${decoded.error}`);
  if (decoded.value.type !== 'client') return err('command: only client commands may be sent');
  return ok(decoded.value);
}

/** The bytes a node proposes for a validated client command. */
export function commandPayload(command: ClientCommand): Uint8Array {
  return encodeCommand(command);
}

/**
 * A request frame's envelope: `{ type: 'Request', id, op, as? }` with the op still unchecked.
 * `as` is well formed here; whether this connection may use it is the node's decision.
 */
export type RequestEnvelope =
  | { readonly ok: true; readonly id: number; readonly op: unknown; readonly as: string | null }
  | { readonly ok: false; readonly message: string };

/**
 * Checks that a frame is a Request with a valid id. Anything else is a protocol violation (Error
 * frame and close); a bad op inside a good envelope only fails that request.
 */
export function requestEnvelope(value: unknown): RequestEnvelope {
  if (!isPlainObject(value)) {
    return { ok: false, message: `expected a Request frame, got ${describeValue(value)}` };
  }
  if (value['type'] !== 'Request') {
    const got = describeValue(value['type']);
    return { ok: false, message: `expected a Request frame, got type ${got}` };
  }
  const keys = Object.keys(value);
  const hasAs = Object.hasOwn(value, 'as');
  if (keys.length !== (hasAs ? 4 : 3) || !Object.hasOwn(value, 'op') || !Object.hasOwn(value, 'id')) {
    return { ok: false, message: 'a Request frame has exactly the fields type, id, op and (optionally) as' };
  }
  const badId = uint(value['id']);
  if (badId !== null) return { ok: false, message: `invalid Request id: ${badId.reason}` };
  const as = hasAs ? value['as'] : null;
  if (as !== null && !isPrincipalName(as)) {
    return { ok: false, message: `invalid Request as: expected a user name, got ${describeValue(as)}` };
  }
  return { ok: true, id: value['id'] as number, op: value['op'], as };
}

// ---------------------------------------------------------------------------------------------
// Validation of what a node sends (for clients)

const memberAddress = exactObject({ id: nodeId, client: address });
const welcomeRequired: Readonly<Record<string, Check>> = {
  type: literal('Welcome'),
  clusterId: string(helloLabelLengthMax),
  nodeId,
  leader: nullable(nodeId),
  members: (value) => {
    if (!Array.isArray(value)) return violation(`expected an array, got ${describeValue(value)}`);
    for (let i = 0; i < value.length; i++) {
      const bad = memberAddress(value[i]);
      if (bad !== null) return within(`[${i}]`, bad);
    }
    return null;
  },
};
const welcomeOptional: Readonly<Record<string, Check>> = {
  principal: nullable(principalName),
  token: tokenText,
};

/** The Welcome's fields; `principal` and `token` may be absent (a node before they existed). */
const welcomeShape: Check = (value) => {
  if (!isPlainObject(value)) return violation(`expected an object, got ${describeValue(value)}`);
  for (const [name, check] of Object.entries(welcomeRequired)) {
    if (!Object.hasOwn(value, name)) return within(`.${name}`, violation('missing'));
    const bad = check(value[name]);
    if (bad !== null) return within(`.${name}`, bad);
  }
  for (const name of Object.keys(value)) {
    if (Object.hasOwn(welcomeRequired, name)) continue;
    const check = welcomeOptional[name];
    if (check === undefined) return within(`.${name}`, violation('unknown field'));
    const bad = check(value[name]);
    if (bad !== null) return within(`.${name}`, bad);
  }
  return null;
};

const responseShape = exactObject({ type: literal('Response'), id: uint, result: resultShape });
const pushShape = exactObject({ type: literal('Push'), push: pushEventShape });

/**
 * The one decoder of what a node sends a client: the envelope, and the payload of every result
 * and push by its code or kind (answer-schema.ts), so what it accepts is the typed `ServerFrame`
 * its readers switch on. Used by the client library, by forwarding nodes and by test servers.
 */
export function decodeServerFrame(received: unknown): Result<ServerFrame, string> {
  const error = asErrorFrame(received);
  if (error !== null) return ok(error);
  if (!isPlainObject(received)) return err(`expected a server frame, got ${describeValue(received)}`);
  const value =
    received['type'] === 'Response' ? { ...received, result: normalisedResult(received['result']) } : received;
  const shape =
    value['type'] === 'Welcome'
      ? welcomeShape
      : value['type'] === 'Response'
        ? responseShape
        : value['type'] === 'Push'
          ? pushShape
          : null;
  if (shape === null) return err(`unknown server frame type ${describeValue(value['type'])}`);
  const bad = shape(value);
  if (bad !== null) {
    return err(`invalid ${String(value['type'])} frame at $${bad.path}: ${bad.reason}`);
  }
  if (value['type'] === 'Welcome' && !Object.hasOwn(value, 'principal')) {
    return ok({ ...value, principal: null } as unknown as ServerFrame);
  }
  return ok(value as unknown as ServerFrame);
}
