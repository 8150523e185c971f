/**
 * Pushes: every node applies every entry, so each node pushes the notifications of each applied
 * entry to its own connections (no cross-node routing): grants and wait timeouts to the
 * connections that sent commands as that client id, session expiry to those that used the client
 * id or the session, watch events to the matching watches. Also the start of a watch, which may
 * replay history from an index.
 */
import type { LockState } from '../statemachine/state.js';
import { eventsSince } from '../statemachine/queries.js';
import type { Notification, WatchEvent } from '../statemachine/results.js';
import type { WireResult } from '../transport/client-protocol.js';
import type { ClientConnection } from './server-connection.js';

function eventName(event: WatchEvent): string {
  return 'key' in event ? event.key : event.lock;
}

/** Events of one resume page; the replay is bounded by the state machine's event history. */
const replayPageEvents = 1000;

export function routeNotifications(
  connections: Iterable<ClientConnection>,
  notifications: readonly Notification[],
  applied: number,
): void {
  const targets = [...connections].filter((c) => !c.isForwarder);
  for (const n of notifications) {
    for (const connection of targets) {
      if (n.kind === 'event') {
        const name = eventName(n.event);
        for (const watch of connection.watches.values()) {
          if (n.event.index > watch.cursor && name.startsWith(watch.prefix)) {
            connection.push({ kind: 'event', watchId: watch.id, event: n.event });
          }
        }
      } else if (
        connection.clientIds.has(n.clientId) ||
        (n.kind === 'sessionExpired' && connection.sessions.has(n.session))
      ) {
        connection.push(n);
      }
    }
  }
  // Every event up to `applied` has now been routed: later ones are all a watch may see.
  for (const connection of targets) {
    for (const watch of connection.watches.values()) watch.cursor = Math.max(watch.cursor, applied);
  }
}

/**
 * Registers a watch on `connection` and answers request `id`: `fromIndex` 0 watches from the
 * applied index on; otherwise every event after `fromIndex` is replayed first, in order and
 * without a gap, or the answer is COMPACTED when that history is gone.
 */
export function startWatch(
  connection: ClientConnection,
  id: number,
  prefix: string,
  fromIndex: number,
  state: LockState,
  applied: number,
): void {
  const watchId = connection.newWatchId();
  if (watchId === null) {
    const message = 'too many watches on this connection';
    return connection.respond(id, { code: 'UNAVAILABLE', message });
  }
  const events: WatchEvent[] = [];
  let cursor = applied;
  if (fromIndex > 0) {
    let after = fromIndex;
    for (;;) {
      const page = eventsSince(state, prefix, after, replayPageEvents);
      if (page.code !== 'OK') {
        const refusal: WireResult = { code: page.code, message: page.message };
        return connection.respond(id, refusal);
      }
      for (const event of page.events) events.push(event);
      if (page.events.length === 0 || page.nextAfter <= after) break;
      after = page.nextAfter;
    }
    cursor = Math.max(after, cursor);
  }
  connection.watches.set(watchId, { id: watchId, prefix, cursor });
  // For "only new events" the answer names the index they start after, so a client can resume
  // from it after a reconnection without a gap.
  const startsAfter = fromIndex === 0 ? cursor : fromIndex;
  const value = { kind: 'watching' as const, watchId, fromIndex: startsAfter };
  connection.respond(id, { code: 'OK', value });
  for (const event of events) connection.push({ kind: 'event', watchId, event });
}
