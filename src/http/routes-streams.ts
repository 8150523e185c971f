/**
 * Server-Sent Events: `/v1/watch` (every change under a prefix, as the client port's watch) and
 * `/v1/events` (grants, releases, elections, session expiries and leader changes, for the
 * dashboard). Each event's `id:` is its log index; a reader that reconnects with `Last-Event-ID`
 * continues after it without a gap (sse.ts, stream-feed.ts).
 */
import type { PushEvent } from '../protocol/client-protocol.js';
import { refusalOutcome } from './commands.js';
import { failure } from './errors.js';
import type { Call, Outcome, Route, RouteContext } from './route.js';
import { refused, route } from './route.js';
import { digits, headers, numberOf, object } from './schemas.js';
import type { FeedItem } from './stream-feed.js';
import { StreamFeed } from './stream-feed.js';
import { eventBody } from './values.js';

/** Event types /v1/events passes on (changes of keys are /v1/watch's). */
const lockEvents: ReadonlySet<string> = new Set(['grant', 'release', 'leader']);

function itemOfPush(push: PushEvent, only: ReadonlySet<string> | null): FeedItem | null {
  if (push.kind === 'event') {
    if (only !== null && !only.has(push.event.type)) return null;
    return { event: push.event.type, data: eventBody(push.event), index: push.event.index };
  }
  if (push.kind === 'watchCancelled') {
    return {
      event: 'cancelled',
      data: { code: push.code, message: push.message },
      end: `${push.code}: ${push.message}`,
    };
  }
  return null;
}

async function openStream(
  ctx: RouteContext,
  call: Call<unknown, unknown, unknown>,
  what: string,
  prefix: string,
  fromQuery: string | undefined,
  only: ReadonlySet<string> | null,
): Promise<Outcome> {
  const { gateway, streams } = ctx;
  if (streams.full) {
    const message = `this node serves ${streams.limits.streamsMax} streams already; retry later or on another node`;
    return refusalOutcome(gateway, { code: 'UNAVAILABLE', message });
  }
  // A reconnecting EventSource sends the last id it saw: that, not the URL's fromIndex, is where to resume.
  const lastEventId = call.header('last-event-id');
  const fromIndex = lastEventId !== undefined ? Number(lastEventId) : numberOf(fromQuery, 0);
  const feed = new StreamFeed();
  const watch = await gateway.watch(call.principal, prefix, fromIndex, call.remote, (push) => {
    const item = itemOfPush(push, only);
    if (item !== null) feed.add(item);
  });
  if (watch.result.code !== 'OK') return refusalOutcome(gateway, watch.result);
  const startsAfter = watch.result.value.kind === 'watching' ? watch.result.value.fromIndex : fromIndex;
  if (call.gone.aborted) {
    watch.stop();
    return refused(failure('UNAVAILABLE', 'the caller went away'));
  }
  const stream = streams.start(call.reply, { remote: call.remote, principal: call.principal, what });
  stream.onClose(() => watch.stop());
  stream.send('watching', { prefix, fromIndex: startsAfter }, startsAfter);
  if (only !== null) {
    const stopEvents = gateway.events(call.principal, (event) => feed.add({ event: event.kind, data: event }));
    stream.onClose(stopEvents);
  }
  feed.attach(stream);
  return { kind: 'stream' };
}

export function streamRoutes(ctx: RouteContext): Route[] {
  const { schemas: s } = ctx;
  const resumeHeader = headers({
    'last-event-id': digits('resume after this log index (sent by a reconnecting EventSource)'),
  });
  return [
    route<Record<string, never>, { prefix?: string; fromIndex?: string }>({
      method: 'GET',
      url: '/v1/watch',
      operationId: 'watch',
      summary: 'Server-Sent Events of every change (put, delete, grant, release, leader) under a prefix',
      description:
        'The first event, `watching`, names the index the stream starts after. Each change event is named ' +
        'by its type, its data is the change as JSON (values in base64 and as text), its id its log index. ' +
        'fromIndex=N replays every change after N first (410 COMPACTED when that history is gone); ' +
        'Last-Event-ID takes precedence. A `cancelled` event ends the stream (the watch right was revoked, ' +
        'the node stops); `closed` says why the node closed it.',
      tag: 'streams',
      schema: {
        querystring: object({
          prefix: s.prefix,
          fromIndex: digits('replay every change after this log index (0: only new ones)'),
        }),
        headers: resumeHeader,
        response: 'stream',
      },
      handle: (call) => openStream(ctx, call, 'watch', call.query.prefix ?? '', call.query.fromIndex, null),
    }),
    route<Record<string, never>, { prefix?: string; fromIndex?: string }>({
      method: 'GET',
      url: '/v1/events',
      operationId: 'events',
      summary:
        'Server-Sent Events for the dashboard: grants, releases, election leaders, session expiries, leader changes',
      description:
        'grant, release and leader (an election) carry their log index as id and resume like /v1/watch. ' +
        'sessionExpired (admins only) and leaderChanged (the cluster leader) are live only: they carry no id ' +
        'and are not replayed (the releases an expiry caused are).',
      tag: 'streams',
      schema: {
        querystring: object({
          prefix: s.prefix,
          fromIndex: digits('replay every lock event after this log index (0: only new ones)'),
        }),
        headers: resumeHeader,
        response: 'stream',
      },
      handle: (call) => openStream(ctx, call, 'events', call.query.prefix ?? '', call.query.fromIndex, lockEvents),
    }),
  ];
}
