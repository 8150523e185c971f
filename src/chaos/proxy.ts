/**
 * A fault-injecting TCP proxy for the chaos test, one listener per directed peer link: node `from`
 * is configured to reach node `to` at the link's proxy port, and the proxy forwards to `to`'s real
 * peer port. Each link's mode switches at run time:
 *
 * - `pass`: bytes flow both ways.
 * - `drop`: a blackhole. Connections are accepted and stay open, every byte is discarded both ways,
 *   so the sender sees silence rather than an error, as in a real partition.
 * - `delay`: every chunk is held `delayMs` before it is forwarded, in order.
 * - `cut`: one direction of the connection is discarded (`forward` is from→to, `backward` the
 *   replies), the other passes.
 *
 * A connection that lost bytes is destroyed when its link leaves the mode that discarded them:
 * a byte stream with a hole in it would otherwise resume mid-frame. Both ends then reconnect, as
 * they would after a real partition heals.
 */
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { assertNever } from '../util/assert.js';
import { allLinks, blockedLinks, linkName } from './partition.js';
import type { LinkName, PartitionShape } from './partition.js';
import { listenOn } from '../transport/listen.js';

export type LinkMode =
  | { readonly kind: 'pass' }
  | { readonly kind: 'drop' }
  | { readonly kind: 'delay'; readonly delayMs: number }
  | { readonly kind: 'cut'; readonly direction: 'forward' | 'backward' };

export const passMode: LinkMode = { kind: 'pass' };
export const dropMode: LinkMode = { kind: 'drop' };

export type Target = { readonly host: string; readonly port: number };

export type LinkStats = {
  readonly connections: number;
  readonly forwardedBytes: number;
  readonly discardedBytes: number;
};

type Pipe = {
  readonly inbound: Socket;
  readonly outbound: Socket;
  /** Set once a byte was discarded; the pipe is destroyed when the link heals. */
  lossy: boolean;
  /** Delayed chunks are never delivered before this time, so they stay in order. */
  lastDeliverAtMs: number;
};

/** One directed link: a listener on 127.0.0.1 that forwards to `target` under the current mode. */
export class LinkProxy {
  private mode: LinkMode = passMode;
  private readonly pipes = new Set<Pipe>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private connections = 0;
  private forwardedBytes = 0;
  private discardedBytes = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private target: Target,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Listens on 127.0.0.1 (`port` 0 picks a free one). */
  static async listen(target: Target, port = 0): Promise<LinkProxy> {
    const server = createServer({ noDelay: true, pauseOnConnect: true });
    await listenOn(server, '127.0.0.1', port);
    return new LinkProxy(server, (server.address() as AddressInfo).port, target);
  }

  get currentMode(): LinkMode {
    return this.mode;
  }

  stats(): LinkStats {
    return { connections: this.connections, forwardedBytes: this.forwardedBytes, discardedBytes: this.discardedBytes };
  }

  /** A restarted node may listen on a new port; later connections go there. */
  retarget(target: Target): void {
    this.target = target;
  }

  setMode(mode: LinkMode): void {
    if (mode.kind === 'delay' && !(mode.delayMs >= 0)) throw new RangeError(`bad delay ${mode.delayMs}`);
    this.mode = mode;
    const discards = mode.kind === 'drop' || mode.kind === 'cut';
    if (!discards) {
      for (const pipe of [...this.pipes]) if (pipe.lossy) this.destroy(pipe);
    }
  }

  /** Closes every connection through this link (a crash of either end looks like this). */
  reset(): void {
    for (const pipe of [...this.pipes]) this.destroy(pipe);
  }

