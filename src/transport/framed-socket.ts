import type { Socket } from 'node:net';
import { decodePayload, describeDecodeError, encodePayload } from './codec.js';
import { encodeFrame, FrameDecoder } from './frame.js';
import type { WireErrorCode } from './handshake.js';
import { errorFrame } from './handshake.js';

export interface FramedSocketHandlers {
  /** One decoded MessagePack value per frame, not yet checked against any schema. */
  readonly onValue: (value: unknown) => void;
  /** Called exactly once, when the connection is finished for whatever reason. */
  readonly onClose: (reason: string) => void;
}

/** How long a refused peer gets to read our Error frame before the socket is destroyed. */
const errorLingerMs = 1000;

/**
 * A socket speaking frames of MessagePack values. It owns the socket's lifetime: every socket
 * error is turned into one `onClose`, never into an exception, and protocol violations are
 * answered with an Error frame followed by a close (`fail`).
 */
export class FramedSocket {
  private readonly decoder: FrameDecoder;
  private finished = false;
  private lingerTimer: NodeJS.Timeout | null = null;
  private socketErrorCode: string | null = null;
  private corked = false;

  constructor(
    readonly socket: Socket,
    frameBytesMax: number,
    private readonly handlers: FramedSocketHandlers,
  ) {
    this.decoder = new FrameDecoder({ frameBytesMax });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.socketErrorCode ??= error.code ?? null;
      this.destroy(`socket error: ${error.message}`);
    });
    socket.on('close', () => {
      if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
      this.destroy('connection closed');
    });
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /** The system error code (`ECONNREFUSED`, `ECONNRESET`, ...) that ended the socket, if one did. */
  get errorCode(): string | null {
    return this.socketErrorCode;
  }

  /** Bytes accepted by write() but not yet handed to the kernel. */
  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  /** `host:port` of the other end, for messages and events. */
  get remote(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
  }

  /**
   * Writes a pre-encoded frame; returns false when the socket's buffer is above its high mark.
   * Frames written in the same tick leave in one system call: a forwarding node's many requests,
   * or the answers and pushes one applied batch produces for a connection.
   */
  writeFrame(frame: Uint8Array): boolean {
    if (this.finished) return false;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    return this.socket.write(frame);
  }

  writeValue(value: unknown): boolean {
    return this.writeFrame(encodeFrame(encodePayload(value)));
  }

  /** Sends an Error frame, half-closes, and destroys the socket soon after if the peer lingers. */
  fail(code: WireErrorCode, message: string): void {
    if (this.finished) return;
    this.writeValue(errorFrame(code, message));
    this.finish(`${code}: ${message}`);
    this.socket.end();
    this.lingerTimer = setTimeout(() => this.socket.destroy(), errorLingerMs);
    this.lingerTimer.unref();
  }

  /** Closes immediately (no Error frame). */
  destroy(reason: string): void {
    if (this.finished) {
      this.socket.destroy();
      return;
    }
    this.finish(reason);
    this.socket.destroy();
  }

  private finish(reason: string): void {
    this.finished = true;
    this.socket.removeAllListeners('data');
    this.socket.pause();
    this.handlers.onClose(reason);
  }

  private receive(chunk: Buffer): void {
    if (this.finished) return;
    const pushed = this.decoder.push(chunk);
    if (!pushed.ok) {
      const { bytes, frameBytesMax } = pushed.error;
      const message = `frame of ${bytes} bytes exceeds frameBytesMax ${frameBytesMax}`;
      this.fail('FRAME_TOO_LARGE', message);
      return;
    }
    for (const payload of pushed.value) {
      if (this.finished) return;
      const decoded = decodePayload(payload);
      if (!decoded.ok) {
        this.fail('MALFORMED_FRAME', describeDecodeError(decoded.error));
        return;
      }
      this.handlers.onValue(decoded.value);
    }
  }
}
