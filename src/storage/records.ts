import { Packr } from 'msgpackr';
import type { ConfChange, ConfState, Entry, HardState, LogIndex, NodeId, Term } from '../raft/types.js';
import { isValidNodeId } from '../raft/types.js';
import { assertNever } from '../util/assert.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import { crc32c } from './crc32c.js';

/**
 * Stored values. Every value is a sealed record: 4 bytes of big-endian CRC-32C, then the payload.
 * The checksum covers the key's UTF-8 bytes and then the payload, so a record that is intact but
 * sits under the wrong key (a misdirected write) fails verification too. Payloads are MessagePack
 * arrays (positional, compact, and fast to decode for a million entries); snapshot chunks are
 * raw bytes. Decoders never trust the bytes: they return a reason string for anything unexpected.
 */

/** Version of this layout, stored in the identity record; a different one is refused (FORMAT). */
export const storageFormatVersion = 1;

const checksumBytes = 4;

// One explicitly configured codec: plain MessagePack with no shared record structures, so any value
// decodes on its own, now and after an upgrade.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** The stored value for `payload` under `key`: checksum, then a copy of the payload. */
export function sealRecord(key: string, payload: Uint8Array): Buffer {
  const sealed = Buffer.allocUnsafe(checksumBytes + payload.byteLength);
  sealed.writeUInt32BE(crc32c(payload, crc32c(Buffer.from(key, 'utf8'))), 0);
  sealed.set(payload, checksumBytes);
  return sealed;
}

/** The payload of a sealed record, or null when the record is too short or fails its checksum. */
export function openRecord(key: string, value: Uint8Array): Uint8Array | null {
  if (value.byteLength < checksumBytes) return null;
  const stored = Buffer.from(value.buffer, value.byteOffset, value.byteLength).readUInt32BE(0);
  const payload = value.subarray(checksumBytes);
  return crc32c(payload, crc32c(Buffer.from(key, 'utf8'))) === stored ? payload : null;
}

function pack(value: unknown): Buffer {
  return packr.pack(value);
}

function unpack(payload: Uint8Array): Result<unknown, string> {
  try {
    return ok(packr.unpack(payload));
  } catch (error) {
    return err(`does not decode as MessagePack (${error instanceof Error ? error.message : String(error)})`);
  }
}

/**
 * The array a record's payload holds, when `fits` accepts its items; otherwise what is wrong with
 * it, naming the record (`what`: "a hard state", "an identity", …).
 */
