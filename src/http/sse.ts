/**
 * Server-Sent Events (the `text/event-stream` format of the HTML standard): the watch and event
 * streams of the HTTP API. A stream is bounded like a client connection: when its unread output
 * passes `unreadBytesMax` (a reader that stopped reading) it is closed with the reason logged, so
 * no reader can grow the node's memory. Idle streams carry a comment now and then, so proxies and
 * readers see the connection alive. The registry bounds how many streams a node serves at once and
 * ends them all when the server closes.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { Logger } from '../util/logger.js';

export interface StreamLimits {
  /** Output a reader has not taken yet; beyond it the stream is closed. */
  readonly unreadBytesMax: number;
  /** A comment line this often keeps an idle stream alive. */
  readonly heartbeatMs: number;
  /** Streams served at once by this node; one more is refused with 503. */
  readonly streamsMax: number;
}

export const defaultStreamLimits: StreamLimits = {
  unreadBytesMax: 4 * 1024 * 1024,
  heartbeatMs: 15_000,
  streamsMax: 256,
};

/** Who reads a stream, for the log. */
export interface StreamReader {
  readonly remote: string;
  readonly principal: string | null;
  readonly what: string;
}

export class EventStream {
  private finished = false;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly closeHandlers: (() => void)[] = [];

  constructor(
    private readonly raw: ServerResponse,
    private readonly reader: StreamReader,
    private readonly limits: StreamLimits,
    private readonly log: Logger,
    private readonly onSlowReader: () => void,
  ) {
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // An event stream answers with a retry hint: EventSource reconnects after this many ms.
    this.write('retry: 1000\n\n');
    this.heartbeat = setInterval(() => this.write(': keepalive\n\n'), limits.heartbeatMs);
    this.heartbeat.unref();
    raw.on('close', () => this.finish());
  }

  get isOpen(): boolean {
    return !this.finished;
  }

  /** Runs once when the stream ends, whoever ends it. */
  onClose(handler: () => void): void {
    if (this.finished) handler();
    else this.closeHandlers.push(handler);
  }

  /** One event; `id` (a log index) becomes the reader's Last-Event-ID for a resume. */
  send(event: string, data: unknown, id?: number): void {
    const idLine = id === undefined ? '' : `id: ${id}\n`;
    this.write(`${idLine}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** A last `closed` event saying why, then the end; resolves once it is flushed (or the reader is gone). */
  close(reason: string): Promise<void> {
    if (this.finished) return Promise.resolve();
    this.send('closed', { reason });
    const flushed = new Promise<void>((resolve) => this.raw.once('close', resolve));
    this.raw.end();
    this.finish();
    return flushed;
  }

  private write(text: string): void {
    if (this.finished) return;
    this.raw.write(text);
    const unread = this.raw.writableLength;
    if (unread > this.limits.unreadBytesMax) {
      const reason = `the reader reads too slowly (${unread} bytes unread, at most ${this.limits.unreadBytesMax})`;
      this.log.warn('http stream closed', {
        remote: this.reader.remote,
        user: this.reader.principal,
        stream: this.reader.what,
        reason,
      });
      this.onSlowReader();
      this.raw.destroy();
      this.finish();
    }
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.heartbeat);
    for (const handler of this.closeHandlers.splice(0)) handler();
  }
}

export class StreamRegistry {
  private readonly open = new Set<EventStream>();

  constructor(
    readonly limits: StreamLimits,
    private readonly log: Logger,
    /** A stream was closed for a reader that stopped reading (the node counts them). */
    private readonly onSlowReader: () => void = () => undefined,
  ) {}

  get full(): boolean {
    return this.open.size >= this.limits.streamsMax;
  }

  get size(): number {
    return this.open.size;
  }

  /** Takes the reply over and opens the stream (status 200, headers sent). */
  start(reply: FastifyReply, reader: StreamReader): EventStream {
    reply.hijack();
    const stream = new EventStream(reply.raw, reader, this.limits, this.log, this.onSlowReader);
    this.open.add(stream);
    stream.onClose(() => this.open.delete(stream));
    return stream;
  }

  /** Closes every stream with `reason`; resolves once they are flushed, or after `graceMs`. */
  async closeAll(reason: string, graceMs = 2000): Promise<void> {
    const flushed = Promise.all([...this.open].map((stream) => stream.close(reason)));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([flushed, late]);
    clearTimeout(timer);
  }
}
