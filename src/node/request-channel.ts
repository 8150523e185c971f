/**
 * Where a request comes from and where its answer and pushes go: a client connection on the
 * client port (server-connection.ts), or a virtual channel of the HTTP gateway
 * (virtual-channel.ts). The node's request path (NodeServer.request, forwarding to the leader,
 * exactly-once, pushes and watches) sees only this, so both ports are served by one code path.
 */
import type { PushEvent, WireResult } from '../protocol/client-protocol.js';

export interface RequestChannel {
  /** `address:port` of the client, for the log and the audit trail. */
  readonly remote: string;
  /** Who the channel's own requests act as (null: insecure, or a forwarding node). */
  readonly principal: string | null;
  readonly isOpen: boolean;
  /** true: a write on a follower is answered NOT_LEADER instead of being forwarded. */
  readonly redirect: boolean;
  /** A forwarding node's connection: it relays responses only and hears no pushes. */
  readonly isForwarder: boolean;
  /** Client ids and sessions seen in this channel's requests: where notifications go. */
  readonly clientIds: Set<string>;
  readonly sessions: Set<number>;
  readonly watches: Map<number, Watch>;
  /** A fresh watch id, or null when the channel has as many watches as it may. */
  newWatchId(): number | null;
  /** The one answer to request `id`. */
  respond(id: number, result: WireResult): void;
  push(push: PushEvent): void;
}

/** A live watch: events on names starting with `prefix`, after log index `cursor`. */
export interface Watch {
  readonly id: number;
  readonly prefix: string;
  cursor: number;
}
