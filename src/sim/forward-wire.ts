/**
 * Lock mode's client links between nodes: what a follower's request router (src/node/request-router.ts)
 * forwards to the leader, and the leader's answers on their way back. As the node server's
 * forwarding connections do over TCP: a request reaches the leader as a request of a client that
 * asked for redirects (so it is never forwarded further), a packet takes a few milliseconds, a
 * packet on a cut link vanishes (the forwarder's deadline answers its client), and a leader whose
 * process is gone refuses the connection or resets it, which the forwarder hears as UNAVAILABLE.
 */
import type { WireResult } from '../protocol/client-protocol.js';
import { unavailable } from '../protocol/client-protocol.js';
import type { RouteTicket } from '../node/request-router.js';
import type { Rng } from '../util/rng.js';
import { TimeHeap } from './heap.js';
import type { LockRequest, LockRequestOp } from './lock-workload.js';

/** One forwarded request: who sent it (which incarnation, which of its router's tickets) and where. */
export interface Forward {
  readonly id: string;
  readonly from: string;
  /** The forwarding incarnation: an answer reaches only the incarnation that asked. */
  readonly incarnation: object;
  readonly ticket: RouteTicket;
  readonly to: string;
  readonly op: LockRequestOp;
}

type Packet =
  | { readonly kind: 'request'; readonly forward: Forward }
  | { readonly kind: 'answer'; readonly forward: Forward; readonly result: WireResult };

/** What came off the wire at one instant: requests for leaders, answers for forwarders. */
export interface WireDelivery {
  readonly requests: readonly { readonly node: string; readonly request: LockRequest }[];
  readonly answers: readonly { readonly forward: Forward; readonly result: WireResult }[];
}

/** Forwarded requests are numbered `F1`, `F2`, ... (clients' are `L…`, scripted ones `s…`). */
const forwardPrefix = 'F';

export class ForwardWire {
  private readonly packets = new TimeHeap<Packet>();
  /** Forwards sent and not answered, by id. */
  private readonly open = new Map<string, Forward>();
  private counter = 0;
  forwarded = 0;

  constructor(
    private readonly rng: Rng,
    /** Whether the link from one node to another (by name) is cut now. */
    private readonly linkCut: (from: string, to: string) => boolean,
  ) {}

  isForward(requestId: string): boolean {
    return requestId.startsWith(forwardPrefix);
  }

  /** Whether forward `id`'s forwarder still waits for it (it has not gone away). */
  waiting(id: string): boolean {
    return this.open.has(id);
  }

  send(nowMs: number, forward: Omit<Forward, 'id'>): void {
    const sent: Forward = { ...forward, id: `${forwardPrefix}${++this.counter}` };
    this.open.set(sent.id, sent);
    this.forwarded += 1;
    this.packets.push(nowMs + this.delay(), { kind: 'request', forward: sent });
  }

  /** The leader answered forward `id`: the answer travels back. */
  answer(nowMs: number, id: string, result: WireResult): void {
    const forward = this.open.get(id);
    if (forward === undefined) return;
    this.open.delete(id);
    this.packets.push(nowMs + this.delay(), { kind: 'answer', forward, result });
  }

  /** Nobody listens at the leader's port: the forwarder hears it at once. */
  refused(nowMs: number, id: string): void {
    this.answer(nowMs, id, unavailable('connection to the leader refused'));
  }

  /**
   * A node's process ended: connections to it reset (their forwarders hear UNAVAILABLE), and what
   * it forwarded itself has nobody to answer.
   */
  nodeLost(nowMs: number, name: string): void {
    for (const forward of [...this.open.values()]) {
      if (forward.to === name) this.answer(nowMs, forward.id, unavailable(`connection to leader ${name} lost`));
      else if (forward.from === name) this.open.delete(forward.id);
    }
  }

  /** An answer that could not be handed over yet (its forwarder is paused) comes back later. */
  retryAnswer(atMs: number, forward: Forward, result: WireResult): void {
    this.packets.push(atMs, { kind: 'answer', forward, result });
  }

  nextAtMs(): number | null {
    return this.packets.peekAt();
  }

  due(nowMs: number): WireDelivery {
    const requests: { node: string; request: LockRequest }[] = [];
    const answers: { forward: Forward; result: WireResult }[] = [];
    for (;;) {
      const at = this.packets.peekAt();
      if (at === null || at > nowMs) break;
      const packet = this.packets.pop()?.value;
      if (packet === undefined) break;
      const { forward } = packet;
      if (packet.kind === 'request') {
        if (!this.open.has(forward.id)) continue;
        if (this.linkCut(forward.from, forward.to)) {
          this.open.delete(forward.id);
          continue;
        }
        requests.push({ node: forward.to, request: { requestId: forward.id, node: forward.to, op: forward.op } });
      } else if (!this.linkCut(forward.to, forward.from)) {
        answers.push({ forward, result: packet.result });
      }
    }
    return { requests, answers };
  }

  /** A client link's one-way delay. */
  private delay(): number {
    return 1 + this.rng.int(0, 4);
  }
}
