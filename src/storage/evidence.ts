import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { isValidNodeId } from '../raft/types.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import type { LogMark } from '../node/log-mark.js';
import { openRecord, sealRecord } from './records.js';
import type { WriteOp } from './write-plan.js';

/**
 * Evidence of what a node has made durable, kept apart from the log so that a log that loses
 * synced writes (LevelDB's write-ahead log cut short, a torn or flipped tail, a table file gone)
 * can be told from one that is merely old. LevelDB repairs such damage silently: it drops the
 * broken tail and opens; without a second record the node would start, forget entries it
 * acknowledged or a vote it cast, and break Raft's safety argument (Raft §5.2, §5.4).
 *
 * Two files, `raftlock-evidence-a` and `-b`, each holding one sealed record (CRC-32C, as every
 * record of the log) at its start, padded to whole 512-byte sectors: the generation of a synced
 * batch and the state it leaves (term, vote, commit, last index and term, snapshot index), and,
 * when the batch is small, the batch itself (its redo). Each record overwrites the copy that does
 * not hold the newest one, with O_DSYNC, before anyone is told the batch is durable. A crash
 * during that write tears at most that copy; the other still holds the previous record.
 *
 * A record without a redo is written after its batch is synced, so only the log can be behind it
 * by a whole batch if writes were lost. A record with a redo is written while its batch is (the
 * previous batch being synced already): after a crash the log may be one batch behind it, and
 * load() then writes that batch again from the record (docs/storage.md, "Evidence of what the
 * node acknowledged").
 */

export const evidenceFileNames = ['raftlock-evidence-a', 'raftlock-evidence-b'] as const;
const temporaryName = 'raftlock-evidence.tmp';

/** One disk sector: the unit a copy is padded to, and the smallest copy there is. */
export const evidenceBlockBytes = 512;
/** A record with its redo stays within this (32 sectors); a larger batch gets a record without one. */
export const evidenceRecordBytesMax = 16 * 1024;
const evidenceKey = 'evidence';
const evidenceVersion = 2;
/** Records of the first version carry no redo; directories written then still load. */
const evidenceVersionWithoutRedo = 1;
const lengthBytes = 4;
/** Above what a record without redo can take: the version, seven counts and a vote, packed. */
const recordHeaderBytesMax = 256;
/** Above what msgpack adds to one op: its array, key and value headers. */
const opOverheadBytesMax = 16;

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** One copy's content: the state a synced batch left, and that batch when it was small. */
export interface EvidenceRecord {
  readonly mark: LogMark;
  /** The batch's ops (without its generation, which `mark` gives); null when not kept. */
  readonly redo: readonly WriteOp[] | null;
}

/**
 * Whether a record carrying `ops` as its redo certainly fits `evidenceRecordBytesMax`: an upper
 * bound on the packed size, so that the log can decide before the batch goes out.
 */
export function redoFits(ops: readonly WriteOp[]): boolean {
  let bytes = lengthBytes + recordHeaderBytesMax;
  for (const op of ops) {
    bytes += opOverheadBytesMax + Buffer.byteLength(op.key) + (op.type === 'put' ? op.value.byteLength : 0);
    if (bytes > evidenceRecordBytesMax) return false;
  }
  return true;
}

/** The copy's bytes for `record`: a 4-byte length, the sealed record, zeros to a whole sector. */
export function encodeEvidence(record: EvidenceRecord): Buffer {
  const { mark, redo } = record;
  const payload = packr.pack([
    evidenceVersion,
    mark.generation,
    mark.term,
    mark.vote,
    mark.commit,
    mark.lastIndex,
    mark.lastTerm,
    mark.snapshotIndex,
    redo === null ? null : redo.map((op) => (op.type === 'put' ? [op.key, op.value] : [op.key, null])),
  ]);
  const sealed = sealRecord(evidenceKey, payload);
  const used = lengthBytes + sealed.byteLength;
  if (used > evidenceRecordBytesMax)
    throw new Error(`an evidence record of ${used} bytes exceeds ${evidenceRecordBytesMax} (redoFits was not asked)`);
  const block = Buffer.alloc(Math.ceil(used / evidenceBlockBytes) * evidenceBlockBytes);
  block.writeUInt32BE(sealed.byteLength, 0);
  sealed.copy(block, lengthBytes);
  return block;
}

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** The record at the start of a copy, or what is wrong with it (a torn or damaged copy). */
export function decodeEvidence(bytes: Uint8Array): Result<EvidenceRecord, string> {
  if (bytes.byteLength < evidenceBlockBytes || bytes.byteLength > evidenceRecordBytesMax)
    return err(`is ${bytes.byteLength} bytes long, not ${evidenceBlockBytes}..${evidenceRecordBytesMax}`);
  const length = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readUInt32BE(0);
  if (length > bytes.byteLength - lengthBytes) return err('has an impossible record length');
  const payload = openRecord(evidenceKey, bytes.subarray(lengthBytes, lengthBytes + length));
  if (payload === null) return err('fails its CRC-32C checksum (a torn or damaged write)');
  let v: unknown;
  try {
    v = packr.unpack(payload);
  } catch {
    return err('does not decode');
  }
  const shaped =
    Array.isArray(v) &&
    ((v[0] === evidenceVersion && v.length === 9) || (v[0] === evidenceVersionWithoutRedo && v.length === 8));
  if (!shaped) return err('is not an evidence record of a version this raftlock reads');
  const [, generation, term, vote, commit, lastIndex, lastTerm, snapshotIndex, packedRedo] = v as unknown[];
  if (![generation, term, commit, lastIndex, lastTerm, snapshotIndex].every(isCount))
    return err('holds an invalid number');
  if (vote !== null && !isValidNodeId(vote)) return err('holds an invalid vote');
  const redo = decodeRedo(packedRedo ?? null);
  if (!redo.ok) return redo;
  return ok({
    mark: {
      generation: generation as number,
      term: term as number,
      vote,
      commit: commit as number,
      lastIndex: lastIndex as number,
      lastTerm: lastTerm as number,
      snapshotIndex: snapshotIndex as number,
    },
    redo: redo.value,
  });
}

