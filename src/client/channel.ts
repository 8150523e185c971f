import type { BackoffPolicy } from '../transport/backoff.js';
import { backoffDelayMs } from '../transport/backoff.js';
import type { ClientTls, Credentials } from './client-pki.js';
import type { CancelTimer, ClientClock } from './clock.js';
import { sleep } from './clock.js';
import { Connection, ConnectionLost } from './connection.js';
import { RaftlockError } from './errors.js';
import type { ClientOp, HelloAuth, PushEvent, Welcome, WireResult } from '../protocol/client-protocol.js';

export interface ChannelOptions {
  /** Client addresses (`host:port`) to try first; members named by Welcome frames are added. */
  readonly endpoints: readonly string[];
  /** '' accepts any cluster, then pins the id the first node reports. */
  readonly clusterId: string;
  readonly clientName: string;
  /** Hop to the leader a Welcome names (NOT_LEADER answers are followed either way). */
  readonly followLeader: boolean;
  readonly frameBytesMax: number;
  readonly connectTimeoutMs: number;
  /** How long one attempt waits for its response before the connection is presumed dead. */
  readonly attemptTimeoutMs: number;
  readonly backoff: BackoffPolicy;
  readonly random: () => number;
  readonly clock: ClientClock;
  /** null: plaintext. */
  readonly tls: ClientTls | null;
  /** Proved in every Hello (or a token the node handed out for them); null: none. */
  readonly credentials: Credentials | null;
  readonly onPush: (push: PushEvent) => void;
  /** After every (re)connection, so watches can resubscribe and waits re-check their state. */
  readonly onConnected: (welcome: Welcome) => void;
}

export interface CallOptions {
  /** Absolute time on the client clock after which the call fails with UNAVAILABLE. */
  readonly deadlineMs: number;
  readonly signal?: AbortSignal | undefined;
}

/** Leader hops accepted per connection attempt, so two nodes that disagree cannot ping-pong us. */
const redirectsMax = 3;

class AttemptTimeout extends Error {}

/**
 * The client's link to the cluster: one connection at a time, preferably to the leader. It follows
 * Welcome leader hints and NOT_LEADER answers, reconnects with jittered exponential backoff across
 * every known member, and re-sends a request until it gets a definite answer or its deadline
 * passes. Re-sending is safe because commands carry (clientId, seq): the state machine answers a
 * repeated seq with its recorded result instead of applying it again.
 */
export class Channel {
  private current: Connection | null = null;
  private opening: Promise<Connection> | null = null;
  private readonly known: string[];
  private readonly refused = new Set<string>();
  private preferred: string | null = null;
  private cursor = 0;
  private failures = 0;
  private clusterId: string;
  private closed = false;
  private lastProblem = 'no node answered yet';
  private reconnectTimer: CancelTimer | null = null;
  /** Per node address, the token its last Welcome handed out: proves the password again there. */
  private readonly tokens = new Map<string, string>();

  constructor(private readonly options: ChannelOptions) {
    this.known = [...new Set(options.endpoints)];
    this.clusterId = options.clusterId;
    if (this.known.length === 0) throw new RaftlockError('INVALID_ARGUMENT', 'no endpoints given');
  }

  /** The node this client is connected to, and what it said about the cluster. */
  get welcome(): Welcome | null {
    return this.current?.welcome ?? null;
  }

  get addresses(): readonly string[] {
    return this.known;
  }

