// The forged-peer attack (docs/security.md, threat model), on real `raftlock start` processes: a process connects to a follower's
// peer port, says Hello as the current leader, and sends one AppendEntries with a far higher term
// and an entry whose log time is 10^13 ms (about 300 years ahead), then a TimeoutNow. Before the
// security work (ac5ba5e) every node took the forged term at once, the follower applied the entry
// and dropped every session and lock (its state machine diverged from the others'), and the
// TimeoutNow forced an election.
//
// On a secure cluster each way in is refused before a frame is read or right after the Hello:
// plaintext, a certificate of another CA, a valid user certificate, and a valid node certificate
// of another node than the one the Hello names. Nothing changes (term, leader, sessions, locks,
// fencing tokens), and the follower's log names each attempt's address and the reason.
//
// The log-time bound on its own (defence in depth, docs/security.md "Log time bound"): on an
// insecure loopback cluster, where the Hello is taken on trust, the follower still refuses the
// far-future entry and logs who sent it; the forged term is taken (insecure mode trusts peers),
// which costs an election and nothing else: the holder keeps its lock and its token stays current.
import t from 'tap';
import type { Test } from 'tap';
import { readFileSync } from 'node:fs';
import { connect } from '../../src/client/index.js';
import type { RaftlockClient } from '../../src/client/index.js';
import type { Message } from '../../src/raft/messages.js';
import type { LogIndex, NodeId, Term } from '../../src/raft/types.js';
import { createThrowawayPki, pkiLayout } from '../../src/security/pki.js';
import { encodeEnvelope } from '../../src/node/envelope.js';
import { probeStatus } from '../../src/server/server-probe.js';
import type { ClientTlsPem } from '../../src/security/tls-material.js';
import type { NodeStatusView } from '../../src/protocol/client-protocol.js';
import { peerHelloFrame } from '../../src/protocol/handshake.js';
import { RawClient as PeerWire } from '../transport/fixtures/net-helpers.js';
import {
  agreedLeader,
  caughtUpViews,
  eventually,
  startTestCluster,
  statusViews,
  testPkiDir,
} from './fixtures/procs.js';

const clusterId = 'e2e';
/** 10^13 ms of log time: about 300 years after the cluster started. */
const farFutureMs = 1e13;
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The forged messages of the attack, from the leader to `follower` as of its status `seen`: an
 * AppendEntries whose entry follows the follower's committed log (so Raft's log matching accepts
 * it) at a term far above the cluster's, committing it at once, and a TimeoutNow.
 */
function forgedMessages(
  leader: NodeId,
  follower: NodeId,
  seen: NodeStatusView,
): { append: Message; timeoutNow: Message; forgedTerm: number } {
  const forgedTerm = seen.term + 1000;
  const index = (seen.commit + 1) as LogIndex;
  const append: Message = {
    type: 'AppendEntries',
    from: leader,
    to: follower,
    term: forgedTerm as Term,
    prevIndex: seen.commit as LogIndex,
    prevTerm: seen.term as Term,
    // An idle leader's time-advance entry (no payload), stamped 300 years ahead.
    entries: [
      { kind: 'command', index, term: forgedTerm as Term, data: encodeEnvelope(farFutureMs, new Uint8Array(0)) },
    ],
    commit: index,
  };
  const timeoutNow: Message = { type: 'TimeoutNow', from: leader, to: follower, term: seen.term as Term };
  return { append, timeoutNow, forgedTerm };
}

/** The victim: a client holding a lock, a fenced key written with its token. */
async function victimWithLock(
  t: Test,
  endpoints: readonly string[],
  tls: ClientTlsPem | false,
): Promise<{ client: RaftlockClient; token: number; held: () => boolean }> {
  const client = await connect({ endpoints, clusterId, tls, ttlMs: 5000 });
  t.teardown(() => client.close());
  const lock = await client.lock('jobs/a', { waitMs: 10_000 });
  await client.kv.put('jobs/a/out', 'written by the holder', { fence: { lock: 'jobs/a', token: lock.fencingToken } });
  return { client, token: lock.fencingToken, held: () => lock.held && !lock.signal.aborted };
}

