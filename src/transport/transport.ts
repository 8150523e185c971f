import type { Message } from '../raft/messages.js';
import type { NodeId } from '../raft/types.js';

/**
 * How a node exchanges Raft messages with its peers. The contract is deliberately weak, because
 * Raft tolerates exactly this and nothing stronger should be assumed:
 *
 * 1. `send` never throws and never blocks. A message may be dropped (peer down, queue full,
 *    frame too large), delayed, or reordered across reconnects; Raft retries on its own beat.
 * 2. Handlers receive only messages that passed the wire schema, addressed to this node and sent
 *    by the peer the connection authenticated as (by handshake).
 * 3. `onUnreachable` reports that a peer could not be reached or its link broke, so the leader can
 *    fall back to probing it (etcd's ReportUnreachable). It may fire repeatedly during an outage.
 * 4. After `close()` resolves no handler is called again and no socket or timer remains.
 */
export interface PeerTransport {
  send(message: Message): void;
  onMessage(handler: (message: Message) => void): void;
  onUnreachable(handler: (peer: NodeId) => void): void;
  close(): Promise<void>;
}

/** Per-peer counters; drops are expected under faults and are reported, never hidden. */
export interface PeerLinkStats {
  readonly connected: boolean;
  readonly queuedFrames: number;
  readonly queuedBytes: number;
  readonly sentFrames: number;
  /** Messages discarded because the send queue was full (oldest first). */
  readonly droppedQueueFull: number;
  /** Messages discarded because their frame exceeded frameBytesMax. */
  readonly droppedTooLarge: number;
}
