// Server-Sent Events over HTTPS on a real secure cluster: a watch resumed with Last-Event-ID
// continues without a gap, events of one log index carry its id only on the last one, the
// dashboard's /v1/events stream, a revoked watch right ends the stream, and a reader that stops
// reading is cut off with the reason logged (bounded like a slow client connection).
import t from 'tap';
import { connect } from '../../src/client/client.js';
import { startHttpServer } from '../../src/http/http-server.js';
import type { HttpAnswer, SseEvent } from './fixtures/http-client.js';
import { call, SseReader } from './fixtures/http-client.js';
import { until } from '../fixtures/until.js';
import { startHttpCluster } from './fixtures/http-cluster.js';

type Json = Record<string, unknown>;

const data = (event: SseEvent): Json => event.data as Json;
const bodyOf = (answer: HttpAnswer): Json => answer.json as Json;

void t.test('event streams', async (t) => {
  const h = await startHttpCluster();
  t.teardown(() => h.close());
  const node = await h.followerNode();
  const address = h.httpOf(node);
  const readers: SseReader[] = [];
  t.teardown(() => readers.forEach((r) => r.close()));
  const watch = (path: string, headers: Record<string, string> = {}, tls = h.root): SseReader => {
    const reader = new SseReader(address, path, { tls, headers });
    readers.push(reader);
    return reader;
  };
  const opened = await h.api(node, '/v1/sessions', { method: 'POST', body: { ttlMs: 30_000 } });
  const session = bodyOf(opened)['session'] as number;
  const put = async (key: string, text: string): Promise<void> => {
    const answer = await h.write(node, `/v1/kv/${encodeURIComponent(key)}`, { method: 'PUT', body: { session, text } });
    t.equal(answer.status, 200, answer.text);
  };

  await t.test('a watch resumed with Last-Event-ID continues without a gap', async (t) => {
    const first = watch('/v1/watch?prefix=w/');
    const watching = await first.next((e) => e.event === 'watching');
    t.match(data(watching), { prefix: 'w/', fromIndex: Number(watching.id) });
    await put('w/1', 'one');
    await put('w/2', 'two');
    await first.next((e) => data(e)['key'] === 'w/2');
    const seen = first.events.filter((e) => e.event === 'put');
    t.same(
      seen.map((e) => data(e)['text']),
      ['one', 'two'],
    );
    t.same(
      seen.map((e) => Number(e.id)),
      seen.map((e) => data(e)['index']),
      'each id is its log index',
    );
    first.close();
    await put('w/3', 'three');
    await put('w/4', 'four');
    const resumed = watch('/v1/watch?prefix=w/', { 'last-event-id': String(first.lastEventId) });
    await resumed.next((e) => data(e)['key'] === 'w/4');
    t.same(
      resumed.events.filter((e) => e.event === 'put').map((e) => data(e)['text']),
      ['three', 'four'],
      'what happened while away, nothing twice, nothing missing',
    );
    resumed.close();
    const replay = watch(`/v1/watch?prefix=w/&fromIndex=${String(watching.id)}`);
    await replay.next((e) => data(e)['key'] === 'w/4');
    t.same(
      replay.events.filter((e) => e.event === 'put').map((e) => data(e)['text']),
      ['one', 'two', 'three', 'four'],
      'fromIndex replays',
    );
    replay.close();
  });

  await t.test('events of one log index: the id only on the last of them', async (t) => {
    const b = bodyOf(await h.api(node, '/v1/sessions', { method: 'POST', body: { ttlMs: 30_000 } }))[
      'session'
    ] as number;
    const reader = watch('/v1/watch?prefix=handoff');
    await reader.next((e) => e.event === 'watching');
    t.equal((await h.api(node, '/v1/locks/handoff/acquire', { method: 'POST', body: { session } })).status, 200);
    const waiting = h.api(node, '/v1/locks/handoff/acquire', { method: 'POST', body: { session: b, waitMs: 10_000 } });
    await until(async () => {
      const [lock] = (await h.api(node, '/v1/locks?prefix=handoff')).json as Json[];
      return (lock?.['waiters'] as unknown[] | undefined)?.length === 1;
    }, 'b waits');
    await h.api(node, '/v1/locks/handoff/release', { method: 'POST', body: { session } });
    t.equal((await waiting).status, 200);
    const grant = await reader.next((e) => e.event === 'grant' && data(e)['session'] === b);
    const release = reader.events.find((e) => e.event === 'release');
    t.ok(release, 'the release');
    t.equal(data(release ?? grant)['index'], data(grant)['index'], 'one entry released and granted');
    t.equal(release?.id, undefined, 'the release carries no id: a resume from it would skip the grant');
    t.equal(grant.id, String(data(grant)['index']), 'the grant, last of the index, carries it');
  });

  await t.test('/v1/events: lock events, session expiries, leader changes; not key changes', async (t) => {
    const reader = watch('/v1/events');
    await reader.next((e) => e.event === 'watching');
    const short = bodyOf(await h.api(node, '/v1/sessions', { method: 'POST', body: { ttlMs: 1000 } }))[
      'session'
    ] as number;
    t.equal((await h.api(node, '/v1/locks/ev/acquire', { method: 'POST', body: { session: short } })).status, 200);
    await put('ev-key', 'not on this stream');
    const grant = await reader.next((e) => e.event === 'grant' && data(e)['lock'] === 'ev');
    t.match(data(grant), { type: 'grant', session: short, token: Number });
    await reader.next((e) => e.event === 'sessionExpired' && data(e)['session'] === short, 10_000);
    await reader.next((e) => e.event === 'release' && data(e)['lock'] === 'ev', 5000);
    t.notOk(
      reader.events.some((e) => e.event === 'put'),
      'key changes are /v1/watch business',
    );
    const leader = await h.leaderNode();
    const target = h.cluster.nodes.find((n) => n !== leader);
    if (target === undefined) throw new Error('no other node');
    const client = await connect(h.cluster.connectOptions());
    try {
      await client.transferLeader(target.nodeId);
    } finally {
      await client.close();
    }
    const changed = await reader.next(
      (e) => e.event === 'leaderChanged' && data(e)['leader'] === target.nodeId,
      10_000,
    );
    t.equal(changed.id, undefined, 'live only');
  });

  await t.test('a watch whose right is revoked ends with a cancelled event', async (t) => {
    await h.addUser('walt', 'walt-secret', 'pub/', ['watch', 'read', 'lock', 'write']);
    const login = await call(address, '/v1/auth/login', {
      tls: h.caOnly,
      method: 'POST',
      body: { user: 'walt', password: 'walt-secret' },
    });
    const token = bodyOf(login)['token'] as string;
    const reader = new SseReader(address, '/v1/watch?prefix=pub/', { tls: h.caOnly, bearer: token });
    readers.push(reader);
    await reader.next((e) => e.event === 'watching');
    const client = await connect(h.cluster.connectOptions());
    try {
      await client.roles.revoke('walt-role', 'pub/');
    } finally {
      await client.close();
    }
    const cancelled = await reader.next((e) => e.event === 'cancelled', 10_000);
    t.match(data(cancelled), { code: 'PERMISSION_DENIED', message: /walt may not watch "pub\/"/ });
    await reader.whenEnded();
    t.ok(h.logged('watch cancelled', 'user=walt').length > 0, 'logged');
  });

  await t.test('a reader that stops reading is cut off, the reason logged', async (t) => {
    const small = await startHttpServer({
      gateway: node.gateway,
      listen: { host: '127.0.0.1', port: 0 },
      http: { streams: { unreadBytesMax: 64 * 1024 } },
    });
    t.teardown(() => small.close());
    const reader = new SseReader(`127.0.0.1:${small.address.port}`, '/v1/watch?prefix=slow/', { tls: h.root });
    readers.push(reader);
    await reader.next((e) => e.event === 'watching');
    reader.pause();
    const big = 'x'.repeat(900_000);
    for (let i = 0; i < 12 && h.logged('http stream closed', 'reads too slowly').length === 0; i++)
      await put(`slow/${i}`, big);
    await until(
      () => h.logged('http stream closed', 'reads too slowly', 'user=root').length > 0,
      'the stream is closed',
    );
    await until(() => small.app.context.streams.size === 0, 'and forgotten');
  });

  await t.test('closing the server ends its streams with a reason', async (t) => {
    const other = await startHttpServer({ gateway: node.gateway, listen: { host: '127.0.0.1', port: 0 } });
    const reader = new SseReader(`127.0.0.1:${other.address.port}`, '/v1/events', { tls: h.root });
    readers.push(reader);
    await reader.next((e) => e.event === 'watching');
    await other.close();
    const closed = await reader.next((e) => e.event === 'closed');
    t.match(data(closed), { reason: /shutting down/ });
    await reader.whenEnded();
  });
});
