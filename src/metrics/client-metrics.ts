/**
 * Client-side metrics of one node: connections, requests by operation and result code, request
 * latency by operation, pushes by kind, and connections closed because the client stopped reading.
 * The node server (or the HTTP server) reports each answered request with its operation label and
 * how long it took; everything here is a lookup in a small map and an increment.
 */
import type { Registry } from 'prom-client';
import type { ClientOp } from '../protocol/client-protocol.js';
import type { CounterSeries } from './fast-metrics.js';
import { FastCounter, FastHistogram } from './fast-metrics.js';
import { sampledGauges } from './sampled-gauge.js';

/** Request latency, in seconds: 100 µs to 10 s. */
export const requestBounds: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * The `op` label of a request: a command's operation (`acquire`, `release`, `put`, ...), a read's
 * query (`get`, `checkFence`, `locks`, ...), else the request's kind (`keepAlive`, `watch`,
 * `status`, ...). A closed set: the protocol's own names, never anything a client chose.
 */
export function opLabel(op: ClientOp): string {
  if (op.kind === 'command') return op.command.op.type;
  if (op.kind === 'read') return op.query.kind;
  return op.kind;
}

/** `op` of a request refused before its operation could be read (a malformed or excess request). */
export const unreadOpLabel = 'unread';

export class ClientMetrics {
  private readonly opened: CounterSeries;
  private readonly closed: CounterSeries;
  private readonly slowConsumers: CounterSeries;
  private readonly requests: FastCounter;
  private readonly latency: FastHistogram;
  private readonly pushes: FastCounter;

  constructor(registry: Registry, connections: () => number | null) {
    const counted = new FastCounter(
      registry,
      'raftlock_client_connections_total',
      'Client connections accepted (event="opened") and ended (event="closed").',
      ['event'],
    );
    this.opened = counted.at1('opened');
    this.closed = counted.at1('closed');
    this.slowConsumers = new FastCounter(
      registry,
      'raftlock_client_slow_consumers_closed_total',
      "Client connections closed because the client left too much of the node's output unread.",
    ).at0();
    this.requests = new FastCounter(
      registry,
      'raftlock_client_requests_total',
      'Requests answered, by operation and result code.',
      ['op', 'code'],
    );
    this.latency = new FastHistogram(
      registry,
      'raftlock_client_request_duration_seconds',
      "Time from a request's arrival to its answer being written, by operation.",
      requestBounds,
      ['op'],
    );
    this.pushes = new FastCounter(
      registry,
      'raftlock_client_pushes_total',
      'Pushes sent to clients (grants, timeouts, expiries, revocations, watch events), by kind.',
      ['kind'],
    );
    const connectionsGauge = sampledGauges(registry, connections);
    connectionsGauge('raftlock_client_connections', 'Client connections open now.', (open) => open);
  }

  connectionOpened(): void {
    this.opened.value += 1;
  }

  connectionClosed(): void {
    this.closed.value += 1;
  }

  /** A request got its answer: `op` from `opLabel`, `code` the answer's, after `seconds`. */
  requestAnswered(op: string, code: string, seconds: number): void {
    this.requests.at2(op, code).value += 1;
    this.latency.at1(op).observe(seconds);
  }

  pushed(kind: string): void {
    this.pushes.at1(kind).value += 1;
  }

  slowConsumerClosed(): void {
    this.slowConsumers.value += 1;
  }
}
