// kv.list on a real secure one-node cluster: pages in key order, the continuation key, the limit's
// bounds, and the edge's read check on the prefix.
import t from 'tap';
import { connect } from '../../src/client/client.js';
import { RaftlockError } from '../../src/client/errors.js';
import { startCluster } from '../../src/embed/embed.js';

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

void t.test('kv.list pages through a prefix with a continuation key', async (t) => {
  const cluster = await startCluster({ nodes: 1 });
  t.teardown(() => cluster.close());
  await cluster.waitForLeader();
  const root = await connect(cluster.connectOptions());
  t.teardown(() => root.abandon());
  for (const key of ['app/c', 'app/a', 'app/b', 'app/d', 'apple', 'other/x']) await root.kv.put(key, `v:${key}`);

  const first = await root.kv.list('app/', { limit: 2 });
  t.same(
    first.keys.map((k) => k.key),
    ['app/a', 'app/b'],
    'key order, at most limit',
  );
  t.equal(text(first.keys[0]!.value), 'v:app/a', 'values come with the keys');
  t.equal(first.next, 'app/b', 'the continuation is the last key of the page');
  // A key written between pages before the continuation is not repeated; one after it is seen.
  await root.kv.put('app/bb', 'late');
  await root.kv.delete('app/a');
  const second = await root.kv.list('app/', { limit: 2, after: first.next! });
  t.same(
    second.keys.map((k) => k.key),
    ['app/bb', 'app/c'],
  );
  const last = await root.kv.list('app/', { limit: 2, after: second.next! });
  t.same(
    last.keys.map((k) => k.key),
    ['app/d'],
  );
  t.equal(last.next, null, 'null after the last page');
  const exact = await root.kv.list('app/', { limit: 4 });
  t.equal(exact.next, null, 'a page that holds the rest has no continuation');
  t.same((await root.kv.list('')).keys.length, 6, 'the empty prefix lists everything (default limit)');
  t.same((await root.kv.list('none/')).keys, []);

  for (const limit of [0, 1001, 1.5]) {
    await t.rejects(root.kv.list('app/', { limit }), {
      code: 'INVALID_ARGUMENT',
      message: /limit must be an integer from 1 to 1000/,
    });
  }

  // Read authorization: read on a prefix of the listed prefix.
  await root.roles.add('apps');
  await root.roles.grant('apps', 'app/', ['read']);
  await root.users.add('dora', { password: 'dora-password-1' });
  await root.users.grant('dora', 'apps');
  const dora = await connect(cluster.connectOptions({ user: 'dora', password: 'dora-password-1' }));
  t.teardown(() => dora.abandon());
  t.same(
    (await dora.kv.list('app/c')).keys.map((k) => k.key),
    ['app/c'],
    'read on app/ covers app/c',
  );
  const denied = await dora.kv.list('ap').then(
    () => null,
    (error: unknown) => error,
  );
  t.ok(denied instanceof RaftlockError);
  t.match(
    denied,
    { code: 'PERMISSION_DENIED', message: /dora may not read "ap"/ },
    'a wider prefix needs a wider right',
  );
});
