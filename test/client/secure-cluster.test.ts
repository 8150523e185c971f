// End to end: the client library against a real secure 3-node cluster in this process
// (startCluster makes a throwaway CA): who may connect, users and roles managed through
// client.users / client.roles, rights per name prefix (PERMISSION_DENIED outside them), revocation
// taking effect on the next request, passwords changed and users deleted, and an admin ending
// another owner's hold telling the holder at once.
import t from 'tap';
import { connect } from '../../src/client/client.js';
import type { RaftlockClient } from '../../src/client/client.js';
import { RaftlockError } from '../../src/client/errors.js';
import type { ConnectOptions } from '../../src/client/options.js';
import { startClusterForTest } from './fixtures/cluster-for-test.js';
import { refusal } from './fixtures/refusal.js';

void t.test('a secure cluster: authentication, users and roles, rights per prefix, revocation', async (t) => {
  const { cluster, connect: connectForTest } = await startClusterForTest(t, { nodes: 3 });
  const open = (options: ConnectOptions): Promise<RaftlockClient> =>
    connectForTest({ requestTimeoutMs: 10_000, ...options });
  await cluster.waitForLeader();
  const root = await open(cluster.connectOptions());
  const alicePassword = { user: 'alice', password: 'correct horse' };

  await t.test('a client that proves nothing is refused with UNAUTHENTICATED, at once', async (t) => {
    const { endpoints, clusterId } = cluster.connectOptions();
    const ca = cluster.ca?.cert ?? '';
    const started = Date.now();
    const error = await refusal(connect({ endpoints, clusterId, tls: { ca }, requestTimeoutMs: 20_000 }));
    t.equal(error.code, 'UNAUTHENTICATED');
    t.ok(Date.now() - started < 10_000, 'not retried until the deadline');
    const wrong = await refusal(
      connect({ ...cluster.connectOptions({ user: 'alice', password: 'nope' }), requestTimeoutMs: 20_000 }),
    );
    t.equal(wrong.code, 'UNAUTHENTICATED', 'an unknown user');
  });

  await t.test('root manages users and roles; whoami says who a client is', async (t) => {
    t.same(await root.whoami(), {
      principal: 'root',
      roles: ['admin'],
      admin: true,
      permissions: [{ prefix: '', rights: ['lock', 'read', 'write', 'watch'] }],
    });
    await root.users.add('alice', { password: alicePassword.password });
    await root.roles.add('jobs');
    await root.roles.grant('jobs', 'jobs/', ['lock', 'read']);
    await root.users.grant('alice', 'jobs');
    const users = await root.users.list();
    t.same(
      users.find((u) => u.name === 'alice'),
      { name: 'alice', roles: ['jobs'], password: true },
    );
    const roles = await root.roles.list();
    t.same(
      roles.find((r) => r.name === 'jobs'),
      { name: 'jobs', permissions: [{ prefix: 'jobs/', rights: ['lock', 'read'] }] },
    );
    const badRights = await refusal(root.roles.grant('jobs', 'x/', ['fly' as 'lock']));
    t.equal(badRights.code, 'INVALID_ARGUMENT');
  });

  await t.test('a user may lock inside its prefix and gets PERMISSION_DENIED outside it', async (t) => {
    const alice = await open(cluster.connectOptions(alicePassword));
    t.same(await alice.whoami(), {
      principal: 'alice',
      roles: ['jobs'],
      admin: false,
      permissions: [{ prefix: 'jobs/', rights: ['lock', 'read'] }],
    });
    const lock = await alice.lock('jobs/nightly');
    t.ok(lock.fencingToken > 0);
    await lock.release();
    const outside = await refusal(alice.lock('other/x'));
    t.equal(outside.code, 'PERMISSION_DENIED');
    t.match(outside.message, /alice may not lock "other\/x"/);
    const write = await refusal(alice.kv.put('jobs/k', 'v'));
    t.equal(write.code, 'PERMISSION_DENIED', 'lock and read, but not write');
    const admin = await refusal(alice.users.add('mallory', { password: 'x' }));
    t.equal(admin.code, 'PERMISSION_DENIED', 'not an admin');

    // Revoking the role takes effect on the very next request of the open connection.
    await root.users.revoke('alice', 'jobs');
    const revoked = await refusal(alice.lock('jobs/nightly'));
    t.equal(revoked.code, 'PERMISSION_DENIED');
    await root.users.grant('alice', 'jobs');
    await (await alice.lock('jobs/nightly')).release();
  });

  await t.test('an admin releasing a hold tells the holder first: its signal aborts', async (t) => {
    const alice = await open(cluster.connectOptions(alicePassword));
    const lock = await alice.lock('jobs/held');
    const aborted = new Promise<unknown>((resolve) =>
      lock.signal.addEventListener('abort', () => resolve(lock.signal.reason)),
    );
    const result = await root.command({ type: 'release', session: lock.session, name: 'jobs/held' });
    t.equal(result.code, 'OK');
    const reason = await aborted;
    t.ok(reason instanceof RaftlockError && reason.code === 'NOT_HOLDER', 'NOT_HOLDER');
    t.match(String(reason), /root released jobs\/held/);
    t.equal(lock.held, false);
    await lock.release();
  });

  await t.test('a user changes its own password; a deleted user is cut off', async (t) => {
    const alice = await open(cluster.connectOptions(alicePassword));
    await alice.users.passwd('alice', 'battery staple');
    const old = await refusal(connect({ ...cluster.connectOptions(alicePassword), requestTimeoutMs: 20_000 }));
    t.equal(old.code, 'UNAUTHENTICATED', 'the old password no longer works');
    const renewed = await open(cluster.connectOptions({ user: 'alice', password: 'battery staple' }));
    await (await renewed.lock('jobs/again')).release();
    await root.users.delete('alice');
    const gone = await refusal(renewed.lock('jobs/after'));
    t.equal(gone.code, 'UNAUTHENTICATED', "the open connection's next request");
    t.notOk((await root.users.list()).some((u) => u.name === 'alice'));
  });
});