function unpackRecord<T extends readonly unknown[]>(
  payload: Uint8Array,
  what: string,
  fits: (items: readonly unknown[]) => items is T,
): Result<T, string> {
  const decoded = unpack(payload);
  if (!decoded.ok) return decoded;
  const v = decoded.value;
  return Array.isArray(v) && fits(v) ? ok(v) : err(`is not ${what} record`);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

function isNodeIdList(value: unknown): value is readonly NodeId[] {
  return Array.isArray(value) && value.every(isValidNodeId);
}

// ---- entries ----------------------------------------------------------------------------------

const kindNoop = 0;
const kindCommand = 1;
const kindConfig = 2;

/**
 * Entry payload: `[term, index, 0]` noop, `[term, index, 1, data]` command, `[term, index, 2, type,
 * node]` config, `[term, index, 2, 'addMember', node, peer, client]` a member added with its
 * addresses (logs written before addMember existed hold only the 5-element form).
 */
export function encodeEntry(entry: Entry): Buffer {
  switch (entry.kind) {
    case 'noop':
      return pack([entry.term, entry.index, kindNoop]);
    case 'command':
      return pack([entry.term, entry.index, kindCommand, entry.data]);
    case 'config': {
      const change = entry.change;
      if (change.type === 'addMember') {
        return pack([entry.term, entry.index, kindConfig, change.type, change.node, change.peer, change.client]);
      }
      return pack([entry.term, entry.index, kindConfig, change.type, change.node]);
    }
    default:
      return assertNever(entry, 'entry kind');
  }
}

/** The entry in a payload, or what is wrong with it. Command data is a view into `payload`. */
export function decodeEntry(payload: Uint8Array): Result<Entry, string> {
  const decoded = unpackRecord(
    payload,
    'an entry',
    (v): v is readonly [number, number, ...unknown[]] => isCount(v[0]) && isCount(v[1]),
  );
  if (!decoded.ok) return decoded;
  const v = decoded.value;
  const termValue = v[0] as Term;
  const indexValue = v[1] as LogIndex;
  switch (v[2]) {
    case kindNoop:
      return v.length === 3
        ? ok({ term: termValue, index: indexValue, kind: 'noop' })
        : err('is a malformed noop entry');
    case kindCommand:
      return v.length === 4 && isBytes(v[3])
        ? ok({ term: termValue, index: indexValue, kind: 'command', data: v[3] })
        : err('is a malformed command entry');
    case kindConfig: {
      const change = decodeConfChange(v);
      return change !== null
        ? ok({ term: termValue, index: indexValue, kind: 'config', change })
        : err('is a malformed config entry');
    }
    default:
      return err(`has unknown entry kind ${JSON.stringify(v[2])}`);
  }
}

function decodeConfChange(v: readonly unknown[]): ConfChange | null {
  const [type, node] = [v[3], v[4]];
  if (!isValidNodeId(node)) return null;
  switch (type) {
    case 'addLearner':
    case 'promoteLearner':
    case 'removeNode':
      return v.length === 5 ? { type, node } : null;
    case 'addMember': {
      const [peer, client] = [v[5], v[6]];
      if (v.length !== 7 || typeof peer !== 'string' || typeof client !== 'string') return null;
      return { type, node, peer, client };
    }
    default:
      return null;
  }
}

// ---- hard state -------------------------------------------------------------------------------

/** Hard state payload: `[term, vote | null, commit]`. */
export function encodeHardState(hardState: HardState): Buffer {
  return pack([hardState.term, hardState.vote, hardState.commit]);
}

/** The value in a payload, or what is wrong with it. */
export function decodeHardState(payload: Uint8Array): Result<HardState, string> {
  const decoded = unpackRecord(
    payload,
    'a hard state',
    (v): v is readonly [number, unknown, number] => v.length === 3 && isCount(v[0]) && isCount(v[2]),
  );
  if (!decoded.ok) return decoded;
  const [term, vote, commit] = decoded.value;
  if (vote !== null && !isValidNodeId(vote)) return err(`has an invalid vote ${JSON.stringify(vote)}`);
  return ok({ term: term as Term, vote, commit: commit as LogIndex });
}

// ---- generation -------------------------------------------------------------------------------

/** Generation payload: `[batches written]`. */
export function encodeGeneration(generation: number): Buffer {
  return pack([generation]);
}

/** The value in a payload, or what is wrong with it. */
export function decodeGeneration(payload: Uint8Array): Result<number, string> {
  const decoded = unpackRecord(payload, 'a generation', (v): v is readonly [number] => v.length === 1 && isCount(v[0]));
  return decoded.ok ? ok(decoded.value[0]) : decoded;
}

// ---- identity ---------------------------------------------------------------------------------

/** Who owns a data directory; written on first open and checked on every later one. */
export interface DataDirIdentity {
  readonly formatVersion: number;
  readonly clusterId: string;
  readonly nodeId: NodeId;
}

/** Identity payload: `[formatVersion, clusterId, nodeId]` (the version first, so any later format can read it). */
export function encodeIdentity(identity: DataDirIdentity): Buffer {
  return pack([identity.formatVersion, identity.clusterId, identity.nodeId]);
}

/** The value in a payload, or what is wrong with it. */
export function decodeIdentity(payload: Uint8Array): Result<DataDirIdentity, string> {
  const decoded = unpackRecord(
    payload,
    'an identity',
    (v): v is readonly [number, string, NodeId] =>
      v.length === 3 && isCount(v[0]) && typeof v[1] === 'string' && isValidNodeId(v[2]),
  );
  if (!decoded.ok) return decoded;
  const [formatVersion, clusterId, nodeId] = decoded.value;
  return ok({ formatVersion, clusterId, nodeId });
}

// ---- snapshot metadata --------------------------------------------------------------------------

/** What is known about the stored snapshot without reading its data. */
export interface StoredSnapshotMeta {
  readonly index: LogIndex;
  readonly term: Term;
  readonly conf: ConfState;
  readonly dataBytes: number;
  readonly chunkCount: number;
  /** CRC-32C of the whole snapshot data, checked after the chunks are joined. */
  readonly dataCrc: number;
}

/**
 * Snapshot metadata payload: `[index, term, voters, learners, dataBytes, chunkCount, dataCrc]`,
 * with an eighth item `[[node, peer, client], ...]` when members were added with their addresses
 * (metadata written before that existed, and without such members, holds the 7-item form).
 */
export function encodeSnapshotMeta(meta: StoredSnapshotMeta): Buffer {
  const fields: unknown[] = [
    meta.index,
    meta.term,
    meta.conf.voters,
    meta.conf.learners,
    meta.dataBytes,
    meta.chunkCount,
    meta.dataCrc,
  ];
  const addresses = meta.conf.addresses;
  if (addresses !== undefined) fields.push(addresses.map((a) => [a.node, a.peer, a.client]));
  return pack(fields);
}

type StoredAddress = readonly [NodeId, string, string];

function isAddressList(value: unknown): value is readonly StoredAddress[] {
  return (
    Array.isArray(value) &&
    value.every(
      (a) =>
        Array.isArray(a) &&
        a.length === 3 &&
        isValidNodeId(a[0]) &&
        typeof a[1] === 'string' &&
        typeof a[2] === 'string',
    )
  );
}

/** The value in a payload, or what is wrong with it. */
export function decodeSnapshotMeta(payload: Uint8Array): Result<StoredSnapshotMeta, string> {
  const decoded = unpackRecord(
    payload,
    'a snapshot metadata',
    (
      v,
    ): v is
      | readonly [number, number, NodeId[], NodeId[], number, number, number]
      | readonly [number, number, NodeId[], NodeId[], number, number, number, StoredAddress[]] =>
      (v.length === 7 || (v.length === 8 && isAddressList(v[7]))) &&
      isCount(v[0]) &&
      isCount(v[1]) &&
      isNodeIdList(v[2]) &&
      isNodeIdList(v[3]) &&
      isCount(v[4]) &&
      isCount(v[5]) &&
      isCount(v[6]) &&
      v[6] <= 0xffffffff,
  );
  if (!decoded.ok) return decoded;
  const [index, term, voters, learners, dataBytes, chunkCount, dataCrc, stored] = decoded.value;
  const addresses = stored?.map(([node, peer, client]) => ({ node, peer, client }));
  return ok({
    index: index as LogIndex,
    term: term as Term,
    conf: addresses === undefined ? { voters, learners } : { voters, learners, addresses },
    dataBytes,
    chunkCount,
    dataCrc,
  });
}
