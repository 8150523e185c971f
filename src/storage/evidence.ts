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

/**
 * Evidence of what a node has made durable, kept apart from the log so that a log that loses
 * synced writes (LevelDB's write-ahead log cut short, a torn or flipped tail, a table file gone)
 * can be told from one that is merely old. LevelDB repairs such damage silently: it drops the
 * broken tail and opens; without a second record the node would start, forget entries it
 * acknowledged or a vote it cast, and break Raft's safety argument (Raft §5.2, §5.4).
 *
 * Two files, `raftlock-evidence-a` and `-b`, each one 512-byte block holding a sealed record
 * (CRC-32C, as every record of the log): the generation of the log's last synced batch and the
 * state it left (term, vote, commit, last index and term, snapshot index). After each synced
 * batch the log overwrites the copy that does not hold the newest record, with O_DSYNC, before
 * anyone is told the batch is durable. A crash during that write tears at most that copy; the
 * other still holds the previous record, which the log on disk is at least as new as.
 *
 * Which state is "the newest" is decided by the generation, and only the log can be behind it:
 * both were written in that order.
 */

export const evidenceFileNames = ['raftlock-evidence-a', 'raftlock-evidence-b'] as const;
const temporaryName = 'raftlock-evidence.tmp';

/** One disk sector: a write of it is as close to atomic as a disk offers, and never straddles two. */
export const evidenceBlockBytes = 512;
const evidenceKey = 'evidence';
const evidenceVersion = 1;
const lengthBytes = 4;

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** The block for `mark`: a 4-byte length, the sealed record, zero padding. */
export function encodeEvidence(mark: LogMark): Buffer {
  const payload = packr.pack([
    evidenceVersion,
    mark.generation,
    mark.term,
    mark.vote,
    mark.commit,
    mark.lastIndex,
    mark.lastTerm,
    mark.snapshotIndex,
  ]);
  const sealed = sealRecord(evidenceKey, payload);
  const block = Buffer.alloc(evidenceBlockBytes);
  block.writeUInt32BE(sealed.byteLength, 0);
  sealed.copy(block, lengthBytes);
  return block;
}

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** The mark in a block, or what is wrong with it (a torn or damaged copy). */
export function decodeEvidence(block: Uint8Array): Result<LogMark, string> {
  if (block.byteLength !== evidenceBlockBytes)
    return err(`is ${block.byteLength} bytes long, not ${evidenceBlockBytes}`);
  const length = Buffer.from(block.buffer, block.byteOffset, block.byteLength).readUInt32BE(0);
  if (length > evidenceBlockBytes - lengthBytes) return err('has an impossible record length');
  const payload = openRecord(evidenceKey, block.subarray(lengthBytes, lengthBytes + length));
  if (payload === null) return err('fails its CRC-32C checksum (a torn or damaged write)');
  let v: unknown;
  try {
    v = packr.unpack(payload);
  } catch {
    return err('does not decode');
  }
  if (!Array.isArray(v) || v.length !== 8 || v[0] !== evidenceVersion)
    return err('is not an evidence record of this version');
  const [, generation, term, vote, commit, lastIndex, lastTerm, snapshotIndex] = v as unknown[];
  if (![generation, term, commit, lastIndex, lastTerm, snapshotIndex].every(isCount))
    return err('holds an invalid number');
  if (vote !== null && !isValidNodeId(vote)) return err('holds an invalid vote');
  return ok({
    generation: generation as number,
    term: term as number,
    vote,
    commit: commit as number,
    lastIndex: lastIndex as number,
    lastTerm: lastTerm as number,
    snapshotIndex: snapshotIndex as number,
  });
}

/** One copy as found at open. */
export type EvidenceCopy =
  | { readonly name: string; readonly state: 'missing' }
  | { readonly name: string; readonly state: 'damaged'; readonly why: string }
  | { readonly name: string; readonly state: 'valid'; readonly mark: LogMark };

/** Both copies as found at open, and the newest valid one. */
export interface EvidenceFound {
  readonly copies: readonly EvidenceCopy[];
  readonly newest: { readonly name: string; readonly mark: LogMark } | null;
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
      decoded.ok ? { name, state: 'valid', mark: decoded.value } : { name, state: 'damaged', why: decoded.error },
    );
  }
  let newest: EvidenceFound['newest'] = null;
  for (const copy of copies) {
    if (copy.state === 'valid' && (newest === null || copy.mark.generation > newest.mark.generation))
      newest = { name: copy.name, mark: copy.mark };
  }
  return { copies, newest };
}

/**
 * The two copies, open for writing. `record` overwrites the older copy in place (O_DSYNC: the
 * write returns once the block is on stable storage), so the newest record always survives a
 * torn write.
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
        await handle.write(encodeEvidence(mark), 0, evidenceBlockBytes, 0);
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

  /** Overwrites the older copy with `mark`; resolves once it is durable. */
  async record(mark: LogMark): Promise<void> {
    const handle = this.handles[this.next];
    if (handle === undefined) throw new Error('evidence copy missing');
    const block = encodeEvidence(mark);
    const { bytesWritten } = await handle.write(block, 0, evidenceBlockBytes, 0);
    if (bytesWritten !== evidenceBlockBytes)
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
