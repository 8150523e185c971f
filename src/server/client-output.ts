/**
 * What a node has yet to send one client connection, bounded in bytes. Frames are encoded at once
 * (their order is the order of the calls) and handed to the socket once per event-loop turn as
 * one buffer, and only while the socket drains; while it does not, each turn's frames wait here
 * as one buffer too. A client that stops reading therefore costs the node its unread bytes and
 * nothing more: no per-frame objects piling up in the socket (a million small events would cost
 * far more than their bytes, and handing them over would be one huge write call on the event
 * loop), and no work beyond encoding each frame once.
 *
 * Unread bytes = the socket's own buffer (`writableLength`) + what waits here. Past `bytesMax`
 * the output overflows: everything waiting here is dropped at once and `onOverflow` is told (the
 * connection then closes with an Error frame behind what the socket already holds).
 */
import type { FramedSocket } from '../transport/framed-socket.js';
import { encodeFrame } from '../transport/frame.js';
import { encodePayload } from '../transport/codec.js';

/** Hand the socket more only while its own buffer holds less than this (above its 16 KiB high-water mark). */
const socketBytesLow = 256 * 1024;

/** Frames of one turn kept apart before they are joined into one buffer. */
const turnFramesMax = 1024;

export class ClientOutput {
  /** Buffers not yet handed to the socket, oldest first: at most one per turn while it does not drain. */
  private waiting: Uint8Array[] = [];
  private waitingBytes = 0;
  /** This turn's frames, joined into one buffer at the turn's end. */
  private turn: Uint8Array[] = [];
  private turnBytes = 0;
  private flushScheduled = false;
  private overflowed = false;

  constructor(
    private readonly framed: FramedSocket,
    private readonly bytesMax: number,
    private readonly onOverflow: (unreadBytes: number) => void,
  ) {
    framed.socket.on('drain', () => this.flush());
  }

  /** Bytes accepted but not yet read by the client, as far as this node can tell. */
  get unreadBytes(): number {
    return this.framed.bufferedBytes + this.waitingBytes + this.turnBytes;
  }

  /**
   * Queues one frame; false when the connection is finished or the output overflowed with it.
   * `now`: hand it (and everything before it) to the socket at once rather than at the turn's end,
   * so it reaches the kernel ahead of what other connections are sent later in this turn.
   */
  write(value: unknown, now = false): boolean {
    if (this.overflowed || this.framed.isFinished) return false;
    const frame = encodeFrame(encodePayload(value));
    this.turn.push(frame);
    this.turnBytes += frame.byteLength;
    // A turn that fans out very many frames is joined as it goes, so it never holds many objects.
    if (this.turn.length >= turnFramesMax) this.endTurn();
    const unread = this.unreadBytes;
    if (unread > this.bytesMax) {
      this.overflowed = true;
      this.drop();
      this.onOverflow(unread);
      return false;
    }
    if (now) {
      this.flush();
      return true;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Like a cork: everything written in this turn leaves together, in one system call.
      process.nextTick(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
    return true;
  }

  /** Hands everything waiting to the socket now, whatever its buffer holds (before a final Error frame). */
  flushAll(): void {
    if (this.overflowed || this.framed.isFinished) return this.drop();
    this.endTurn();
    for (const buffer of this.waiting) this.framed.writeFrame(buffer);
    this.waiting = [];
    this.waitingBytes = 0;
  }

  private flush(): void {
    if (this.overflowed || this.framed.isFinished) return this.drop();
    this.endTurn();
    while (this.waiting.length > 0 && this.framed.bufferedBytes < socketBytesLow) {
      const buffer = this.waiting.shift();
      if (buffer === undefined) break;
      this.waitingBytes -= buffer.byteLength;
      this.framed.writeFrame(buffer);
    }
  }

  /** The turn's frames become one waiting buffer. */
  private endTurn(): void {
    if (this.turn.length === 0) return;
    const joined = this.turn.length === 1 ? this.turn[0] : Buffer.concat(this.turn, this.turnBytes);
    this.turn = [];
    if (joined !== undefined) {
      this.waiting.push(joined);
      this.waitingBytes += joined.byteLength;
    }
    this.turnBytes = 0;
  }

  private drop(): void {
    this.turn = [];
    this.turnBytes = 0;
    this.waiting = [];
    this.waitingBytes = 0;
  }
}
