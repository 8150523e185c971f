/**
 * The backup file (`raftlock backup FILE`), self-checking so that `raftlock restore` can refuse a
 * damaged one and say where:
 *
 *   offset 0   8 bytes   magic "RLBACKUP"
 *   offset 8   u32 BE    format version (1)
 *   offset 12  u32 BE    header length H
 *   offset 16  H bytes   header, UTF-8 JSON: { clusterId, nodeId, index, term, conf, createdAt, byteLength }
 *   16+H       u32 BE    crc32c of the header bytes
 *   20+H       byteLength bytes   the snapshot: the bytes a node stores as its snapshot's data
 *                        (src/node/envelope.ts: log time + the state machine's canonical encoding)
 *   end-4      u32 BE    crc32c of every byte before it
 *
 * `index` and `term` are the last log entry the snapshot covers; `conf` the membership then (with
 * `addresses` when members were added with them, src/raft/types.ts).
 */
import type { AddressedMember, ConfState, LogIndex, NodeId, Term } from '../raft/types.js';
import { addressedMembers } from '../protocol/message-schema.js';
import { isValidNodeId } from '../raft/types.js';
import { crc32c } from '../storage/crc32c.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';

export const backupMagic = 'RLBACKUP';
export const backupFormatVersion = 1;
const fixedBytes = 16;
/** A header longer than this is not one this format writes (a corrupt length field). */
const headerBytesMax = 1 << 20;

export interface BackupHeader {
  readonly clusterId: string;
  /** The node whose applied state was encoded (the leader when the backup was taken). */
  readonly nodeId: NodeId;
  readonly index: LogIndex;
  readonly term: Term;
  readonly conf: ConfState;
  /** ISO 8601, the node's wall clock when it encoded the state. */
  readonly createdAt: string;
  /** Length of the snapshot bytes that follow the header. */
  readonly byteLength: number;
}

export interface Backup {
  readonly header: BackupHeader;
  readonly snapshot: Uint8Array;
}

/** The whole file for `snapshot` taken at `header` (byteLength is filled in here). */
export function encodeBackup(header: Omit<BackupHeader, 'byteLength'>, snapshot: Uint8Array): Uint8Array {
  const full: BackupHeader = { ...header, byteLength: snapshot.byteLength };
  const headerBytes = new TextEncoder().encode(JSON.stringify(full));
  const total = fixedBytes + headerBytes.byteLength + 4 + snapshot.byteLength + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(backupMagic), 0);
  view.setUint32(8, backupFormatVersion);
  view.setUint32(12, headerBytes.byteLength);
  out.set(headerBytes, fixedBytes);
  const afterHeader = fixedBytes + headerBytes.byteLength;
  view.setUint32(afterHeader, crc32c(headerBytes));
  out.set(snapshot, afterHeader + 4);
  view.setUint32(total - 4, crc32c(out.subarray(0, total - 4)));
  return out;
}

/** The file's contents, or what is wrong with it and at which offset. */
export function decodeBackup(file: Uint8Array): Result<Backup, string> {
  const size = file.byteLength;
  if (size < fixedBytes) return err(`truncated: ${size} bytes, shorter than the ${fixedBytes}-byte fixed header`);
  const magic = new TextDecoder().decode(file.subarray(0, 8));
  if (magic !== backupMagic)
    return err(`offset 0: not a raftlock backup (magic ${JSON.stringify(magic)}, expected "${backupMagic}")`);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const version = view.getUint32(8);
  if (version !== backupFormatVersion)
    return err(`offset 8: format version ${version}; this raftlock reads version ${backupFormatVersion}`);
  const headerLength = view.getUint32(12);
  if (headerLength > headerBytesMax)
    return err(`offset 12: header length ${headerLength} exceeds ${headerBytesMax} (corrupt length field)`);
  const afterHeader = fixedBytes + headerLength;
  if (size < afterHeader + 4)
    return err(`truncated: ${size} bytes, the header (offset ${fixedBytes}) and its checksum need ${afterHeader + 4}`);
  const headerBytes = file.subarray(fixedBytes, afterHeader);
  const headerCrc = view.getUint32(afterHeader);
  if (crc32c(headerBytes) !== headerCrc)
    return err(
      `offset ${afterHeader}: header checksum mismatch (the header at offset ${fixedBytes}..${afterHeader} is damaged)`,
    );
  const header = parseHeader(headerBytes);
  if (!header.ok) return err(`offset ${fixedBytes}: ${header.error}`);
  const snapshotAt = afterHeader + 4;
  const expected = snapshotAt + header.value.byteLength + 4;
  if (size < expected)
    return err(
      `truncated: ${size} bytes, the header promises ${expected} (snapshot at offset ${snapshotAt}, ${header.value.byteLength} bytes, then a 4-byte checksum)`,
    );
  if (size > expected) return err(`offset ${expected}: ${size - expected} unexpected bytes after the file checksum`);
  const fileCrc = view.getUint32(size - 4);
  if (crc32c(file.subarray(0, size - 4)) !== fileCrc) {
    return err(
      `offset ${size - 4}: file checksum mismatch (crc32c over bytes 0..${size - 4}; the snapshot at offset ${snapshotAt}..${size - 4} is damaged)`,
    );
  }
  return ok({ header: header.value, snapshot: file.subarray(snapshotAt, size - 4) });
}

function parseHeader(bytes: Uint8Array): Result<BackupHeader, string> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    return err(`header is not UTF-8 JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof value !== 'object' || value === null) return err('header is not an object');
  const h = value as Record<string, unknown>;
  const uint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (typeof h['clusterId'] !== 'string' || h['clusterId'] === '')
    return err('header.clusterId: expected a non-empty string');
  if (typeof h['nodeId'] !== 'string' || !isValidNodeId(h['nodeId'])) return err('header.nodeId: expected a node id');
  if (!uint(h['index']) || h['index'] < 1) return err('header.index: expected an integer ≥ 1');
  if (!uint(h['term'])) return err('header.term: expected an integer ≥ 0');
  if (typeof h['createdAt'] !== 'string') return err('header.createdAt: expected a timestamp');
  if (!uint(h['byteLength'])) return err('header.byteLength: expected an integer ≥ 0');
  const conf = h['conf'] as Record<string, unknown> | null;
  const ids = (v: unknown): v is NodeId[] =>
    Array.isArray(v) && v.every((id) => typeof id === 'string' && isValidNodeId(id));
  if (typeof conf !== 'object' || conf === null || !ids(conf['voters']) || !ids(conf['learners'])) {
    return err('header.conf: expected { voters, learners } of node ids');
  }
  const addresses = conf['addresses'];
  const badAddresses = addresses === undefined ? null : addressedMembers(addresses);
  if (badAddresses !== null) return err(`header.conf.addresses${badAddresses.path}: ${badAddresses.reason}`);
  return ok({
    clusterId: h['clusterId'],
    nodeId: h['nodeId'],
    index: h['index'] as LogIndex,
    term: h['term'] as Term,
    conf:
      addresses === undefined
        ? { voters: conf['voters'], learners: conf['learners'] }
        : { voters: conf['voters'], learners: conf['learners'], addresses: addresses as AddressedMember[] },
    createdAt: h['createdAt'],
    byteLength: h['byteLength'],
  });
}
