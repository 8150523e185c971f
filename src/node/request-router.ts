/**
 * Where a client request goes once the node has accepted it, and the guarantee that it is answered
 * exactly once (docs/architecture.md, "The request router").
 *
 * A request first goes to this node's core. A core that does not lead answers NOT_LEADER; then:
 * - a client that asked for redirects is answered NOT_LEADER with the leader's client address;
 * - with no leader known (or the leader is this node, or a node we have no address for), and for
 *   reads (ReadIndex needs a leader of our own), the request is parked until a leader is known;
 * - otherwise it is forwarded to the leader. A forward that fails (NOT_LEADER or UNAVAILABLE) is
 *   parked for `retryDelayMs` and tried again, while the deadline leaves room for it.
 * Every request has a deadline `requestTimeoutMs` after it was admitted: a parked or forwarded
 * request still waiting then is answered UNAVAILABLE (the client retries with the same
 * (clientId, seq), which the state machine deduplicates).
 *
 * The contract: every admitted request ends exactly once — answered through `links.answer`, or
 * dropped unanswered when its client has gone (`links.isOpen` false). Ending twice, or an answer
 * from the core for a request not at the core, is an assertion; so is a count that does not add up.
 *
 * The router is deterministic: no clock, no timers, no I/O. Time comes in as `nowMs` on every call
 * (deadlines are checked on `tick`), and it acts only through the injected `RouterLinks`, so the
 * node server (over TCP, src/server/node-server.ts) and the simulator (over the simulated network)
 * run the same routing.
 */
import type { WireResult } from '../protocol/client-protocol.js';
import { unavailable } from '../protocol/client-protocol.js';
import type { NodeId } from '../raft/types.js';
import { assert } from '../util/assert.js';

/** The router's handle on one admitted request; the links quote it back with each answer. */
export type RouteTicket = number & { readonly __brand: 'RouteTicket' };

/**
 * Why the router answers: `outcome` the request ran its course (the core's or the leader's
 * result, or an unknown outcome after it was handed on), `refusal` the router turned it away
 * before it ran (redirect, no leader in time, node stopping). The node server audits outcomes.
 */
export type AnswerSource = 'outcome' | 'refusal';

export interface RouterLinks<R> {
  /** The leader this node knows of now (null: none). */
  leader(): NodeId | null;
  /** Whether requests can be forwarded to `node`: another node whose client address is known. */
  canForwardTo(node: NodeId): boolean;
  /** `node`'s client address for a NOT_LEADER redirect (null: unknown). */
  clientAddress(node: NodeId): string | null;
  /** Whether the request's client still listens; a closed one's request is dropped unanswered. */
  isOpen(request: R): boolean;
  /** Hand the request to this node's core; its answer comes back through `localAnswered`. */
  submitLocal(ticket: RouteTicket, request: R): void;
  /** Send the request to `leader`; its answer comes back through `forwardAnswered`, or never. */
  forward(ticket: RouteTicket, leader: NodeId, request: R): void;
  /** The one answer to the request. */
  answer(request: R, result: WireResult, source: AnswerSource): void;
  /** The node has stopped: failed forwards are answered, not retried. */
  isStopped(): boolean;
}

export interface RequestRouterOptions {
  readonly self: NodeId;
  /** How long a request may wait for a leader or a forwarded answer before UNAVAILABLE. */
  readonly requestTimeoutMs: number;
  /** After a failed forward (leader unreachable or no longer leading), wait this long to retry. */
  readonly retryDelayMs: number;
}

/** How a request may be routed, fixed when it is admitted. */
export interface RouteOptions {
  /** The client asked for redirects: NOT_LEADER with the leader's address, never a forward. */
  readonly redirect: boolean;
  /** Reads are served by ReadIndex on this node: they wait for a leader and are never forwarded. */
  readonly localOnly: boolean;
}

export const defaultRetryDelayMs = 50;

type Stage =
  | { readonly at: 'local' }
  | { readonly at: 'parked'; readonly notBeforeMs: number }
  | { readonly at: 'forwarded'; readonly leader: NodeId }
  | { readonly at: 'done' };