function decodeRedo(packed: unknown): Result<readonly WriteOp[] | null, string> {
  if (packed === null) return ok(null);
  if (!Array.isArray(packed)) return err('holds a redo that is not a list');
  const ops: WriteOp[] = [];
  for (const item of packed as unknown[]) {
    if (!Array.isArray(item) || item.length !== 2 || typeof item[0] !== 'string')
      return err('holds a redo op of the wrong shape');
    const [key, value] = item as [string, unknown];
    if (value === null) ops.push({ type: 'del', key });
    else if (value instanceof Uint8Array)
      ops.push({ type: 'put', key, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength) });
    else return err('holds a redo op whose value is not bytes');
  }
  return ok(ops);
}

/** One copy as found at open. */
export type EvidenceCopy =
  | { readonly name: string; readonly state: 'missing' }
  | { readonly name: string; readonly state: 'damaged'; readonly why: string }
  | ({ readonly name: string; readonly state: 'valid' } & EvidenceRecord);

/** Both copies as found at open, and the newest valid one. */
export interface EvidenceFound {
  readonly copies: readonly EvidenceCopy[];
  readonly newest: ({ readonly name: string } & EvidenceRecord) | null;
}

/** Reads both copies; writes nothing (a refusal must leave the evidence as it found it). */
export async function readEvidence(dir: string): Promise<EvidenceFound> {
  const copies: EvidenceCopy[] = [];
  for (const name of evidenceFileNames) {
    let bytes: Buffer;
    try {
      bytes = await readFile(join(dir, name));
    } catch (error) {
      if (isMissing(error)) {
        copies.push({ name, state: 'missing' });
        continue;
      }
      throw error;
    }
    const decoded = decodeEvidence(bytes);
    copies.push(
      decoded.ok ? { name, state: 'valid', ...decoded.value } : { name, state: 'damaged', why: decoded.error },
    );
  }
  let newest: EvidenceFound['newest'] = null;
  for (const copy of copies) {
    if (copy.state === 'valid' && (newest === null || copy.mark.generation > newest.mark.generation))
      newest = { name: copy.name, mark: copy.mark, redo: copy.redo };
  }
  return { copies, newest };
}

/**
 * The two copies, open for writing. `record` overwrites the older copy in place from its start
 * (O_DSYNC: the write returns once the bytes are on stable storage), so the newest record always
 * survives a torn write. A shorter record leaves the copy's old tail behind it; its length says
 * where it ends.
 */
export class EvidenceWriter {
  private next: number;

  private constructor(
    private readonly handles: readonly FileHandle[],
    newestCopy: number,
  ) {
    this.next = 1 - newestCopy;
  }

  /**
   * Opens both copies for writing. A missing copy is created holding `mark` (written to a
   * temporary file, synced, renamed into place, the directory synced), so that a copy that exists
   * under its name was once complete.
   */
  static async open(dir: string, found: EvidenceFound, mark: LogMark): Promise<EvidenceWriter> {
    let created = false;
    for (const copy of found.copies) {
      if (copy.state !== 'missing') continue;
      const temporary = join(dir, temporaryName);
      const handle = await open(temporary, 'w');
      try {
        const block = encodeEvidence({ mark, redo: null });
        await handle.write(block, 0, block.byteLength, 0);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, join(dir, copy.name));
      created = true;
    }
    if (created) await syncDirectory(dir);
    const handles: FileHandle[] = [];
    try {
      for (const name of evidenceFileNames)
        handles.push(await open(join(dir, name), constants.O_RDWR | constants.O_DSYNC));
    } catch (error) {
      for (const handle of handles) await handle.close();
      throw error;
    }
    const newestCopy =
      found.newest === null ? 0 : evidenceFileNames.indexOf(found.newest.name as (typeof evidenceFileNames)[number]);
    return new EvidenceWriter(handles, Math.max(0, newestCopy));
  }

  /** Overwrites the older copy with `record`; resolves once it is durable. */
  async record(record: EvidenceRecord): Promise<void> {
    const handle = this.handles[this.next];
    if (handle === undefined) throw new Error('evidence copy missing');
    const block = encodeEvidence(record);
    const { bytesWritten } = await handle.write(block, 0, block.byteLength, 0);
    if (bytesWritten !== block.byteLength)
      throw new Error(`short write of ${evidenceFileNames[this.next]}: ${bytesWritten} bytes`);
    this.next = 1 - this.next;
  }

  async close(): Promise<void> {
    for (const handle of this.handles) await handle.close();
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isMissing(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}
