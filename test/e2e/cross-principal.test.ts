// The cross-principal attack (docs/security.md, threat model), on real `raftlock start` processes: a second client, with a user of its
// own, learns the victim's session id from the `locks` listing and then releases the victim's
// lock, writes with the victim's session, keeps it alive, closes it, removes a member, transfers
// leadership and takes a snapshot. Before the security work (ac5ba5e) every one of these
// succeeded for any client. Now each is PERMISSION_DENIED with a message that names who, the
// session's owner or the admin role it would need; the victim keeps its lock, its token and its
// write, the membership and the leader stay, and the node the attacker is connected to writes an
// audit line for each admin operation it refused.
//
// Both users have the same rights on `jobs/` and log in with passwords; the attacker is connected
// to a follower, so its commands reach the leader forwarded in its name (`as`), where the state
// machine refuses them.
import t from 'tap';
import { connect } from '../../src/client/index.js';
import type { NodeId } from '../../src/raft/types.js';
import type { SessionId } from '../../src/statemachine/ids.js';
import type { WireResult } from '../../src/protocol/client-protocol.js';
import { SecureClient } from '../server/fixtures/secure-client.js';
import { agreedLeader, eventually, startTestCluster } from './fixtures/procs.js';

const clusterId = 'e2e';

t.test('another user cannot use, release or close a session, nor act as an admin', async (t) => {
  const { nodes, procs, tls, leader, endpoints } = await startTestCluster(t, { tick: '100ms' });
  const root = tls!;

  const admin = await connect({ endpoints, clusterId, tls: root });
  t.teardown(() => admin.close());
  await admin.roles.add('jobs');
  await admin.roles.grant('jobs', 'jobs/', ['lock', 'read', 'write', 'watch']);
  for (const user of ['alice', 'mallory']) {
    await admin.users.add(user, { password: `${user}'s password` });
    await admin.users.grant(user, 'jobs');
  }

  const alice = await connect({
    endpoints,
    clusterId,
    tls: { ca: root.ca },
    credentials: { user: 'alice', password: "alice's password" },
  });
  t.teardown(() => alice.close());
  const lock = await alice.lock('jobs/a', { waitMs: 10_000 });
  await alice.kv.put('jobs/config', 'blue', { fence: { lock: 'jobs/a', token: lock.fencingToken } });

  const follower = nodes.find((n) => n.id !== leader.nodeId)!;
  const other = nodes.find((n) => n.id !== leader.nodeId && n.id !== follower.id)!;
  const mallory = await SecureClient.connect({
    port: follower.clientPort,
    clusterId,
    tls: { ca: root.ca },
    auth: { user: 'mallory', password: "mallory's password" },
  });
  t.teardown(() => mallory.close());
  t.equal(mallory.welcome.principal, 'mallory', 'the attacker is authenticated as itself');

  // What the attacker can see: the lock and the session holding it (it may read jobs/).
  const listed = await mallory.request({ kind: 'read', query: { kind: 'locks', prefix: 'jobs/', limit: 10 } });
  if (listed.code !== 'OK' || listed.value.kind !== 'locks') throw new Error(`listing: ${JSON.stringify(listed)}`);
  const session = listed.value.locks[0]?.holders[0]?.session as SessionId;
  t.ok(session !== undefined, `the listing shows the holder's session ${String(session)}`);

  const owned = new RegExp(
    `mallory may not use session ${session} \\(owned by alice; only its owner or an admin may\\)`,
  );
  const bytes = new TextEncoder().encode('red');
  const attacks: { readonly what: string; readonly send: () => Promise<WireResult>; readonly message: RegExp }[] = [
    {
      what: 'release the victim’s lock',
      send: () => mallory.command('m', 1, { type: 'release', session, name: 'jobs/a' }),
      message: owned,
    },
    {
      what: 'write with the victim’s session',
      send: () =>
        mallory.command('m', 2, {
          type: 'put',
          session,
          key: 'jobs/config',
          value: bytes,
          ifVersion: null,
          ephemeral: false,
          fence: null,
        }),
      message: owned,
    },
    {
      what: 'keep the victim’s session alive',
      send: () => mallory.request({ kind: 'keepAlive', session, clientId: 'm' }),
      message: owned,
    },
    {
      what: 'close the victim’s session',
      send: () => mallory.command('m', 3, { type: 'closeSession', session }),
      message: owned,
    },
    {
      what: 'remove a member',
      send: () => mallory.request({ kind: 'members', action: 'remove', node: other.id as NodeId }),
      message: /^mallory may not change membership \(needs the admin role\)$/,
    },
    {
      what: 'transfer leadership',
      send: () => mallory.request({ kind: 'transferLeader', to: follower.id as NodeId }),
      message: /^mallory may not transfer leadership \(needs the admin role\)$/,
    },
    {
      what: 'take a snapshot',
      send: () => mallory.request({ kind: 'snapshot' }),
      message: /^mallory may not take snapshots \(needs the admin role\)$/,
    },
  ];
  for (const attack of attacks) {
    const result = await attack.send();
    t.match(
      result,
      { code: 'PERMISSION_DENIED', message: attack.message },
      `${attack.what}: PERMISSION_DENIED, saying why`,
    );
  }
  t.notOk(mallory.isClosed, 'refusals do not cost the attacker its connection (it was authenticated)');

  // The victim lost nothing, and neither did the cluster.
  t.ok(lock.held && !lock.signal.aborted, 'the victim still holds its lock; its signal did not abort');
  t.ok(await alice.checkFence('jobs/a', lock.fencingToken), "the victim's token is current");
  t.match(await alice.kv.get('jobs/config'), { version: 1 }, "the victim's write is the key's only one");
  t.equal(Buffer.from((await alice.kv.get('jobs/config'))?.value ?? []).toString(), 'blue');
  const [view] = await alice.locks('jobs/a', 1);
  t.equal(view?.holders[0]?.session, session, 'the lock is held by the same session');
  const after = await eventually(() => agreedLeader(nodes, root), 10_000, 'the leader');
  t.equal(after.nodeId, leader.nodeId, 'the leader did not change');
  t.same([...after.voters].sort(), nodes.map((n) => n.id).sort(), 'every node is still a voter');

  // The node the attacker reached logged each refused admin operation, with its address.
  const log = procs.get(follower.id)!.output();
  for (const what of [`members remove ${other.id}`, 'transferLeader', 'snapshot']) {
    t.match(
      log,
      new RegExp(`audit: mallory from 127\\.0\\.0\\.1:\\d+ ${what}.* -> PERMISSION_DENIED`),
      `audit line: ${what}`,
    );
  }
  // The refusals were about who asked, not about the key: an admin may delete it.
  await admin.kv.delete('jobs/config');
  t.equal(await alice.kv.get('jobs/config'), null, 'root may delete under jobs/');
});
