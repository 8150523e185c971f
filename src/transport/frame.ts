import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import { assert } from '../util/assert.js';

/** Bytes of the big-endian length prefix in front of every frame payload. */
export const frameHeaderBytes = 4;

/** The largest payload a 4-byte prefix can describe. */
export const framePayloadBytesLimit = 0xffff_ffff;

/**
 * One frame on the wire: a 4-byte big-endian payload length followed by the payload.
 * The result is a fresh buffer the caller may keep or hand to a socket.
 */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  assert(payload.byteLength <= framePayloadBytesLimit, 'frame payload longer than 2^32 - 1 bytes');
  const frame = new Uint8Array(frameHeaderBytes + payload.byteLength);
  new DataView(frame.buffer, frame.byteOffset, frameHeaderBytes).setUint32(0, payload.byteLength);
  frame.set(payload, frameHeaderBytes);
  return frame;
}

/** A length prefix announced a payload larger than the decoder accepts. */
export interface FrameTooLarge {
  readonly code: 'FRAME_TOO_LARGE';
  /** The payload length the prefix claimed. */
  readonly bytes: number;
  readonly frameBytesMax: number;
}

export interface FrameDecoderOptions {
  /** Largest payload accepted, excluding the 4-byte prefix. */
  readonly frameBytesMax: number;
}

/**
 * Incremental, sans-IO frame splitter: feed it socket chunks of any size, get whole payloads.
 *
 * Invariants:
 * 1. Buffered bytes never exceed `frameHeaderBytes + frameBytesMax`: an oversized frame is refused
 *    from its length prefix alone, before any of its payload is stored or allocated.
 * 2. Emitted payloads are independent copies: they stay valid whatever is pushed afterwards.
 * 3. After a FRAME_TOO_LARGE the decoder is poisoned (the stream has lost its framing) and every
 *    further push returns the same error; the caller closes the connection. Frames completed
 *    earlier in the same push are discarded with it: the connection is going away anyway.
 */
export class FrameDecoder {
  readonly frameBytesMax: number;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private failure: FrameTooLarge | null = null;

  constructor(options: FrameDecoderOptions) {
    assert(
      Number.isSafeInteger(options.frameBytesMax) &&
        options.frameBytesMax >= 0 &&
        options.frameBytesMax <= framePayloadBytesLimit,
      () => `frameBytesMax must be an integer in [0, 2^32 - 1], got ${options.frameBytesMax}`,
    );
    this.frameBytesMax = options.frameBytesMax;
  }

  /** Bytes held while waiting for the rest of a frame (for tests and metrics). */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  push(chunk: Uint8Array): Result<readonly Uint8Array[], FrameTooLarge> {
    if (this.failure !== null) return err(this.failure);
    const frames: Uint8Array[] = [];
    let offset = 0;
    while (offset < chunk.byteLength) {
      const need = this.bytesWanted();
      if (need === null) return err(this.poisoned());
      const take = Math.min(need, chunk.byteLength - offset);
      this.pending.push(chunk.subarray(offset, offset + take));
      this.pendingBytes += take;
      offset += take;
      this.maybeEmit(frames);
    }
    // A zero-length frame completes with its header alone; the loop above may end right there.
    if (this.bytesWanted() === null) return err(this.poisoned());
    return ok(frames);
  }

  /**
   * How many more bytes complete the current header or frame, or null when the buffered header
   * claims more than frameBytesMax.
   */
  private bytesWanted(): number | null {
    if (this.pendingBytes < frameHeaderBytes) return frameHeaderBytes - this.pendingBytes;
    const length = this.payloadLength();
    if (length > this.frameBytesMax) return null;
    return frameHeaderBytes + length - this.pendingBytes;
  }

  private payloadLength(): number {
    const header = this.peek(frameHeaderBytes);
    return new DataView(header.buffer, header.byteOffset, frameHeaderBytes).getUint32(0);
  }

  private maybeEmit(frames: Uint8Array[]): void {
    if (this.pendingBytes < frameHeaderBytes) return;
    const length = this.payloadLength();
    if (length > this.frameBytesMax) return;
    if (this.pendingBytes < frameHeaderBytes + length) return;
    assert(this.pendingBytes === frameHeaderBytes + length, 'frame decoder over-read');
    // Copy: a Node Buffer's slice() is a view, and socket chunks must not be pinned by payloads.
    const payload = new Uint8Array(length);
    payload.set(this.peek(this.pendingBytes).subarray(frameHeaderBytes));
    frames.push(payload);
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** The first `bytes` buffered bytes as one contiguous view (copies only when split). */
  private peek(bytes: number): Uint8Array {
    const first = this.pending[0];
    if (first !== undefined && first.byteLength >= bytes) return first.subarray(0, bytes);
    const joined = new Uint8Array(this.pendingBytes);
    let at = 0;
    for (const part of this.pending) {
      joined.set(part, at);
      at += part.byteLength;
    }
    this.pending = [joined];
    return joined.subarray(0, bytes);
  }

  private poisoned(): FrameTooLarge {
    this.failure ??= {
      code: 'FRAME_TOO_LARGE',
      bytes: this.payloadLength(),
      frameBytesMax: this.frameBytesMax,
    };
    this.pending = [];
    this.pendingBytes = 0;
    return this.failure;
  }
}