t.test('secure cluster: forged peer frames are refused whatever the attacker presents; nothing changes', async (t) => {
  // 100 ms ticks (elections after 1–2 s): a loaded machine does not start elections of its own
  // while the test checks that the term did not move.
  const started = await startTestCluster(t, { tick: '100ms' });
  const { dir, nodes, procs, leader, endpoints } = started;
  const tls = started.tls!;
  const victim = await victimWithLock(t, endpoints, tls);

  const follower = nodes.find((n) => n.id !== leader.nodeId)!;
  const third = nodes.find((n) => n.id !== leader.nodeId && n.id !== follower.id)!;
  const seen = (await probeStatus({ host: '127.0.0.1', port: follower.clientPort }, clusterId, 2000, tls))!;
  const before = await caughtUpViews(nodes, tls);
  const { append, timeoutNow, forgedTerm } = forgedMessages(leader.nodeId, follower.id as NodeId, seen);

  const foreign = await createThrowawayPki([leader.nodeId]);
  const foreignLeader = foreign.nodes.get(leader.nodeId)!;
  const thirdFiles = pkiLayout.node(testPkiDir(dir), third.id);
  const thirdCert = { cert: readFileSync(thirdFiles.cert, 'utf8'), key: readFileSync(thirdFiles.key, 'utf8') };
  const port = follower.peerPort;
  // The attacker trusts the cluster's CA (ca.crt is no secret) so that its side of the handshake
  // completes: whatever is refused, the follower refuses it.
  const attempts: {
    readonly what: string;
    readonly open: () => Promise<PeerWire>;
    readonly reason: RegExp;
    readonly errorFrame: boolean;
  }[] = [
    { what: 'plaintext', open: () => PeerWire.open(port), reason: /TLS handshake failed/, errorFrame: false },
    {
      what: "a certificate of another CA for the leader's id",
      open: () => PeerWire.openTls(port, { ca: tls.ca, cert: foreignLeader.cert, key: foreignLeader.key }),
      reason: new RegExp(`the certificate of CN=${leader.nodeId} was not accepted: UNABLE_TO_VERIFY_LEAF_SIGNATURE`),
      errorFrame: true,
    },
    {
      what: "root's user certificate",
      open: () => PeerWire.openTls(port, { ca: tls.ca, cert: tls.cert, key: tls.key }),
      reason: /user root may not open a peer connection: only node certificates can/,
      errorFrame: true,
    },
    {
      what: `${third.id}'s node certificate, the Hello naming ${leader.nodeId}`,
      open: () => PeerWire.openTls(port, { ca: tls.ca, ...thirdCert }),
      reason: new RegExp(`the certificate proves node ${third.id} but the Hello says ${leader.nodeId}`),
      errorFrame: true,
    },
  ];
  const tried: { readonly what: string; readonly localPort: number; readonly wire: PeerWire }[] = [];
  for (const attempt of attempts) {
    const wire = await attempt.open().catch((error: unknown) => {
      throw new Error(`${attempt.what}: could not even connect: ${String(error)}`);
    });
    t.teardown(() => wire.destroy());
    const localPort = wire.socket.localPort ?? 0;
    wire.sendValue(peerHelloFrame(clusterId, leader.nodeId));
    wire.sendValue(append);
    wire.sendValue(timeoutNow);
    tried.push({ what: attempt.what, localPort, wire });
    await eventually(
      async () => (wire.closed ? true : undefined),
      10_000,
      `the follower to close the connection of ${attempt.what}`,
    );
  }
  // Longer than an election timeout: an accepted TimeoutNow or forged term would show by now.
  await pause(2500);

  for (const [i, attempt] of attempts.entries()) {
    const { localPort, wire } = tried[i]!;
    const line = procs
      .get(follower.id)!
      .output()
      .split('\n')
      .find((l) => l.includes('peer connection refused') && l.includes(`remote=127.0.0.1:${localPort} `));
    t.ok(line !== undefined, `${attempt.what}: the follower logged a refusal naming 127.0.0.1:${localPort}`);
    t.match(line ?? '', attempt.reason, `${attempt.what}: the log line gives the reason`);
    if (attempt.errorFrame) {
      t.match(
        wire.values,
        [{ type: 'Error', code: 'UNAUTHENTICATED', message: attempt.reason }],
        `${attempt.what}: the attacker was told why`,
      );
    }
  }
  const after = await statusViews(nodes, tls);
  for (const [i, node] of nodes.entries()) {
    const was = before[i]!;
    const now = after[i];
    t.match(
      now,
      { term: was.term, leader: leader.nodeId, sessions: was.sessions, locks: was.locks },
      `${node.id}: same term, leader, sessions and locks`,
    );
    t.ok(now !== null && now !== undefined && now.term < forgedTerm, `${node.id} never saw the forged term`);
  }
  t.ok(victim.held(), 'the holder still holds its lock (its signal did not abort)');
  t.ok(await victim.client.checkFence('jobs/a', victim.token), "the holder's token is current");
  t.match(await victim.client.kv.get('jobs/a/out'), { version: 1 }, 'its fenced write is there');
  for (const p of procs.values())
    t.notMatch(p.output(), /refused \d+ entr/, `${p.id} was never offered the forged entry`);
});

