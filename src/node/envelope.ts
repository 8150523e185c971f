import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';

/**
 * The bytes of a command entry: the leader's log time and the client's payload.
 * Layout: version byte (1), log time in ms as a float64 big-endian (8), payload (rest).
 * The same framing wraps host snapshots, so a restored node knows the log time its image is at.
 */
export interface Envelope {
  readonly logTimeMs: number;
  readonly payload: Uint8Array;
}

const envelopeVersion = 1;
const headerBytes = 9;

export function encodeEnvelope(logTimeMs: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(headerBytes + payload.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, envelopeVersion);
  view.setFloat64(1, logTimeMs, false);
  out.set(payload, headerBytes);
  return out;
}

/** Total: any bytes give either an envelope or a reason, never an exception. */
export function decodeEnvelope(bytes: Uint8Array): Result<Envelope, string> {
  if (bytes.byteLength < headerBytes) return err(`envelope too short: ${bytes.byteLength} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(0);
  if (version !== envelopeVersion) return err(`unknown envelope version ${version}`);
  const logTimeMs = view.getFloat64(1, false);
  if (!Number.isFinite(logTimeMs) || logTimeMs < 0) return err(`invalid log time ${logTimeMs}`);
  return ok({ logTimeMs, payload: bytes.subarray(headerBytes) });
}
