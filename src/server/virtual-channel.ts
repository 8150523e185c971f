/**
 * A request channel without a socket: what the HTTP gateway hands the node's request path for one
 * HTTP request, one long-poll subscription or one watch stream. Answers resolve promises, pushes go
 * to a callback. Like a client connection it never asks for redirects (a follower forwards), and a
 * closed channel receives nothing more.
 */
import type { PushEvent, WireResult } from '../protocol/client-protocol.js';
import type { RequestChannel, Watch } from '../node/request-channel.js';

export class VirtualChannel implements RequestChannel {
  readonly redirect = false;
  readonly isForwarder = false;
  readonly clientIds = new Set<string>();
  readonly sessions = new Set<number>();
  readonly watches = new Map<number, Watch>();
  private open = true;
  private nextWatchId = 1;
  private readonly waiting = new Map<number, (result: WireResult) => void>();

  constructor(
    readonly remote: string,
    readonly principal: string | null,
    private readonly onPush: (push: PushEvent) => void = () => undefined,
    private readonly watchesMax = 1,
  ) {}

  get isOpen(): boolean {
    return this.open;
  }

  /** The answer to request `id`; ask before sending the request (some are answered at once). */
  expect(id: number): Promise<WireResult> {
    return new Promise((resolve) => this.waiting.set(id, resolve));
  }

  newWatchId(): number | null {
    if (this.watches.size >= this.watchesMax) return null;
    return this.nextWatchId++;
  }

  respond(id: number, result: WireResult): void {
    const resolve = this.waiting.get(id);
    if (resolve === undefined) return;
    this.waiting.delete(id);
    resolve(result);
  }

  push(push: PushEvent): void {
    if (this.open) this.onPush(push);
  }

  /** Nothing more is delivered; requests still waiting are answered with `result`. */
  close(result: WireResult): void {
    this.open = false;
    this.watches.clear();
    for (const resolve of this.waiting.values()) resolve(result);
    this.waiting.clear();
  }
}
