import type { AppliedCommand } from '../raft/state-machine.js';
import type { SimStateMachine } from './sim-machine.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';

/** The hash machine's answer to a command: the index it applied at and the hash after it. */
export interface HashResult {
  readonly index: number;
  readonly hash: number;
}

/**
 * A tiny deterministic state machine for the simulator: folds every command (index, log time and
 * payload) into a rolling 32-bit hash. Two replicas with equal hashes at equal indexes applied the
 * same commands in the same order; the snapshot is the 16 bytes (hash, count, last index).
 */
export class HashMachine implements SimStateMachine<HashResult> {
  private hashValue = 0x811c9dc5;
  private count = 0;
  private lastIndex = 0;

  get hash(): number {
    return this.hashValue;
  }

  get stateHash(): number {
    return this.hashValue;
  }

  get applied(): number {
    return this.count;
  }

  apply(command: AppliedCommand): HashResult {
    let h = this.hashValue;
    h = mix(h, command.index);
    h = mix(h, Math.floor(command.logTimeMs));
    for (let i = 0; i < command.payload.length; i++) h = Math.imul(h ^ (command.payload[i] ?? 0), 0x01000193) >>> 0;
    this.hashValue = h;
    this.count += 1;
    this.lastIndex = command.index;
    return { index: command.index, hash: h };
  }

  snapshot(): Uint8Array {
    const out = new Uint8Array(16);
    const view = new DataView(out.buffer);
    view.setUint32(0, this.hashValue);
    view.setFloat64(4, this.count);
    view.setUint32(12, this.lastIndex);
    return out;
  }

  restore(snapshot: Uint8Array): Result<void, string> {
    if (snapshot.byteLength !== 16) return err(`hash machine snapshot must be 16 bytes, got ${snapshot.byteLength}`);
    const view = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
    this.hashValue = view.getUint32(0);
    this.count = view.getFloat64(4);
    this.lastIndex = view.getUint32(12);
    return ok(undefined);
  }
}

function mix(h: number, value: number): number {
  let x = h;
  x = Math.imul(x ^ (value & 0xffff), 0x01000193) >>> 0;
  x = Math.imul(x ^ Math.floor(value / 0x10000), 0x01000193) >>> 0;
  return x;
}
