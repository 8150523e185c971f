// Authorization on a secure 3-node cluster, end to end through the client port: every command is
// stamped with its connection's principal (forwarded ones too: the follower passes it in `as`),
// rights are checked (by the state machine for commands, at the edge for reads, watches and
// admin-only operations) with messages that name the right and the name, sessions belong to
// their owner, an admin's cross-session release tells the holder before the next grant, and
// revocations reach open connections. Every admin operation and cross-session action is audited,
// and every refused request logged once, by the node the client reached.
import t from 'tap';
import type { SessionId } from '../../src/statemachine/ids.js';
import type { AdminAction, WireResult } from '../../src/protocol/client-protocol.js';
import { SecureClient, userTls } from './fixtures/secure-client.js';
import { startSecureCluster } from './fixtures/secure-cluster.js';

function sessionOf(result: WireResult): SessionId {
  if (result.code !== 'OK' || result.value.kind !== 'session') throw new Error(`no session: ${JSON.stringify(result)}`);
  return result.value.session;
}

t.test('principals, rights, sessions and revocation on a secure cluster', async (t) => {
  const cluster = await startSecureCluster({ dir: t.testdir() });
  t.teardown(() => cluster.close());
  const leader = await cluster.waitForLeader();
  const [follower, other] = cluster.nodes.filter((n) => n !== leader);
  const ca = cluster.ca;
  const at = (node: typeof leader) => node.clientAddress.port;

  // root, on a follower: its admin operations are forwarded (as root) and hashed by the leader.
  const root = await SecureClient.connect({ port: at(follower!), tls: userTls(cluster.userPems.get('root')!) });
  t.teardown(() => root.close());
  const admin = (action: AdminAction) => root.request({ kind: 'admin', action });
  for (const action of [
    { type: 'roleAdd', role: 'jobs' },
    { type: 'roleGrant', role: 'jobs', permission: { prefix: 'jobs/', rights: ['lock', 'read', 'watch'] } },
    { type: 'userAdd', user: 'alice', password: 'alice-pw' },
    { type: 'userAdd', user: 'bob', password: 'bob-pw' },
    { type: 'userAdd', user: 'carol', password: 'carol-pw' },
    { type: 'userGrantRole', user: 'alice', role: 'jobs' },
    { type: 'userGrantRole', user: 'bob', role: 'jobs' },
  ] as const) {
    t.match(
      await admin(action),
      { code: 'OK', value: { kind: 'admin', done: action.type } },
      `${action.type} through a follower`,
    );
  }
  const login = (user: string, node = follower!) =>
    SecureClient.connect({ port: at(node), tls: { ca }, auth: { user, password: `${user}-pw` } });
  const alice = await login('alice');
  const bob = await login('bob', other);
  const carol = await login('carol', other);
  t.teardown(() => [alice, bob, carol].forEach((c) => c.close()));

  // Forwarding carries the principal: alice's session, opened at a follower, is alice's.
  const a1 = sessionOf(await alice.command('a1', 1, { type: 'openSession', ttlMs: 30_000 }));
  const a2 = sessionOf(await alice.command('a2', 1, { type: 'openSession', ttlMs: 30_000 }));
  t.match(
    await root.request({ kind: 'read', query: { kind: 'session', session: a1 } }),
    { code: 'OK', value: { kind: 'sessionInfo', session: { owner: 'alice', clientId: 'a1' } } },
    'the leader applied it under alice',
  );

  // Rights, with messages that name them.
  t.match(await alice.command('a1', 2, { type: 'acquire', session: a1, name: 'other/x', waitMs: 0, lockDelayMs: 0 }), {
    code: 'PERMISSION_DENIED',
    message: 'alice may not lock "other/x" (needs lock on a prefix of it)',
  });
  const put = {
    type: 'put',
    session: a1,
    key: 'jobs/k',
    value: new Uint8Array([1]),
    ifVersion: null,
    ephemeral: false,
    fence: null,
  } as const;
  t.match(
    await alice.command('a1', 3, put),
    { code: 'PERMISSION_DENIED', message: /alice may not write "jobs\/k"/ },
    'read and lock do not give write',
  );
  t.match(await alice.request({ kind: 'read', query: { kind: 'get', key: 'other/k' } }), {
    code: 'PERMISSION_DENIED',
    message: /alice may not read "other\/k"/,
  });
  t.match(await alice.request({ kind: 'read', query: { kind: 'get', key: 'jobs/k' } }), {
    code: 'OK',
    value: { kind: 'key', key: null },
  });
  t.match(
    await alice.request({ kind: 'read', query: { kind: 'locks', prefix: '', limit: 10 } }),
    { code: 'PERMISSION_DENIED', message: /may not read ""/ },
    'listing everything needs read on everything',
  );
  t.match(await carol.request({ kind: 'watch', prefix: 'jobs/', fromIndex: 0 }), {
    code: 'PERMISSION_DENIED',
    message: /carol may not watch "jobs\/"/,
  });

  // Sessions belong to their owner.
  t.match(await bob.command('b', 1, { type: 'acquire', session: a1, name: 'jobs/b', waitMs: 0, lockDelayMs: 0 }), {
    code: 'PERMISSION_DENIED',
    message: /bob may not use session \d+ \(owned by alice/,
  });
  t.match(
    await bob.request({ kind: 'keepAlive', session: a1, clientId: 'b' }),
    { code: 'PERMISSION_DENIED', message: /owned by alice/ },
    'nor keep it alive',
  );
  t.match(
    await bob.request({ kind: 'read', query: { kind: 'session', session: a1 } }),
    { code: 'PERMISSION_DENIED' },
    'nor look at it',
  );
  t.match(
    await alice.request({ kind: 'keepAlive', session: a1, clientId: 'a1' }),
    { code: 'OK', value: { kind: 'kept' } },
    'its owner may',
  );

  // Admin-only operations.
  for (const op of [
    { kind: 'members', action: 'remove', node: other!.nodeId },
    { kind: 'transferLeader', to: other!.nodeId },
    { kind: 'snapshot' },
    { kind: 'backup', backup: 0, offset: 0 },
    { kind: 'read', query: { kind: 'users' } },
    { kind: 'admin', action: { type: 'userAdd', user: 'mallory', password: null } },
  ] as const) {
    t.match(
      await bob.request(op),
      { code: 'PERMISSION_DENIED', message: /needs the admin role/ },
      `${op.kind} is for admins`,
    );
  }
  t.match(await bob.request({ kind: 'members', action: 'list' }), { code: 'OK' }, 'listing members is not');
  t.match(
    await carol.request({ kind: 'admin', action: { type: 'userPassword', user: 'carol', password: 'carol-pw2' } }),
    { code: 'OK' },
    'anyone may change their own password',
  );
  t.match(
    await carol.request({ kind: 'admin', action: { type: 'userPassword', user: 'bob', password: 'x' } }),
    { code: 'PERMISSION_DENIED' },
    "but not another's",
  );

  // Client ids are the clients' own: bob naming alice's does not make him hear alice's pushes.
  const b1 = sessionOf(await bob.command('b', 2, { type: 'openSession', ttlMs: 30_000 }));
  await bob.command('a2', 1, { type: 'keepAlive', session: b1 });

  // An admin releasing alice's hold: the holder hears `revoked` before anyone is granted.
  t.match(await alice.command('a1', 4, { type: 'acquire', session: a1, name: 'jobs/L', waitMs: 0, lockDelayMs: 0 }), {
    code: 'OK',
    value: { kind: 'granted' },
  });
  t.match(
    await alice.command('a2', 2, { type: 'acquire', session: a2, name: 'jobs/L', waitMs: 30_000, lockDelayMs: 0 }),
    { code: 'OK', value: { kind: 'queued' } },
  );
  t.match(await root.command('r', 1, { type: 'release', session: a1, name: 'jobs/L' }), {
    code: 'OK',
    value: { kind: 'released' },
  });
  await alice.waitForPush((p) => p.kind === 'granted');
  const order = alice.pushes.filter((p) => p.kind === 'revoked' || p.kind === 'granted').map((p) => p.kind);
  t.same(order, ['revoked', 'granted'], 'revoked first, then the grant');
  t.match(
    alice.pushes.find((p) => p.kind === 'revoked'),
    { kind: 'revoked', session: a1, name: 'jobs/L', by: 'root' },
  );
  t.notOk(
    bob.pushes.some((p) => p.kind === 'revoked' || p.kind === 'granted'),
    'nobody else is told, even under her client id',
  );

  // `as` is for member nodes only.
  const forger = await login('bob');
  forger.send({ type: 'Request', id: 1, op: { kind: 'whoami' }, as: 'root' });
  await forger.waitClosed();
  t.match(
    forger.error,
    { code: 'UNAUTHENTICATED', message: /only a member node/ },
    'a user naming another principal is cut off',
  );

  // Revoking a role: an open watch is cancelled and the next request is refused.
  t.match(await alice.request({ kind: 'watch', prefix: 'jobs/', fromIndex: 0 }), {
    code: 'OK',
    value: { kind: 'watching' },
  });
  t.match(await admin({ type: 'userRevokeRole', user: 'alice', role: 'jobs' }), { code: 'OK' });
  t.match(await alice.waitForPush((p) => p.kind === 'watchCancelled'), {
    kind: 'watchCancelled',
    code: 'PERMISSION_DENIED',
    message: /alice may not watch "jobs\/"/,
  });
  t.match(
    await alice.command('a2', 3, { type: 'release', session: a2, name: 'jobs/L' }),
    { code: 'PERMISSION_DENIED', message: /alice may not lock "jobs\/L"/ },
    'the next request of the open connection fails',
  );

  // Deleting a user closes its open connection (on another node than the one that took the request).
  t.match(await admin({ type: 'userDelete', user: 'carol' }), { code: 'OK' });
  await carol.waitClosed();
  t.match(carol.error, { code: 'UNAUTHENTICATED', message: /carol/ }, 'the deleted user is told why');

  // The audit trail, on the node each request came in on.
  const log = cluster.lines.join('\n');
  t.match(log, /audit: root from 127\.0\.0\.1:\d+ userAdd alice -> OK/, 'admin operations');
  t.match(log, /audit: bob from 127\.0\.0\.1:\d+ members remove n\d -> PERMISSION_DENIED/, 'refused ones too');
  t.match(
    log,
    /audit: root from 127\.0\.0\.1:\d+ release "jobs\/L" in session \d+ of alice -> OK/,
    'cross-session actions',
  );
  t.match(log, /audit: root from the log revoked "jobs\/L" of session \d+/, 'and the holder being told');
  // Every PERMISSION_DENIED answer is logged once, where the client is connected (alice's acquire
  // was forwarded from her follower to the leader, which does not log it again).
  const refusedLock = log.match(/client request refused .*op=acquire reason=.*other\/x/g) ?? [];
  t.equal(refusedLock.length, 1, 'logged once');
  t.match(refusedLock[0], /remote=127\.0\.0\.1:\d+ user=alice op=acquire/, 'with who, what and why');
  t.match(log, /client request refused remote=127\.0\.0\.1:\d+ user=carol op=watch reason=.*carol may not watch/);
  t.notMatch(log, /alice-pw|carol-pw/, 'never a password');
});