t.test('insecure loopback cluster: followers refuse the far-future entry on their own (log-time bound)', async (t) => {
  const { nodes, procs, leader, endpoints } = await startTestCluster(t, { tick: '100ms', security: 'insecure' });
  const victim = await victimWithLock(t, endpoints, false);

  const follower = nodes.find((n) => n.id !== leader.nodeId)!;
  const seen = (await probeStatus({ host: '127.0.0.1', port: follower.clientPort }, clusterId, 2000))!;
  const before = await caughtUpViews(nodes, undefined);
  const { append, forgedTerm } = forgedMessages(leader.nodeId, follower.id as NodeId, seen);
  const wire = await PeerWire.open(follower.peerPort);
  t.teardown(() => wire.destroy());
  wire.sendValue(peerHelloFrame(clusterId, leader.nodeId));
  wire.sendValue(append);

  const refusal = await eventually(
    async () =>
      procs
        .get(follower.id)!
        .output()
        .split('\n')
        .find((l) => l.includes(`refused 1 entry from ${leader.nodeId} (term ${forgedTerm})`)),
    10_000,
    'the follower to refuse the forged entry',
  );
  t.match(refusal, /warn/, 'logged at warn');
  t.match(refusal, `has log time ${farFutureMs} ms`, 'the log line names the forged log time');
  t.match(refusal, /more than logTimeJumpMaxMs 60000/, 'and the bound');
  // What insecure mode does with the rest: the Hello is taken on trust, so the forged term is
  // adopted, and the cluster elects a leader again above it. Nothing else moves.
  const again = await eventually(
    async () => {
      const l = await agreedLeader(nodes, undefined);
      return l !== undefined && l.term > forgedTerm ? l : undefined;
    },
    20_000,
    'a leader above the forged term',
  );
  t.ok(
    again.term > forgedTerm,
    `the forged term ${forgedTerm} was taken (insecure mode trusts the Hello); leader ${again.nodeId} at term ${again.term}`,
  );
  // Several TTLs (5 s) later the holder still holds: log time did not leap 300 years on any node.
  await pause(6000);
  const after = await statusViews(nodes, undefined);
  for (const [i, node] of nodes.entries()) {
    t.match(
      after[i],
      { sessions: before[i]!.sessions, locks: before[i]!.locks },
      `${node.id}: the same sessions and locks as before`,
    );
  }
  t.ok(victim.held(), 'the holder still holds its lock');
  t.ok(await victim.client.checkFence('jobs/a', victim.token), "the holder's token is current");
  const stale = await victim.client.kv.put('jobs/a/out', 'again', { fence: { lock: 'jobs/a', token: victim.token } });
  t.equal(stale.version, 2, "a write fenced with the holder's token is still accepted");
});