interface Routed<R> {
  readonly ticket: RouteTicket;
  readonly request: R;
  readonly route: RouteOptions;
  readonly deadlineMs: number;
  stage: Stage;
}

export interface RouterStats {
  admitted: number;
  answered: number;
  /** Ended unanswered because the client went away. */
  dropped: number;
  forwarded: number;
  parked: number;
  redirected: number;
  expired: number;
}

export class RequestRouter<R> {
  private readonly open = new Map<RouteTicket, Routed<R>>();
  /** Parked requests in the order they were parked (retried in that order). */
  private parked: Routed<R>[] = [];
  /** Forwarded requests, whose deadlines `tick` checks (kept apart: the core's many are not). */
  private readonly forwarded = new Set<Routed<R>>();
  private nextTicket = 1;
  readonly stats: RouterStats = {
    admitted: 0,
    answered: 0,
    dropped: 0,
    forwarded: 0,
    parked: 0,
    redirected: 0,
    expired: 0,
  };

  constructor(
    private readonly options: RequestRouterOptions,
    private readonly links: RouterLinks<R>,
  ) {
    assert(options.requestTimeoutMs > 0, 'requestTimeoutMs must be positive');
    assert(options.retryDelayMs >= 0, 'retryDelayMs must not be negative');
  }

  /** Requests admitted and neither answered nor dropped yet. */
  get pending(): number {
    return this.open.size;
  }

  /** Accept a request and hand it to this node's core. */
  admit(request: R, route: RouteOptions, nowMs: number): RouteTicket {
    const ticket = this.nextTicket++ as RouteTicket;
    const deadlineMs = nowMs + this.options.requestTimeoutMs;
    const routed: Routed<R> = { ticket, request, route, deadlineMs, stage: { at: 'local' } };
    this.open.set(ticket, routed);
    this.stats.admitted += 1;
    this.submitLocal(routed);
    return ticket;
  }

  /**
   * A request the caller held back on its way to the core (a password being hashed) goes there
   * now, unless its client went away meanwhile.
   */
  resume(ticket: RouteTicket): void {
    const routed = this.open.get(ticket);
    assert(routed !== undefined, () => `request ${ticket} resumed but not open in the router`);
    assert(routed.stage.at === 'local', () => `request ${ticket} resumed while ${routed.stage.at}`);
    this.submitLocal(routed);
  }

  /** This node's core answered the request: NOT_LEADER routes it on, anything else is its answer. */
  localAnswered(ticket: RouteTicket, result: WireResult, nowMs: number): void {
    const routed = this.open.get(ticket);
    assert(routed !== undefined, () => `request ${ticket} answered by the core but not open in the router`);
    assert(routed.stage.at === 'local', () => `request ${ticket} answered by the core while ${routed.stage.at}`);
    if (result.code === 'NOT_LEADER') return this.notLeader(routed, result.leader, nowMs);
    this.finish(routed, result, 'outcome');
  }

  /**
   * The leader answered a forwarded request. A late answer (the request already expired) is
   * ignored: the client was told the outcome is unknown and retries.
   */
  forwardAnswered(ticket: RouteTicket, result: WireResult, nowMs: number): void {
    const routed = this.open.get(ticket);
    if (routed === undefined || routed.stage.at !== 'forwarded') return;
    // The leader we knew is gone or no longer leads: until the deadline, wait for the cluster to
    // settle and try again (the same (clientId, seq), so a duplicate is harmless).
    const retry = result.code === 'NOT_LEADER' || result.code === 'UNAVAILABLE';
    const retryAtMs = nowMs + this.options.retryDelayMs;
    if (retry && retryAtMs < routed.deadlineMs && !this.links.isStopped()) return this.park(routed, retryAtMs);
    const settled = result.code === 'NOT_LEADER' ? unavailable('no stable leader in time; retry') : result;
    this.finish(routed, settled, 'outcome');
  }

  /** Answer a request with `result` as a refusal, wherever it is (the node stopped under it). */
  abort(ticket: RouteTicket, result: WireResult): void {
    const routed = this.open.get(ticket);
    if (routed !== undefined) this.finish(routed, result, 'refusal');
  }