  async close(): Promise<void> {
    this.reset();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(inbound: Socket): void {
    this.connections++;
    inbound.setNoDelay(true);
    const outbound = connect({ host: this.target.host, port: this.target.port });
    outbound.setNoDelay(true);
    const pipe: Pipe = { inbound, outbound, lossy: false, lastDeliverAtMs: 0 };
    this.pipes.add(pipe);
    const end = (): void => this.destroy(pipe);
    inbound.on('error', end).on('close', end);
    outbound.on('error', end).on('close', end);
    inbound.on('data', (chunk: Buffer) => this.carry(pipe, 'forward', chunk));
    outbound.on('data', (chunk: Buffer) => this.carry(pipe, 'backward', chunk));
    outbound.once('connect', () => inbound.resume());
  }

  private carry(pipe: Pipe, direction: 'forward' | 'backward', chunk: Buffer): void {
    const to = direction === 'forward' ? pipe.outbound : pipe.inbound;
    const mode = this.mode;
    switch (mode.kind) {
      case 'pass':
        if (pipe.lastDeliverAtMs > Date.now()) this.later(pipe, to, chunk, pipe.lastDeliverAtMs);
        else this.deliver(to, chunk);
        return;
      case 'drop':
        this.discard(pipe, chunk);
        return;
      case 'cut':
        if (mode.direction === direction) this.discard(pipe, chunk);
        else this.deliver(to, chunk);
        return;
      case 'delay':
        this.later(pipe, to, chunk, Math.max(Date.now() + mode.delayMs, pipe.lastDeliverAtMs));
        return;
      default:
        assertNever(mode, 'link mode');
    }
  }

  private later(pipe: Pipe, to: Socket, chunk: Buffer, atMs: number): void {
    pipe.lastDeliverAtMs = atMs;
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        if (this.pipes.has(pipe)) this.deliver(to, chunk);
      },
      Math.max(0, atMs - Date.now()),
    );
    this.timers.add(timer);
  }

  private deliver(to: Socket, chunk: Buffer): void {
    if (to.destroyed) return;
    this.forwardedBytes += chunk.length;
    to.write(chunk);
  }

  private discard(pipe: Pipe, chunk: Buffer): void {
    pipe.lossy = true;
    this.discardedBytes += chunk.length;
  }

  private destroy(pipe: Pipe): void {
    if (!this.pipes.delete(pipe)) return;
    pipe.inbound.destroy();
    pipe.outbound.destroy();
  }
}

/**
 * A proxy on every directed link of a cluster. `partition` applies a shape (blocked links drop,
 * the rest pass); `heal` sets every link to pass.
 */
export class ProxyMesh {
  private constructor(
    readonly nodes: readonly string[],
    private readonly links: ReadonlyMap<LinkName, LinkProxy>,
  ) {}

  /** `targets` maps each node to its real peer address. */
  static async start(targets: ReadonlyMap<string, Target>): Promise<ProxyMesh> {
    const nodes = [...targets.keys()];
    const links = new Map<LinkName, LinkProxy>();
    try {
      for (const link of allLinks(nodes)) {
        const to = link.split('->')[1] as string;
        links.set(link, await LinkProxy.listen(targets.get(to) as Target));
      }
    } catch (error) {
      await Promise.all([...links.values()].map((l) => l.close()));
      throw error;
    }
    return new ProxyMesh(nodes, links);
  }

  /** The link proxy `from` dials to reach `to`. */
  link(from: string, to: string): LinkProxy {
    const link = this.links.get(linkName(from, to));
    if (link === undefined) throw new RangeError(`no link ${from}->${to}`);
    return link;
  }

  /** The address book for `from`: each peer at its proxy port. */
  addressesFor(from: string): Map<string, Target> {
    const book = new Map<string, Target>();
    for (const to of this.nodes) if (to !== from) book.set(to, { host: '127.0.0.1', port: this.link(from, to).port });
    return book;
  }

  partition(shape: PartitionShape): LinkName[] {
    const blocked = new Set(blockedLinks(shape, this.nodes));
    for (const [name, link] of this.links) link.setMode(blocked.has(name) ? dropMode : passMode);
    return [...blocked];
  }

  /** Sets one mode on every link (a uniform delay, say). */
  setAll(mode: LinkMode): void {
    for (const link of this.links.values()) link.setMode(mode);
  }

  heal(): void {
    this.setAll(passMode);
  }

  /** Drops every connection to and from a node (its process was killed). */
  resetNode(node: string): void {
    for (const [name, link] of this.links) {
      const [from, to] = name.split('->');
      if (from === node || to === node) link.reset();
    }
  }

  retarget(node: string, target: Target): void {
    for (const from of this.nodes) if (from !== node) this.link(from, node).retarget(target);
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.close()));
  }
}
