/**
 * The first frame on every connection is a Hello; the side that accepts a connection checks it and
 * answers with its own Hello, or with an Error frame and a close. After the handshake a peer
 * connection carries only Raft messages and Error frames.
 */
import type { NodeId } from '../raft/types.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import type { Check } from './schema.js';
import { describeValue, exactObject, isPlainObject, literal, nodeId, string, uint, violation } from './schema.js';

export const protocolName = 'raftlock';
/** Bumped on any incompatible change to frames, hello, error frames or the Message schema. */
export const protocolVersion = 1;

/** Cluster ids and client names are short labels; the bound keeps hello frames small. */
export const helloLabelLengthMax = 128;

interface HelloBase {
  readonly type: 'Hello';
  readonly protocol: typeof protocolName;
  readonly version: number;
  readonly clusterId: string;
}

/** A Raft peer introduces itself by node id; a client by a free-form name used in logs. */
export type Hello = HelloBase & ({ readonly nodeId: NodeId } | { readonly client: string });

/** Stable codes carried by Error frames. */
export type WireErrorCode =
  | 'BAD_HELLO'
  | 'VERSION_MISMATCH'
  | 'CLUSTER_MISMATCH'
  | 'UNKNOWN_PEER'
  | 'FRAME_TOO_LARGE'
  | 'MALFORMED_FRAME'
  | 'UNEXPECTED_FRAME'
  | 'HANDSHAKE_TIMEOUT'
  | 'TOO_MANY_CONNECTIONS'
  /** The client did not read what the node sent it: more than the node's bound waited unread. */
  | 'SLOW_READER'
  /**
   * The connection proved no identity this node accepts (no or a wrong certificate, password or
   * token, a user that no longer exists, a claim only a member node may make).
   */
  | 'UNAUTHENTICATED';

/** Sent just before the sender closes the connection; `message` is for humans and logs. */
export interface ErrorFrame {
  readonly type: 'Error';
  readonly code: WireErrorCode;
  readonly message: string;
}

export const wireErrorCodes: readonly WireErrorCode[] = [
  'BAD_HELLO',
  'VERSION_MISMATCH',
  'CLUSTER_MISMATCH',
  'UNKNOWN_PEER',
  'FRAME_TOO_LARGE',
  'MALFORMED_FRAME',
  'UNEXPECTED_FRAME',
  'HANDSHAKE_TIMEOUT',
  'TOO_MANY_CONNECTIONS',
  'SLOW_READER',
  'UNAUTHENTICATED',
];

/** Error messages are bounded so an Error frame always fits in the smallest sensible frame. */
export const errorMessageLengthMax = 1024;

export function errorFrame(code: WireErrorCode, message: string): ErrorFrame {
  return { type: 'Error', code, message: message.slice(0, errorMessageLengthMax) };
}

const label = string(helloLabelLengthMax);
const helloHeader = {
  type: literal('Hello'),
  protocol: string(helloLabelLengthMax),
  version: uint,
  clusterId: label,
} as const;
const peerHello = exactObject({ ...helloHeader, nodeId });
const clientHello = exactObject({ ...helloHeader, client: label });
const errorCode: Check = (value) =>
  wireErrorCodes.includes(value as WireErrorCode) ? null : violation(`unknown error code ${describeValue(value)}`);
const errorShape = exactObject({
  type: literal('Error'),
  code: errorCode,
  message: string(errorMessageLengthMax),
});

export function peerHelloFrame(clusterId: string, self: NodeId): Hello {
  const version = protocolVersion;
  return { type: 'Hello', protocol: protocolName, version, clusterId, nodeId: self };
}

export function clientHelloFrame(clusterId: string, client: string): Hello {
  return { type: 'Hello', protocol: protocolName, version: protocolVersion, clusterId, client };
}

/** A decoded frame that is an Error frame, or null if it is anything else. */
export function asErrorFrame(value: unknown): ErrorFrame | null {
  return errorShape(value) === null ? (value as ErrorFrame) : null;
}

export interface HelloExpectations {
  readonly clusterId: string;
  /** Which kind of speaker this endpoint serves. */
  readonly accept: 'peer' | 'client';
}

/**
 * Checks the first frame of a connection. The protocol name is checked before anything else so
 * that a stranger (an HTTP client, a port scanner) gets BAD_HELLO, not a confusing field error;
 * then the version, then the cluster id, each with a message naming both sides' values.
 */
export function checkHello(value: unknown, expected: HelloExpectations): Result<Hello, ErrorFrame> {
  if (!isPlainObject(value) || value['type'] !== 'Hello' || value['protocol'] !== protocolName) {
    return err(errorFrame('BAD_HELLO', `expected a ${protocolName} Hello frame first`));
  }
  if (value['version'] !== protocolVersion) {
    const theirs = describeValue(value['version']);
    const ours = protocolVersion;
    const message = `protocol version ${theirs} is not supported; this node speaks version ${ours}`;
    return err(errorFrame('VERSION_MISMATCH', message));
  }
  if (value['clusterId'] !== expected.clusterId) {
    const theirs = describeValue(value['clusterId']);
    const ours = JSON.stringify(expected.clusterId);
    const message = `cluster id ${theirs} does not match this node's cluster id ${ours}`;
    return err(errorFrame('CLUSTER_MISMATCH', message));
  }
  const shape = expected.accept === 'peer' ? peerHello : clientHello;
  const bad = shape(value);
  if (bad !== null) {
    return err(errorFrame('BAD_HELLO', `invalid Hello at $${bad.path}: ${bad.reason}`));
  }
  return ok(value as unknown as Hello);
}
