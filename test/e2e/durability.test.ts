// Acknowledged writes survive SIGKILL at arbitrary moments, and retried writes apply once: 32
// writers keep putting their own key through a follower-forwarding client while nodes (the leader
// in every other round) are killed with SIGKILL mid-traffic and restarted. A writer retries an
// UNAVAILABLE answer with the same (clientId, seq) (Raft dissertation §6.3), so at the end each
// key's version must equal the number of writes its writer had acknowledged: a lost acknowledged
// write would make it smaller, a double-applied retry larger (Raft §5.4.2: committed entries
// survive leader changes).
import t from 'tap';
import { probeStatus } from '../../src/server/server-probe.js';
import type { SessionId } from '../../src/statemachine/ids.js';
import type { LocalNode, LocalRootTls } from './fixtures/procs.js';
import { eventually, allocateLocalNodes, nodeProcesses, userTls, writeClusterFile } from './fixtures/procs.js';
import { RawClient } from './fixtures/raw-client.js';

async function leaderOf(nodes: readonly LocalNode[], tls: LocalRootTls): Promise<string | undefined> {
  for (const node of nodes) {
    const s = await probeStatus({ host: '127.0.0.1', port: node.clientPort }, 'e2e', 500, tls);
    if (s?.leader !== undefined && s.leader !== null && s.leader === s.nodeId) return s.leader;
  }
  return undefined;
}

t.test('no acknowledged write is lost and none applies twice across repeated SIGKILLs', async (t) => {
  const dir = t.testdir();
  const nodes = await allocateLocalNodes(3);
  const file = await writeClusterFile(dir, nodes, { snapshotEntries: 2000 });
  const tls = userTls(dir);
  const { procs, start } = nodeProcesses(t, file);
  await Promise.all(nodes.map((n) => start(n.id).ready));
  await eventually(() => leaderOf(nodes, tls), 15_000, 'a leader');

  // Each writer talks to its own node (round robin) so that kills cut some writers' connections.
  const writers = 32;
  const acknowledged = new Array<number>(writers).fill(0);
  let stop = false;
  const sessions = new Map<number, SessionId>();
  const loops = Array.from({ length: writers }, async (_, w) => {
    let seq = 0;
    let client: RawClient | null = null;
    while (!stop) {
      try {
        client ??= await RawClient.connect({ port: nodes[w % 3]!.clientPort, tls });
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      const session = sessions.get(w);
      seq += 1;
      // One (clientId, seq) per intended write, retried until it is answered.
      for (;;) {
        if (client.isClosed) {
          client = null;
          break;
        }
        const result =
          session === undefined
            ? await client.command(`writer-${w}`, seq, { type: 'openSession', ttlMs: 600_000 })
            : await client.command(`writer-${w}`, seq, {
                type: 'put',
                session,
                key: `w/${w}`,
                value: new Uint8Array([seq & 0xff]),
                ifVersion: null,
                ephemeral: false,
                fence: null,
              });
        if (result.code === 'UNAVAILABLE') {
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        if (result.code !== 'OK') throw new Error(`writer ${w}: ${JSON.stringify(result)}`);
        if (result.value.kind === 'session') sessions.set(w, result.value.session);
        else acknowledged[w] = (acknowledged[w] ?? 0) + 1;
        break;
      }
      // A write cut off with its connection is retried with the same seq on a new connection.
      if (client === null) seq -= 1;
    }
    client?.close();
  });

  for (let round = 0; round < 4; round++) {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const leader = await eventually(() => leaderOf(nodes, tls), 15_000, 'a leader');
    const victim = round % 2 === 0 ? leader : nodes.find((n) => n.id !== leader)!.id;
    procs.get(victim)!.kill('SIGKILL');
    await procs.get(victim)!.exited;
    await new Promise((resolve) => setTimeout(resolve, 700));
    await start(victim).ready;
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  stop = true;
  await Promise.all(loops);

  const reader = await RawClient.connect({ port: nodes[0]!.clientPort, tls });
  t.teardown(() => reader.close());
  let mismatches = 0;
  for (let w = 0; w < writers; w++) {
    const read = await eventually(
      async () => {
        const r = await reader.request({ kind: 'read', query: { kind: 'get', key: `w/${w}` } });
        return r.code === 'OK' && r.value.kind === 'key' ? r.value.key : undefined;
      },
      15_000,
      `key of writer ${w}`,
    ).catch(() => null);
    const version = read?.version ?? 0;
    if (version !== acknowledged[w]) mismatches += 1;
  }
  const total = acknowledged.reduce((a, b) => a + b, 0);
  t.ok(total > writers, `writers acknowledged ${total} writes across 4 kills`);
  t.equal(mismatches, 0, 'every key holds exactly its acknowledged writes');
});
