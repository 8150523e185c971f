import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { decodePayload, describeDecodeError, encodePayload } from './codec.js';
import { encodeFrame, FrameDecoder } from './frame.js';
import type { WireErrorCode } from '../protocol/handshake.js';
import { errorFrame } from '../protocol/handshake.js';
import { assert } from '../util/assert.js';

export interface FramedSocketHandlers {
  /** One decoded MessagePack value per frame, not yet checked against any schema. */
  readonly onValue: (value: unknown) => void;
  /** Called exactly once, when the connection is finished for whatever reason. */
  readonly onClose: (reason: string) => void;
  /**
   * A deadline of `FramedSocketTimeouts` passed. Called before the close, so the owner may log it
   * or answer with an Error frame (`fail`); if the socket is still open afterwards it is destroyed.
   */
  readonly onTimeout?: (timeout: FramedSocketTimeout) => void;
}

/**
 * Deadlines on what the other side sends, both optional (absent or 0: none). They bound how long
 * a connection can hold this end's resources without making progress: a slow-loris that trickles
 * one frame forever, or a connection that says nothing at all.
 */
export interface FramedSocketTimeouts {
  /** Once a frame's first byte has arrived, the whole frame must arrive within this many ms. */
  readonly frameDeadlineMs?: number;
  /** Close when no complete frame has arrived for this many ms (from the start, or the last frame). */
  readonly idleTimeoutMs?: number;
}

export interface FramedSocketTimeout {
  readonly kind: 'frameDeadline' | 'idle';
  /** The limit that passed, in ms. */
  readonly limitMs: number;
  /** For logs and Error frames: which limit, and how long. */
  readonly message: string;
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
  private readonly frameDeadlineMs: number;
  private idleTimeoutMs: number;
  /** When the frame now being received had its first byte (performance.now()); null between frames. */
  private frameStartedMs: number | null = null;
  /** When the last complete frame arrived, or the timeouts started. */
  private lastFrameMs: number;
  private frameTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private timedOutBy: FramedSocketTimeout | null = null;

  constructor(
    readonly socket: Socket,
    frameBytesMax: number,
    private readonly handlers: FramedSocketHandlers,
    timeouts: FramedSocketTimeouts = {},
  ) {
    this.decoder = new FrameDecoder({ frameBytesMax });
    this.frameDeadlineMs = checkedTimeout(timeouts.frameDeadlineMs, 'frameDeadlineMs');
    this.idleTimeoutMs = checkedTimeout(timeouts.idleTimeoutMs, 'idleTimeoutMs');
    this.lastFrameMs = performance.now();
    this.armIdle(this.idleTimeoutMs);
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

  /** The deadline that closed this connection, if one did. */
  get timedOut(): FramedSocketTimeout | null {
    return this.timedOutBy;
  }

  /**
   * Starts, changes or (0) stops the idle timeout, counting from now: a server enables it once
   * the handshake is done, when the handshake timeout no longer covers a silent connection.
   */
  setIdleTimeout(idleTimeoutMs: number): void {
    this.idleTimeoutMs = checkedTimeout(idleTimeoutMs, 'idleTimeoutMs');
    if (this.finished) return;
    this.lastFrameMs = performance.now();
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.armIdle(this.idleTimeoutMs);
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
    if (this.frameTimer !== null) clearTimeout(this.frameTimer);
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.frameTimer = null;
    this.idleTimer = null;
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
    if (this.frameDeadlineMs > 0 || this.idleTimeoutMs > 0) this.trackProgress(pushed.value.length > 0);
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

  /**
   * After a chunk: note when the frame in progress started and when the last one completed. The
   * clock is read once per chunk and a timer is armed only when none is pending, so a busy link
   * costs no timer churn; a timer that fires early re-arms itself for the rest of its time.
   */
  private trackProgress(completedFrames: boolean): void {
    const now = performance.now();
    if (completedFrames) this.lastFrameMs = now;
    if (this.decoder.bufferedBytes === 0) {
      this.frameStartedMs = null;
      return;
    }
    // A frame is in progress: it started now if this chunk completed the one before it.
    if (this.frameStartedMs === null || completedFrames) this.frameStartedMs = now;
    if (this.frameDeadlineMs > 0 && this.frameTimer === null) this.armFrame(this.frameDeadlineMs);
  }

  private armFrame(delayMs: number): void {
    this.frameTimer = setTimeout(
      () => {
        this.frameTimer = null;
        if (this.finished || this.frameStartedMs === null) return;
        const elapsed = performance.now() - this.frameStartedMs;
        if (elapsed < this.frameDeadlineMs) return this.armFrame(this.frameDeadlineMs - elapsed);
        const limitMs = this.frameDeadlineMs;
        const message = `a frame did not complete within frameDeadlineMs ${limitMs} ms of its first byte`;
        this.timeOut({ kind: 'frameDeadline', limitMs, message });
      },
      Math.max(1, Math.ceil(delayMs)),
    );
    this.frameTimer.unref();
  }

  private armIdle(delayMs: number): void {
    if (delayMs <= 0 || this.finished) return;
    this.idleTimer = setTimeout(
      () => {
        this.idleTimer = null;
        if (this.finished || this.idleTimeoutMs <= 0) return;
        const elapsed = performance.now() - this.lastFrameMs;
        if (elapsed < this.idleTimeoutMs) return this.armIdle(this.idleTimeoutMs - elapsed);
        const limitMs = this.idleTimeoutMs;
        const message = `no frame for idleTimeoutMs ${limitMs} ms`;
        this.timeOut({ kind: 'idle', limitMs, message });
      },
      Math.max(1, Math.ceil(delayMs)),
    );
    this.idleTimer.unref();
  }

  private timeOut(timeout: FramedSocketTimeout): void {
    this.timedOutBy = timeout;
    this.handlers.onTimeout?.(timeout);
    if (!this.finished) this.destroy(timeout.message);
  }
}

function checkedTimeout(value: number | undefined, name: string): number {
  const ms = value ?? 0;
  assert(Number.isFinite(ms) && ms >= 0, () => `${name} must be a non-negative number of ms, got ${ms}`);
  return ms;
}
