/**
 * Consecutive applied commands packed into one buffer for the snapshot worker: one allocation and
 * one transferable buffer per run instead of an object (and a cloned payload) per command. Each
 * command is `index, term, logTimeMs` as float64, the payload length as uint32, then the payload.
 */
import type { LogIndex, Term } from '../raft/types.js';
import { assert } from '../util/assert.js';
import type { AppliedCommand } from '../raft/state-machine.js';

const headerBytes = 28;
const initialBytes = 64 * 1024;
const shrinkAboveBytes = 4 * 1024 * 1024;

export class AppliedRunWriter {
  private bytes = new Uint8Array(initialBytes);
  private view = new DataView(this.bytes.buffer);
  private length = 0;

  get isEmpty(): boolean {
    return this.length === 0;
  }

  /** Bytes gathered since the last take. */
  get byteLength(): number {
    return this.length;
  }

  add(command: AppliedCommand): void {
    const payload = command.payload;
    this.reserve(headerBytes + payload.byteLength);
    const at = this.length;
    this.view.setFloat64(at, command.index);
    this.view.setFloat64(at + 8, command.term);
    this.view.setFloat64(at + 16, command.logTimeMs);
    this.view.setUint32(at + 24, payload.byteLength);
    this.bytes.set(payload, at + headerBytes);
    this.length = at + headerBytes + payload.byteLength;
  }

  /** The run so far, copied into a buffer of its own (safe to transfer); the writer starts afresh. */
  take(): Uint8Array {
    const run = this.bytes.slice(0, this.length);
    this.length = 0;
    // After a burst, give the large buffer back rather than keep it for the quiet times.
    if (this.bytes.byteLength > shrinkAboveBytes) {
      this.bytes = new Uint8Array(initialBytes);
      this.view = new DataView(this.bytes.buffer);
    }
    return run;
  }

  private reserve(more: number): void {
    if (this.length + more <= this.bytes.byteLength) return;
    let size = this.bytes.byteLength * 2;
    while (size < this.length + more) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }
}

/** Calls `apply` for each command of a run written by AppliedRunWriter, in order. */
export function forEachApplied(run: Uint8Array, apply: (command: AppliedCommand) => void): void {
  const view = new DataView(run.buffer, run.byteOffset, run.byteLength);
  let at = 0;
  while (at < run.byteLength) {
    assert(at + headerBytes <= run.byteLength, 'a truncated applied-command run');
    const length = view.getUint32(at + 24);
    const end = at + headerBytes + length;
    assert(end <= run.byteLength, 'a truncated applied-command run');
    apply({
      index: view.getFloat64(at) as LogIndex,
      term: view.getFloat64(at + 8) as Term,
      logTimeMs: view.getFloat64(at + 16),
      payload: run.subarray(at + headerBytes, end),
    });
    at = end;
  }
}
