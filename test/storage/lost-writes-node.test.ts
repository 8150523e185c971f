// The fault as an operator meets it, on a real `raftlock start` process: a single node acknowledges
// 300 puts, is SIGKILLed, and LevelDB's write-ahead log loses its last 300 bytes. LevelDB would
// open the rest without a word and the node would serve with acknowledged keys gone; instead the
// node refuses to start, prints LOST_WRITES with what was lost and how to recover, and exits 1.
// When only the newest batch is gone, its evidence carries it: the node writes it again and serves.
import t from 'tap';
import type { Test } from 'tap';
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WireResult } from '../../src/protocol/client-protocol.js';
import type { SessionId } from '../../src/statemachine/ids.js';
import { allocateLocalNodes, runCli, startNodeProcess, writeClusterFile } from '../e2e/fixtures/procs.js';
import { RawClient } from '../e2e/fixtures/raw-client.js';

function okValue(result: WireResult): Extract<WireResult, { code: 'OK' }>['value'] {
  if (result.code !== 'OK') throw new Error(`expected OK, got ${JSON.stringify(result)}`);
  return result.value;
}

interface Acknowledged {
  readonly file: string;
  readonly port: number;
  /** The newest LevelDB write-ahead log of the node's data directory. */
  readonly wal: string;
}

/** A one-node cluster acknowledges 300 puts (keys k0..k299), then its node is SIGKILLed. */
async function acknowledgeThenKill(t: Test): Promise<Acknowledged> {
  const dir = t.testdir();
  const nodes = await allocateLocalNodes(1);
  // Storage, not security, is under test: a plaintext node the raw client can talk to.
  const file = await writeClusterFile(dir, nodes, { security: 'insecure' });
  const node = startNodeProcess(file, 'n1', 'warn');
  t.teardown(() => node.kill('SIGKILL'));
  await node.ready;
  const port = nodes[0]?.clientPort ?? 0;
  const client = await RawClient.connect({ port, clusterId: 'e2e' });
  let seq = 0;
  // The first write waits for the node to lead its one-node cluster.
  let opened: WireResult = { code: 'UNAVAILABLE', message: 'not tried' } as WireResult;
  for (let attempt = 0; attempt < 100; attempt++) {
    opened = await client.command('app', ++seq, { type: 'openSession', ttlMs: 60_000 });
    if (opened.code === 'OK') break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const session = okValue(opened);
  if (session.kind !== 'session') throw new Error('no session');
  for (let i = 0; i < 300; i++) {
    const put = {
      type: 'put',
      session: session.session as SessionId,
      key: `k${i}`,
      value: new Uint8Array([i & 255]),
      ifVersion: null,
      ephemeral: false,
      fence: null,
    } as const;
    okValue(await client.command('app', ++seq, put));
  }
  client.close();
  node.kill('SIGKILL');
  await node.exited;

  const data = join(dir, 'data', 'n1');
  const wal = readdirSync(data)
    .filter((name) => name.endsWith('.log'))
    .sort()
    .at(-1);
  if (wal === undefined) throw new Error('no write-ahead log');
  return { file, port, wal: join(data, wal) };
}

t.test(
  'a node whose write-ahead log lost acknowledged puts refuses to start, saying what and how to recover',
  async (t) => {
    const { file, wal } = await acknowledgeThenKill(t);
    truncateSync(wal, statSync(wal).size - 300);

    const result = await runCli(['start', '--node', 'n1', '--config', file, '--log-level', 'warn']);
    t.equal(result.code, 1, 'exit code 1: the node failed to start');
    t.match(
      result.output,
      /raftlock: node n1 cannot start: LOST_WRITES: data directory \S+ lost writes it had made durable and acknowledged: log entries \d+\.\.\d+/,
    );
    t.match(result.output, 'raftlock-evidence-', 'names the evidence file');
    t.match(result.output, 'raftlock members remove n1', 'says how to recover');
    t.notMatch(result.output, 'raftlock node n1 of', 'never printed the ready line');
  },
);

t.test('a node whose write-ahead log lost only its newest batch writes it again and serves every put', async (t) => {
  const { file, port, wal } = await acknowledgeThenKill(t);
  // A flipped byte inside the last record: LevelDB drops that one batch, whose evidence carries it.
  const bytes = readFileSync(wal);
  const at = bytes.length - 20;
  bytes[at] = (bytes[at] as number) ^ 0x01;
  writeFileSync(wal, bytes);

  const node = startNodeProcess(file, 'n1', 'warn');
  t.teardown(() => node.kill('SIGKILL'));
  await node.ready;
  t.match(node.output(), 'the newest batch was written again from its evidence', 'the node says what it did');
  const client = await RawClient.connect({ port, clusterId: 'e2e' });
  t.teardown(() => client.close());
  let last: WireResult = { code: 'UNAVAILABLE', message: 'not tried' } as WireResult;
  for (let attempt = 0; attempt < 100; attempt++) {
    last = await client.request({ kind: 'read', query: { kind: 'get', key: 'k299' } });
    if (last.code === 'OK') break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const value = okValue(last);
  const stored = value.kind === 'key' ? value.key : null;
  t.equal(stored?.key, 'k299', 'the last acknowledged put is there');
  t.same([...(stored?.value ?? [])], [299 & 255], 'with its value');
});