  /**
   * Sends `op` until a definite answer: transport failures, UNAVAILABLE and NOT_LEADER are retried
   * (after backoff, on the hinted leader when there is one); every other result is returned.
   */
  async call(op: ClientOp, options: CallOptions): Promise<WireResult> {
    const clock = this.options.clock;
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new RaftlockError('CLOSED', 'the client is closed');
      if (options.signal?.aborted === true) throw options.signal.reason;
      const remainingMs = options.deadlineMs - clock.nowMs();
      if (remainingMs <= 0) {
        const message = `no definite answer before the deadline: ${this.lastProblem}`;
        throw new RaftlockError('UNAVAILABLE', message);
      }
      let connection: Connection;
      try {
        connection = await this.connection(options);
      } catch (error: unknown) {
        if (error instanceof RaftlockError && error.code !== 'UNAVAILABLE') throw error;
        continue;
      }
      let result: WireResult;
      try {
        const attemptMs = Math.min(remainingMs, this.options.attemptTimeoutMs);
        result = await this.attempt(connection, op, attemptMs);
      } catch (error: unknown) {
        if (error instanceof AttemptTimeout) {
          const waitedMs = this.options.attemptTimeoutMs;
          this.lastProblem = `${connection.address} did not answer within ${waitedMs} ms`;
          connection.close();
          continue;
        }
        if (error instanceof ConnectionLost) {
          this.lastProblem = error.message;
          continue;
        }
        throw error;
      }
      if (result.code === 'NOT_LEADER') {
        const hint = result.leaderClient;
        this.lastProblem = `${connection.address} is not the leader`;
        if (hint !== null && hint !== connection.address) {
          this.learn(hint);
          this.preferred = hint;
          connection.close();
          continue;
        }
        await this.pause(attempt, options.signal);
        continue;
      }
      if (result.code === 'UNAVAILABLE') {
        this.lastProblem = `${connection.address}: ${result.message}`;
        await this.pause(attempt, options.signal);
        continue;
      }
      return result;
    }
  }

  /** Opens a connection in the background if there is none (keeps pushes flowing). */
  ensureConnected(): void {
    if (this.closed || (this.current !== null && !this.current.isClosed)) return;
    const deadlineMs = this.options.clock.nowMs() + 3_600_000;
    this.connection({ deadlineMs }).catch(() => undefined);
  }

  /** Closes the current connection; the usual reconnection follows. */
  dropConnection(): void {
    this.current?.close();
  }

  close(): void {
    this.closed = true;
    this.reconnectTimer?.();
    this.reconnectTimer = null;
    this.current?.close();
    this.current = null;
  }

  /**
   * What a Hello to `address` proves: the token that node handed out, else the password; null
   * without credentials (a client certificate, or an insecure cluster).
   */
  private helloAuth(address: string): HelloAuth | null {
    const token = this.tokens.get(address);
    if (token !== undefined) return { token };
    return this.options.credentials;
  }

  private attempt(connection: Connection, op: ClientOp, timeoutMs: number): Promise<WireResult> {
    return new Promise((resolve, reject) => {
      const cancel = this.options.clock.setTimer(() => reject(new AttemptTimeout()), timeoutMs);
      connection.request(op).then(
        (result) => {
          cancel();
          resolve(result);
        },
        (error: unknown) => {
          cancel();
          reject(error);
        },
      );
    });
  }

  private pause(attempt: number, signal: AbortSignal | undefined): Promise<void> {
    const delayMs = backoffDelayMs(attempt, this.options.backoff, this.options.random);
    return sleep(this.options.clock, delayMs, signal);
  }

  private learn(address: string): void {
    if (!this.known.includes(address)) this.known.push(address);
  }

  private connection(options: CallOptions): Promise<Connection> {
    if (this.current !== null && !this.current.isClosed) return Promise.resolve(this.current);
    if (this.opening === null) {
      this.opening = this.open(options).finally(() => {
        this.opening = null;
      });
    }
    return this.opening;
  }

  private nextAddress(): string | null {
    const usable = this.known.filter((address) => !this.refused.has(address));
    if (this.preferred !== null && !this.refused.has(this.preferred)) {
      const preferred = this.preferred;
      this.preferred = null;
      return preferred;
    }
    if (usable.length === 0) return null;
    const address = usable[this.cursor % usable.length] ?? null;
    this.cursor++;
    return address;
  }

  private async open(options: CallOptions): Promise<Connection> {
    const clock = this.options.clock;
    let redirects = 0;
    for (;;) {
      if (this.closed) throw new RaftlockError('CLOSED', 'the client is closed');
      if (clock.nowMs() >= options.deadlineMs) {
        throw new RaftlockError('UNAVAILABLE', `cannot reach the cluster: ${this.lastProblem}`);
      }
      const address = this.nextAddress();
      if (address === null) {
        const message = `every endpoint refused the client: ${this.lastProblem}`;
        throw new RaftlockError('INVALID_ARGUMENT', message);
      }
      let connection: Connection;
      const auth = this.helloAuth(address);
      try {
        connection = await Connection.open(address, {
          clusterId: this.clusterId,
          clientName: this.options.clientName,
          frameBytesMax: this.options.frameBytesMax,
          connectTimeoutMs: this.options.connectTimeoutMs,
          clock,
          tls: this.options.tls,
          auth,
          onPush: (push) => this.options.onPush(push),
          onClose: (reason) => this.lost(reason),
        });
      } catch (error: unknown) {
        if (!(error instanceof ConnectionLost)) throw error;
        this.lastProblem = error.message;
        if (error.unauthenticated) {
          if (auth !== null && 'token' in auth) {
            // The token expired or the node restarted: prove the password again, at once.
            this.tokens.delete(address);
            this.preferred = address;
            continue;
          }
          throw new RaftlockError('UNAUTHENTICATED', error.message);
        }
        if (error.fatal) this.refused.add(address);
        await this.pause(this.failures++, options.signal);
        continue;
      }
      if (this.closed) {
        connection.close();
        throw new RaftlockError('CLOSED', 'the client is closed');
      }
      const welcome = connection.welcome;
      if (welcome.token !== undefined) this.tokens.set(address, welcome.token);
      if (this.clusterId === '') this.clusterId = welcome.clusterId;
      for (const member of welcome.members) this.learn(member.client);
      const leader = welcome.members.find((member) => member.id === welcome.leader);
      const elsewhere = leader !== undefined && leader.client !== address;
      if (this.options.followLeader && elsewhere && redirects < redirectsMax) {
        redirects++;
        this.preferred = leader.client;
        connection.close();
        continue;
      }
      this.failures = 0;
      this.current = connection;
      this.options.onConnected(welcome);
      return connection;
    }
  }

  private lost(reason: string): void {
    this.lastProblem = reason;
    if (this.current?.isClosed === true) this.current = null;
    // Stay connected while open: pushes (grants, watch events, expiry) only reach a live
    // connection. The short jittered pause keeps a node that accepts and drops from being hammered.
    if (this.closed || this.reconnectTimer !== null) return;
    const delayMs = backoffDelayMs(0, this.options.backoff, this.options.random);
    this.reconnectTimer = this.options.clock.setTimer(() => {
      this.reconnectTimer = null;
      this.ensureConnected();
    }, delayMs);
  }
}
