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
import type { WireResult } from '../protocol/client-protocol.js';
import type { RequestChannel } from './request-channel.js';

/** The notifications about one session (everything but watch events). */
export type SessionNotification = Exclude<Notification, { readonly kind: 'event' }>;

function eventName(event: WatchEvent): string {
  return 'key' in event ? event.key : event.lock;
}

/** Events of one resume page; the replay is bounded by the state machine's event history. */
const replayPageEvents = 1000;

/**
 * Where pushes go, indexed: the connections that sent commands as each client id, that used each
 * session, and that have watches. Routing an applied entry's notifications then costs what they
 * touch, not the number of open connections (a node may serve a thousand or more). Forwarding
 * nodes' connections are never indexed: they relay responses only, so pushes would be wasted.
 */
export class PushRoutes {
  private readonly byClient = new Map<string, Set<RequestChannel>>();
  private readonly bySession = new Map<number, Set<RequestChannel>>();
  private readonly watching = new Set<RequestChannel>();

  bindClient(connection: RequestChannel, clientId: string): void {
    if (connection.isForwarder || connection.clientIds.has(clientId)) return;
    connection.clientIds.add(clientId);
    bind(this.byClient, clientId, connection);
  }

  bindSession(connection: RequestChannel, session: number): void {
    if (connection.isForwarder || connection.sessions.has(session)) return;
    connection.sessions.add(session);
    bind(this.bySession, session, connection);
  }

  /** Call after adding or removing a watch on `connection`. */
  watchesChanged(connection: RequestChannel): void {
    if (connection.watches.size > 0 && !connection.isForwarder) this.watching.add(connection);
    else this.watching.delete(connection);
  }

  /** The connection closed: it receives nothing more. */
  forget(connection: RequestChannel): void {
    for (const clientId of connection.clientIds) unbind(this.byClient, clientId, connection);
    for (const session of connection.sessions) unbind(this.bySession, session, connection);
    this.watching.delete(connection);
  }

  /**
   * Pushes the notifications of the entries applied since the last drain, then advances every
   * watch to `applied`. Notifications that end holds (`revoked`, `sessionExpired`) go first, then
   * `answer()` writes the drain's responses, then everything else in log order: so a holder hears
   * that its hold ended before, or in the same write batch as, a grant to anyone else on this
   * node, whether that grant is another client's push or the answer to its acquire (an entry that
   * expires a session and then grants its lock answers the grant). A push of a later entry may
   * thereby overtake an answer of an earlier one; `revoked` names its hold's token, so a client
   * can tell.
   * `mayHear(connection, notification)` says whether a connection may be told (on a secure node:
   * its principal owns the notification's session or is an admin), since client ids are the
   * clients' own choice and anybody could send commands under another's; it sees every delivery.
   */
  route(
    notifications: readonly Notification[],
    applied: number,
    mayHear: (connection: RequestChannel, notification: SessionNotification) => boolean = () => true,
    answer: () => void = () => undefined,
  ): void {
    if (notifications.length === 0) return answer();
    for (const n of notifications) if (endsHolds(n)) this.toSession(n, mayHear);
    answer();
    for (const n of notifications) {
      if (n.kind === 'event') {
        const name = eventName(n.event);
        for (const connection of this.watching) {
          for (const watch of connection.watches.values()) {
            if (n.event.index > watch.cursor && name.startsWith(watch.prefix)) {
              connection.push({ kind: 'event', watchId: watch.id, event: n.event });
            }
          }
        }
      } else if (!endsHolds(n)) {
        this.toSession(n, mayHear);
      }
    }
    // Every event up to `applied` has now been routed: later ones are all a watch may see.
    for (const connection of this.watching) {
      for (const watch of connection.watches.values()) watch.cursor = Math.max(watch.cursor, applied);
    }
  }

  private toSession(
    n: SessionNotification,
    mayHear: (connection: RequestChannel, notification: SessionNotification) => boolean,
  ): void {
    const byClient = this.byClient.get(n.clientId);
    for (const connection of byClient ?? []) {
      if (mayHear(connection, n)) connection.push(n);
    }
    if (!endsHolds(n)) return;
    // Connections that used the session under another client id hear of its end (or of a hold
    // taken from it) as well, once.
    for (const connection of this.bySession.get(n.session) ?? []) {
      if ((byClient === undefined || !byClient.has(connection)) && mayHear(connection, n)) connection.push(n);
    }
  }
}

/** Whether a notification tells a holder its hold (or its whole session) ended. */
function endsHolds(n: Notification): n is Extract<Notification, { readonly kind: 'revoked' | 'sessionExpired' }> {
  return n.kind === 'revoked' || n.kind === 'sessionExpired';
}

function bind<K>(index: Map<K, Set<RequestChannel>>, key: K, connection: RequestChannel): void {
  const set = index.get(key);
  if (set === undefined) index.set(key, new Set([connection]));
  else set.add(connection);
}

function unbind<K>(index: Map<K, Set<RequestChannel>>, key: K, connection: RequestChannel): void {
  const set = index.get(key);
  if (set === undefined) return;
  set.delete(connection);
  if (set.size === 0) index.delete(key);
}

/**
 * Registers a watch on `connection` and answers request `id`: `fromIndex` 0 watches from the
 * applied index on; otherwise every event after `fromIndex` is replayed first, in order and
 * without a gap, or the answer is COMPACTED when that history is gone.
 */
export function startWatch(
  connection: RequestChannel,
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
