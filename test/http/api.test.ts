// The HTTP API end to end: every route from a plain HTTPS client against a real in-process secure
// 3-node cluster (startCluster with http), through followers (forwarded to the leader) and the
// leader, with the status codes, bodies and log lines a caller and an operator see.
import t from 'tap';
import { startHttpServer } from '../../src/http/http-server.js';
import { createThrowawayPki } from '../../src/security/certificates.js';
import type { HttpAnswer } from './fixtures/http-client.js';
import { call, SseReader } from './fixtures/http-client.js';
import type { HttpCluster } from './fixtures/http-cluster.js';
import { until } from '../fixtures/until.js';
import { startHttpCluster } from './fixtures/http-cluster.js';

type Json = Record<string, unknown>;

function body(answer: HttpAnswer): Json {
  if (typeof answer.json !== 'object' || answer.json === null || Array.isArray(answer.json)) {
    throw new Error(`expected a JSON object, got ${answer.status} ${answer.text}`);
  }
  return answer.json as Json;
}

function list(answer: HttpAnswer): Json[] {
  if (!Array.isArray(answer.json)) throw new Error(`expected a JSON array, got ${answer.status} ${answer.text}`);
  return answer.json as Json[];
}

void t.test('HTTP API on a secure 3-node cluster', async (t) => {
  const h: HttpCluster = await startHttpCluster();
  t.teardown(() => h.close());
  const leader = await h.leaderNode();
  const follower = await h.followerNode();
  t.not(follower.nodeId, leader.nodeId);

  const openSession = async (ttlMs = 15_000): Promise<number> => {
    const answer = await h.write(follower, '/v1/sessions', { method: 'POST', body: { ttlMs } });
    t.equal(answer.status, 200, answer.text);
    return body(answer)['session'] as number;
  };
  /** Asks `node` for lock `name` (as it stands in the path) with this request body. */
  const acquire = (node: typeof leader, name: string, request: Json): Promise<HttpAnswer> =>
    h.api(node, `/v1/locks/${name}/acquire`, { method: 'POST', body: request });

  await t.test('sessions, through a follower that forwards to the leader', async (t) => {
    const opened = await h.api(follower, '/v1/sessions', { method: 'POST', body: { ttlMs: 5000 } });
    t.equal(opened.status, 200, opened.text);
    const session = body(opened)['session'] as number;
    t.same(body(opened), { session, ttlMs: 5000 });
    t.match(opened.headers['idempotency-key'], /^http-.+:1$/, 'the node names the command id it chose');
    const kept = await h.api(follower, `/v1/sessions/${session}/keepalive`, { method: 'POST' });
    t.equal(kept.status, 200, kept.text);
    t.equal(body(kept)['session'], session);
    t.type(body(kept)['deadlineMs'], 'number');
    const one = await h.api(leader, `/v1/sessions/${session}`);
    t.equal(one.status, 200, one.text);
    t.match(body(one), { session, owner: 'root', ttlMs: 5000, holds: [], waits: [] });
    const all = list(await h.api(follower, '/v1/sessions?limit=100'));
    const listed = all.find((s) => s['session'] === session);
    t.ok(listed, 'listed');
    t.ok(
      (listed?.['expiresInMs'] as number) > 0 && (listed?.['expiresInMs'] as number) <= 5000,
      'with the time it has left',
    );
    const closed = await h.api(follower, `/v1/sessions/${session}`, { method: 'DELETE' });
    t.equal(closed.status, 200, closed.text);
    t.same(body(closed), { session, closed: true });
    const gone = await h.api(follower, `/v1/sessions/${session}`);
    t.equal(gone.status, 404);
    t.equal(body(gone)['code'], 'NOT_FOUND');
    const late = await h.api(follower, `/v1/sessions/${session}/keepalive`, { method: 'POST' });
    t.equal(late.status, 410, late.text);
    t.equal(body(late)['code'], 'SESSION_EXPIRED');
  });

  await t.test('locks: acquire, list, fence, release, busy, timeout', async (t) => {
    const a = await openSession();
    const b = await openSession();
    const name = encodeURIComponent('jobs/nightly');
    const got = await acquire(follower, name, { session: a });
    t.equal(got.status, 200, got.text);
    const token = body(got)['token'] as number;
    t.same(
      body(got),
      { name: 'jobs/nightly', session: a, token },
      'a name with "/" travels as one encoded path segment',
    );
    const locks = list(await h.api(leader, '/v1/locks?prefix=jobs/'));
    t.equal(locks.length, 1);
    t.match(locks[0], {
      name: 'jobs/nightly',
      kind: 'mutex',
      holders: [{ session: a, token, mode: 'exclusive' }],
      waiters: [],
    });
    t.type((locks[0]?.['holders'] as Json[])[0]?.['heldForMs'], 'number');
    const fence = await h.api(follower, `/v1/locks/${name}/fence?token=${token}`);
    t.equal(fence.status, 200, fence.text);
    t.same(body(fence), { lock: 'jobs/nightly', token, current: true });
    const busy = await acquire(follower, name, { session: b, waitMs: 0 });
    t.equal(busy.status, 409);
    t.equal(body(busy)['code'], 'BUSY');
    const timedOut = await acquire(follower, name, { session: b, waitMs: 300 });
    t.equal(timedOut.status, 408, timedOut.text);
    t.equal(body(timedOut)['code'], 'TIMEOUT');
    const released = await h.api(follower, `/v1/locks/${name}/release`, { method: 'POST', body: { session: a } });
    t.equal(released.status, 200, released.text);
    t.same(body(released), { name: 'jobs/nightly', released: true });
    const stale = await h.api(follower, `/v1/locks/${name}/fence?token=${token}`);
    t.equal(stale.status, 409);
    t.equal(body(stale)['code'], 'STALE_TOKEN');
    const again = await h.api(follower, `/v1/locks/${name}/release`, { method: 'POST', body: { session: a } });
    t.equal(again.status, 409);
    t.equal(body(again)['code'], 'NOT_HOLDER');
  });

  await t.test('a long-poll acquire is answered when the holder releases', async (t) => {
    const a = await openSession();
    const b = await openSession();
    const first = await acquire(leader, 'poll', { session: a });
    t.equal(first.status, 200, first.text);
    const waiting = acquire(follower, 'poll', { session: b, waitMs: 20_000 });
    let answered = false;
    void waiting.then(() => (answered = true));
    await until(async () => {
      const [view] = list(await h.api(leader, '/v1/locks?prefix=poll'));
      return (view?.['waiters'] as Json[] | undefined)?.length === 1;
    }, 'b waits in the queue');
    const graph = body(await h.api(follower, '/v1/waitgraph'));
    t.same(
      graph,
      { edges: [{ session: b, lock: 'poll', heldBy: [a] }], cycles: [] },
      'the wait-for graph shows who waits for whom',
    );
    t.notOk(answered, 'still waiting while a holds the lock');
    const released = await h.api(leader, '/v1/locks/poll/release', { method: 'POST', body: { session: a } });
    t.equal(released.status, 200);
    const granted = await waiting;
    t.equal(granted.status, 200, granted.text);
    t.equal(body(granted)['session'], b);
    t.ok((body(granted)['token'] as number) > (body(first)['token'] as number), 'a newer fencing token');
  });

  await t.test(
    'a long poll whose caller leaves: its later grant is given back, unless the caller chose the key',
    async (t) => {
      const a = await openSession();
      const b = await openSession();
      const holds = async (name: string): Promise<Json[]> => {
        const [view] = list(await h.api(leader, `/v1/locks?prefix=${name}`));
        return view?.['name'] === name ? (view['holders'] as Json[]) : [];
      };
      const queued = async (name: string): Promise<boolean> => {
        const [view] = list(await h.api(leader, `/v1/locks?prefix=${name}`));
        return (view?.['waiters'] as unknown[] | undefined)?.length === 1;
      };
      for (const [name, key] of [
        ['left', null],
        ['left-keyed', `keyed-${b}:1`],
      ] as const) {
        t.equal((await acquire(leader, name, { session: a })).status, 200);
        const headers: Record<string, string> = key === null ? {} : { 'idempotency-key': key };
        const caller = new SseReader(h.httpOf(follower), `/v1/locks/${name}/acquire`, {
          tls: h.root,
          method: 'POST',
          body: { session: b, waitMs: 20_000 },
          headers,
        });
        await until(() => queued(name), `b waits for ${name}`);
        caller.close();
        await new Promise((resolve) => setTimeout(resolve, 100));
        await h.api(leader, `/v1/locks/${name}/release`, { method: 'POST', body: { session: a } });
        if (key === null) {
          await until(
            async () => (await holds(name)).length === 0 && !(await queued(name)),
            'the abandoned grant is given back',
          );
          t.ok(h.logged('gave back the grant of a long poll whose caller left', `name=${name}`).length > 0, 'logged');
        } else {
          await until(async () => (await holds(name))[0]?.['session'] === b, 'granted to b');
          const retry = await h.api(follower, `/v1/locks/${name}/acquire`, {
            method: 'POST',
            body: { session: b, waitMs: 20_000 },
            headers,
          });
          t.equal(retry.status, 200, retry.text);
          t.match(
            body(retry),
            { session: b, token: (await holds(name))[0]?.['token'] },
            "the retry learns of the grant, which stayed b's",
          );
        }
      }
    },
  );

  await t.test('semaphores, read/write locks and elections', async (t) => {
    const a = await openSession();
    const b = await openSession();
    const sem = (session: number) => acquire(follower, 'pool', { session, kind: 'semaphore', permits: 2 });
    t.equal((await sem(a)).status, 200);
    t.equal((await sem(b)).status, 200, 'two permits');
    const wrong = await acquire(follower, 'pool', { session: a, kind: 'semaphore' });
    t.equal(wrong.status, 400);
    t.match(body(wrong)['message'], /permits/);
    const reader = (session: number) => acquire(follower, 'rw', { session, kind: 'rwlock', mode: 'read' });
    t.equal((await reader(a)).status, 200);
    t.equal((await reader(b)).status, 200, 'readers share');
    const writer = await acquire(follower, 'rw2', { session: a, kind: 'rwlock' });
    t.equal(writer.status, 200);
    t.match(list(await h.api(leader, '/v1/locks?prefix=rw2'))[0], { holders: [{ mode: 'exclusive' }] });

    const campaign = await h.api(follower, '/v1/elections/boss/campaign', {
      method: 'POST',
      body: { session: a, text: 'node-a' },
    });
    t.equal(campaign.status, 200, campaign.text);
    const observed = body(await h.api(leader, '/v1/elections/boss'));
    t.match(observed, {
      name: 'boss',
      leader: {
        session: a,
        token: body(campaign)['token'],
        text: 'node-a',
        value: Buffer.from('node-a').toString('base64'),
      },
    });
    const proclaimed = await h.api(follower, '/v1/elections/boss/proclaim', {
      method: 'POST',
      body: { session: a, text: 'node-a v2' },
    });
    t.equal(proclaimed.status, 200, proclaimed.text);
    t.match(body(await h.api(leader, '/v1/elections/boss')), { leader: { text: 'node-a v2' } });
    const notLeader = await h.api(follower, '/v1/elections/boss/proclaim', {
      method: 'POST',
      body: { session: b, text: 'x' },
    });
    t.equal(notLeader.status, 409);
    const resigned = await h.api(follower, '/v1/elections/boss/resign', { method: 'POST', body: { session: a } });
    t.same(body(resigned), { name: 'boss', resigned: true });
    t.same(body(await h.api(leader, '/v1/elections/boss')), { name: 'boss', leader: null });
  });

  await t.test('keys: put, get, compare-and-set, fence, delete, list', async (t) => {
    const s = await openSession();
    const key = encodeURIComponent('config/mode');
    const put = await h.api(follower, `/v1/kv/${key}`, { method: 'PUT', body: { session: s, text: 'blue' } });
    t.equal(put.status, 200, put.text);
    t.match(body(put), { key: 'config/mode', version: 1 });
    const got = body(await h.api(leader, `/v1/kv/${key}`));
    t.match(got, {
      key: 'config/mode',
      text: 'blue',
      value: Buffer.from('blue').toString('base64'),
      version: 1,
      ephemeralSession: null,
    });
    const binary = await h.api(follower, '/v1/kv/bin', {
      method: 'PUT',
      body: { session: s, value: Buffer.from([0xff, 0, 1]).toString('base64') },
    });
    t.equal(binary.status, 200, binary.text);
    t.match(
      body(await h.api(leader, '/v1/kv/bin')),
      { value: '/wAB', text: null },
      'bytes that are not UTF-8 have no text',
    );
    const mismatch = await h.api(follower, `/v1/kv/${key}/cas`, {
      method: 'POST',
      body: { session: s, text: 'red', ifVersion: 7 },
    });
    t.equal(mismatch.status, 409);
    t.match(body(mismatch), { code: 'VERSION_MISMATCH', version: 1 });
    const cas = await h.api(follower, `/v1/kv/${key}/cas`, {
      method: 'POST',
      body: { session: s, text: 'red', ifVersion: 1 },
    });
    t.equal(cas.status, 200, cas.text);
    t.match(body(cas), { version: 2 });
    const noVersion = await h.api(follower, `/v1/kv/${key}/cas`, { method: 'POST', body: { session: s, text: 'red' } });
    t.equal(noVersion.status, 400);
    const lock = await acquire(follower, 'writer', { session: s });
    const token = body(lock)['token'] as number;
    const fenced = await h.api(follower, '/v1/kv/fenced', {
      method: 'PUT',
      body: { session: s, text: 'ok', fence: { lock: 'writer', token } },
    });
    t.equal(fenced.status, 200, fenced.text);
    await h.api(follower, '/v1/locks/writer/release', { method: 'POST', body: { session: s } });
    const staleWrite = await h.api(follower, '/v1/kv/fenced', {
      method: 'PUT',
      body: { session: s, text: 'late', fence: { lock: 'writer', token } },
    });
    t.equal(staleWrite.status, 409);
    t.equal(body(staleWrite)['code'], 'STALE_TOKEN');
    for (const k of ['list/a', 'list/b', 'list/c']) {
      t.equal(
        (await h.api(follower, `/v1/kv/${encodeURIComponent(k)}`, { method: 'PUT', body: { session: s, text: k } }))
          .status,
        200,
      );
    }
    const all = body(await h.api(leader, '/v1/kv?prefix=list/'));
    t.same(
      (all['keys'] as Json[]).map((k) => k['key']),
      ['list/a', 'list/b', 'list/c'],
    );
    t.equal(all['next'], null, 'the last page');
    const page = body(await h.api(leader, '/v1/kv?prefix=list/&after=list/a&limit=1'));
    t.same(
      (page['keys'] as Json[]).map((k) => k['key']),
      ['list/b'],
      'paged',
    );
    t.equal(page['next'], 'list/b', 'next page after it');
    const deleted = await h.api(follower, `/v1/kv/${encodeURIComponent('list/b')}?session=${s}`, { method: 'DELETE' });
    t.same(body(deleted), { key: 'list/b', existed: true });
    const missing = await h.api(leader, `/v1/kv/${encodeURIComponent('list/b')}`);
    t.equal(missing.status, 404);
    t.equal(body(missing)['code'], 'NOT_FOUND');
  });

  await t.test('exactly once: a retry with the same Idempotency-Key is answered from the table', async (t) => {
    const s = await openSession();
    const headers = { 'idempotency-key': `retrier-${s}:1` };
    const first = await h.api(follower, '/v1/kv/once', { method: 'PUT', body: { session: s, text: 'one' }, headers });
    t.equal(first.status, 200, first.text);
    t.equal(first.headers['idempotency-key'], `retrier-${s}:1`);
    const retry = await h.api(leader, '/v1/kv/once', { method: 'PUT', body: { session: s, text: 'one' }, headers });
    t.equal(retry.status, 200);
    t.same(body(retry), body(first), 'the first answer, not a second write');
    t.match(body(await h.api(leader, '/v1/kv/once')), { version: 1 }, 'written once');
    const next = await h.api(follower, '/v1/kv/once', {
      method: 'PUT',
      body: { session: s, text: 'two' },
      headers: { 'idempotency-key': `retrier-${s}:2` },
    });
    t.match(body(next), { version: 2 });
    const older = await h.api(follower, '/v1/kv/once', { method: 'PUT', body: { session: s, text: 'x' }, headers });
    t.equal(older.status, 400, 'only the last seq of a client id is kept: an older one is refused, not applied');
    t.match(body(older)['message'], /seq 1 .* older than its last applied seq 2/);
    t.match(body(await h.api(leader, '/v1/kv/once')), { version: 2, text: 'two' });
    const bad = await h.api(follower, '/v1/kv/once', {
      method: 'PUT',
      body: { session: s, text: 'x' },
      headers: { 'idempotency-key': 'no-seq' },
    });
    t.equal(bad.status, 400);
  });

  await t.test('status, members, leader, whoami', async (t) => {
    // Looked up again: on a busy machine leadership may have moved since the cluster started.
    const leader = await h.leaderNode();
    const follower = await h.followerNode();
    const status = body(await h.api(follower, '/v1/status'));
    t.match(status, { nodeId: follower.nodeId, role: 'follower', leader: leader.nodeId, voters: ['n1', 'n2', 'n3'] });
    const members = list(await h.api(follower, '/v1/members'));
    t.equal(members.length, 3);
    for (const m of members) t.match(m, { role: 'voter', http: /^127\.0\.0\.1:\d+$/ });
    t.same(body(await h.api(follower, '/v1/leader')), {
      leader: leader.nodeId,
      term: status['term'],
      leaderClient: leader.endpoint.client,
      leaderHttp: h.httpOf(leader),
    });
    t.same(body(await h.api(follower, '/v1/whoami')), {
      principal: 'root',
      roles: ['admin'],
      admin: true,
      permissions: [{ prefix: '', rights: ['lock', 'read', 'write', 'watch'] }],
    });
  });

  await t.test('authentication and authorization, every refusal logged', async (t) => {
    await h.addUser('alice', 'alice-secret', 'pub/', ['lock', 'read', 'write']);
    const none = await call(h.httpOf(follower), '/v1/whoami', { tls: h.caOnly });
    t.equal(none.status, 401);
    t.match(body(none), { code: 'UNAUTHENTICATED', message: /no credentials/ });
    t.ok(h.logged('http request refused', 'no credentials').length > 0, 'logged');
    const malformed = await call(h.httpOf(follower), '/v1/whoami', {
      tls: h.caOnly,
      headers: { authorization: 'Basic abc' },
    });
    t.equal(malformed.status, 401);
    const unknown = await call(h.httpOf(follower), '/v1/whoami', { tls: h.caOnly, bearer: 'not-a-token' });
    t.equal(unknown.status, 401);
    const wrong = await call(h.httpOf(follower), '/v1/auth/login', {
      tls: h.caOnly,
      method: 'POST',
      body: { user: 'alice', password: 'nope' },
    });
    t.equal(wrong.status, 401);
    t.ok(
      h.logged('http request refused', 'password of user alice', 'wrong user name or password').length > 0,
      'a failed login is logged',
    );
    const login = await call(h.httpOf(follower), '/v1/auth/login', {
      tls: h.caOnly,
      method: 'POST',
      body: { user: 'alice', password: 'alice-secret' },
    });
    t.equal(login.status, 200, login.text);
    t.match(body(login), { principal: 'alice', token: /\S+/, expiresInMs: 600_000 });
    const token = body(login)['token'] as string;
    const as = (
      path: string,
      options: { readonly method?: string; readonly body?: unknown } = {},
    ): Promise<HttpAnswer> => call(h.httpOf(follower), path, { tls: h.caOnly, bearer: token, ...options });
    t.same(body(await as('/v1/whoami')), {
      principal: 'alice',
      roles: ['alice-role'],
      admin: false,
      permissions: [{ prefix: 'pub/', rights: ['lock', 'read', 'write'] }],
    });
    const opened = await as('/v1/sessions', { method: 'POST', body: { ttlMs: 10_000 } });
    t.equal(opened.status, 200, opened.text);
    const session = body(opened)['session'] as number;
    t.equal(
      (await as('/v1/locks/pub%2Fa/acquire', { method: 'POST', body: { session } })).status,
      200,
      'alice may lock pub/',
    );
    const denied = await as('/v1/locks/secret/acquire', { method: 'POST', body: { session } });
    t.equal(denied.status, 403);
    t.match(body(denied), { code: 'PERMISSION_DENIED', message: /alice may not lock "secret"/ });
    const listing = await as('/v1/locks?prefix=');
    t.equal(listing.status, 403, 'listing every lock needs read on ""');
    t.equal((await as('/v1/locks?prefix=pub/')).status, 200);
    t.ok(
      h.logged('http request refused', 'user=alice', 'code=PERMISSION_DENIED').length >= 2,
      'refusals name who and why',
    );
    const otherSession = await openSession();
    const foreign = await as(`/v1/sessions/${otherSession}`);
    t.equal(foreign.status, 403, "another's session");
    t.notOk(
      list(await as('/v1/sessions')).some((s) => s['session'] === otherSession),
      "root's sessions are not listed to alice",
    );
    const events = await as('/v1/watch?prefix=');
    t.equal(events.status, 403, 'no watch right');
    const nodeToken = await call(h.httpOf(leader), '/v1/whoami', { tls: h.caOnly, bearer: token });
    t.equal(nodeToken.status, 401, 'a token is valid only on the node that issued it');
    // A client certificate from another CA: the connection is closed before any request is read.
    const stranger = (await createThrowawayPki([], ['root'])).users.get('root')!;
    const forged = await call(h.httpOf(follower), '/v1/whoami', {
      tls: { ca: h.caOnly!.ca, cert: stranger.cert, key: stranger.key },
    }).then(
      (answer) => `answered ${answer.status}`,
      (error: unknown) => `failed: ${String(error)}`,
    );
    t.match(forged, /^failed: /, "another CA's certificate gets no answer");
    await until(
      () => h.logged('http connection refused', 'the certificate of CN=root was not accepted').length > 0,
      'the refusal logged with the reason',
    );
  });

  await t.test('bad input: 400 with where, 404, 413', async (t) => {
    const unknownField = await h.api(follower, '/v1/sessions', {
      method: 'POST',
      body: { ttlMs: 5000, colour: 'red' },
    });
    t.equal(unknownField.status, 400);
    t.match(body(unknownField), { code: 'INVALID_ARGUMENT', message: /additional properties/ });
    const wrongType = await h.api(follower, '/v1/sessions', { method: 'POST', body: { ttlMs: '5000' } });
    t.equal(wrongType.status, 400);
    t.match(body(wrongType)['message'], /body\/ttlMs must be integer/);
    const shortTtl = await h.api(follower, '/v1/sessions', { method: 'POST', body: { ttlMs: 10 } });
    t.equal(shortTtl.status, 400);
    t.match(body(shortTtl)['message'], /ttlMs must be >= 1000/);
    const notJson = await h.api(follower, '/v1/sessions', { method: 'POST', rawBody: '{"ttlMs":' });
    t.equal(notJson.status, 400);
    t.equal(body(notJson)['code'], 'INVALID_ARGUMENT');
    const xml = await h.api(follower, '/v1/sessions', {
      method: 'POST',
      rawBody: '<ttl/>',
      headers: { 'content-type': 'application/xml' },
    });
    t.equal(xml.status, 415);
    t.equal(body(xml)['code'], 'INVALID_ARGUMENT');
    const emptyJson = await h.api(follower, `/v1/sessions/${await openSession()}`, {
      method: 'DELETE',
      headers: { 'content-type': 'application/json' },
    });
    t.equal(emptyJson.status, 200, 'an empty JSON body is no body (curl -H content-type on a DELETE)');
    const both = await h.api(follower, '/v1/kv/k', { method: 'PUT', body: { session: 1, text: 'a', value: 'YQ==' } });
    t.equal(both.status, 400);
    t.match(body(both)['message'], /not both/);
    const tooLong = await h.api(follower, '/v1/sessions?limit=99999');
    t.equal(tooLong.status, 400);
    const route = await h.api(follower, '/v1/nothing');
    t.equal(route.status, 404);
    t.equal(body(route)['code'], 'NOT_FOUND');
    const s = await openSession();
    const huge = 'x'.repeat(1_500_000);
    const large = await h.api(follower, '/v1/kv/big', { method: 'PUT', body: { session: s, text: huge } });
    t.equal(large.status, 413);
    t.equal(body(large)['code'], 'TOO_LARGE');
    t.ok(h.logged('http request refused', 'code=TOO_LARGE').length > 0, 'logged');
  });

  await t.test('metrics and probes', async (t) => {
    const refused = await call(h.httpOf(follower), '/metrics', { tls: h.caOnly });
    t.equal(refused.status, 401, 'metrics need a principal');
    const metrics = await h.api(follower, '/metrics');
    t.equal(metrics.status, 200);
    t.match(metrics.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    t.match(
      metrics.text,
      /raftlock_client_requests_total\{[^}]*op="acquire"[^}]*code="OK"[^}]*\} [1-9]/,
      'HTTP requests are counted as client requests',
    );
    const health = await call(h.httpOf(follower), '/healthz', { tls: h.caOnly });
    t.equal(health.status, 200, 'probes need no credentials');
    t.match(health.json, { healthy: true, reason: /serving/ });
    const ready = await call(h.httpOf(follower), '/readyz', { tls: h.caOnly });
    t.equal(ready.status, 200, ready.text);
    t.match(ready.json, { ready: true });
  });

  await t.test(
    'a second HTTP server on a node with small limits: 503 with the leader when streams are full',
    async (t) => {
      const leader = await h.leaderNode();
      const small = await startHttpServer({
        gateway: follower.gateway,
        listen: { host: '127.0.0.1', port: 0 },
        http: { streams: { streamsMax: 0 } },
      });
      t.teardown(() => small.close());
      // A follower that has not yet heard from the leader since it took over answers leader: null;
      // ask again until it names one (on a loaded machine that can take a heartbeat or two).
      const ask = () => call(`127.0.0.1:${small.address.port}`, '/v1/watch?prefix=', { tls: h.root });
      let answer = await ask();
      for (let tries = 0; tries < 50 && answer.status === 503 && body(answer)['leader'] === null; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        answer = await ask();
      }
      t.equal(answer.status, 503);
      t.match(body(answer), { code: 'UNAVAILABLE', leader: leader.nodeId, leaderHttp: h.httpOf(leader) });
    },
  );
});
