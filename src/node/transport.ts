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
 *    Its cause is `refused` only when the peer's address actively refused a connection (nothing
 *    listens there: the process is gone), which lets followers of a dead leader elect a new one
 *    without waiting out an election timeout; every other failure is `lost`.
 * 4. After `close()` resolves no handler is called again and no socket or timer remains.
 */
export interface PeerTransport {
  send(message: Message): void;
  onMessage(handler: (message: Message) => void): void;
  onUnreachable(handler: (peer: NodeId, cause: UnreachableCause) => void): void;
  close(): Promise<void>;
}

/** `refused`: the peer's address refused the connection (its process is gone); `lost`: anything else. */
export type UnreachableCause = 'refused' | 'lost';

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