  /**
   * Time passed or the cluster changed: parked and forwarded requests past their deadline are
   * answered UNAVAILABLE, parked ones are tried again once a leader is known.
   */
  tick(nowMs: number): void {
    const { admitted, answered, dropped } = this.stats;
    const open = this.open.size;
    const counts = (): string => `router: ${admitted} admitted, ${answered} answered, ${dropped} dropped, ${open} open`;
    assert(admitted === answered + dropped + open, counts);
    for (const routed of this.forwarded.size === 0 ? [] : [...this.forwarded]) {
      if (routed.stage.at !== 'forwarded' || nowMs < routed.deadlineMs) continue;
      this.stats.expired += 1;
      const { leader } = routed.stage;
      const message = `the leader ${leader} did not answer in time; the outcome is unknown, retry with the same (clientId, seq)`;
      this.finish(routed, unavailable(message), 'outcome');
    }
    if (this.parked.length === 0) return;
    const leader = this.links.leader();
    const parked = this.parked;
    this.parked = [];
    for (const routed of parked) {
      if (routed.stage.at !== 'parked') continue;
      if (!this.links.isOpen(routed.request)) {
        this.drop(routed);
      } else if (nowMs >= routed.deadlineMs) {
        this.stats.expired += 1;
        const message = 'no leader within the request timeout; retry with the same (clientId, seq)';
        this.finish(routed, unavailable(message), 'refusal');
      } else if (leader === null || nowMs < routed.stage.notBeforeMs) {
        this.parked.push(routed);
      } else {
        this.submitLocal(routed);
      }
    }
  }

  /** The node is stopping: every parked request is answered UNAVAILABLE with `reason`. */
  stop(reason: string): void {
    const parked = this.parked;
    this.parked = [];
    for (const routed of parked) {
      if (routed.stage.at === 'parked') this.finish(routed, unavailable(reason), 'refusal');
    }
  }

  private submitLocal(routed: Routed<R>): void {
    if (!this.links.isOpen(routed.request)) return this.drop(routed);
    this.forwarded.delete(routed);
    routed.stage = { at: 'local' };
    this.links.submitLocal(routed.ticket, routed.request);
  }

  private notLeader(routed: Routed<R>, hint: NodeId | null, nowMs: number): void {
    if (!this.links.isOpen(routed.request)) return this.drop(routed);
    const leader = hint ?? this.links.leader();
    if (routed.route.redirect) {
      this.stats.redirected += 1;
      const leaderClient = leader === null ? null : this.links.clientAddress(leader);
      const message = `node ${this.options.self} is not the leader`;
      return this.finish(routed, { code: 'NOT_LEADER', message, leader, leaderClient }, 'refusal');
    }
    if (leader === null || leader === this.options.self || !this.links.canForwardTo(leader) || routed.route.localOnly) {
      // No leader yet (or a read that needs one here): wait for a leader, then try again here.
      return this.park(routed, nowMs);
    }
    routed.stage = { at: 'forwarded', leader };
    this.forwarded.add(routed);
    this.stats.forwarded += 1;
    this.links.forward(routed.ticket, leader, routed.request);
  }

  private park(routed: Routed<R>, notBeforeMs: number): void {
    this.forwarded.delete(routed);
    routed.stage = { at: 'parked', notBeforeMs };
    this.stats.parked += 1;
    this.parked.push(routed);
  }

  private drop(routed: Routed<R>): void {
    this.close(routed);
    this.stats.dropped += 1;
  }

  private finish(routed: Routed<R>, result: WireResult, source: AnswerSource): void {
    this.close(routed);
    this.stats.answered += 1;
    this.links.answer(routed.request, result, source);
  }

  /** Every request ends exactly once: answered or dropped, never both, never twice. */
  private close(routed: Routed<R>): void {
    assert(routed.stage.at !== 'done', () => `request ${routed.ticket} ended twice`);
    assert(this.open.delete(routed.ticket), () => `request ${routed.ticket} ended but was not open`);
    this.forwarded.delete(routed);
    routed.stage = { at: 'done' };
  }
}
