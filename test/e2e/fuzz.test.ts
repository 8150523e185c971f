// Protocol fuzzing against a running secure node process: thousands of random, mutated and
// truncated frames inside TLS (half of the connections authenticated by root's certificate, so the
// request parser is reached, half with no certificate, so the Hello's is), plaintext thrown at the
// TLS port, oversized length prefixes and slow-loris connections. Proves that nothing a remote
// sends crashes the node or stalls other connections (a well-behaved client keeps getting every
// answer throughout), that bad frames are answered with Error frames or INVALID_ARGUMENT as the
// protocol says, and that the node's memory stays bounded.
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ClientTlsPem } from '../../src/security/tls-material.js';
import { clientTlsOptions } from '../../src/security/tls-material.js';
import { encodePayload } from '../../src/transport/codec.js';
import { encodeFrame } from '../../src/transport/frame.js';
import { clientHello, requestFrame } from '../../src/protocol/client-protocol.js';
import type { ClientOp } from '../../src/protocol/client-protocol.js';
import { allocateLocalNodes, startNodeProcess, userTls, writeClusterFile, eventually } from './fixtures/procs.js';
import { RawClient } from './fixtures/raw-client.js';

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match === null ? 0 : Number(match[1]) * 1024;
}

/**
 * Opens a connection (TLS with `tls`, else plaintext), writes `chunks` (with an optional pause
 * between them), reads and discards; resolves with what it read when the connection ends.
 */
function blast(port: number, tls: ClientTlsPem | null, chunks: readonly Uint8Array[], gapMs = 0): Promise<string> {
  return new Promise((resolve) => {
    const where = { host: '127.0.0.1', port };
    const socket: Socket = tls === null ? connect(where) : tlsConnect({ ...where, ...clientTlsOptions(tls, {}) });
    let received = '';
    socket.on('data', (data: Buffer) => {
      if (received.length < 4096) received += data.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(received));
    const send = async (): Promise<void> => {
      for (const chunk of chunks) {
        if (socket.destroyed) break;
        socket.write(chunk);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
      socket.end();
      setTimeout(() => socket.destroy(), 2000).unref();
    };
    socket.once(tls === null ? 'connect' : 'secureConnect', () => void send());
  });
}

const opKinds = [
  'command',
  'keepAlive',
  'read',
  'watch',
  'unwatch',
  'status',
  'members',
  'transferLeader',
  'snapshot',
  'bogus',
];
const opTypes = ['openSession', 'acquire', 'release', 'put', 'delete', 'campaign', 'keepAlive', 'closeSession', 'x'];
const anyValue = fc.anything({ maxDepth: 3, withBigInt: false });
const randomOp: fc.Arbitrary<unknown> = fc.oneof(
  anyValue,
  fc.record(
    {
      kind: fc.constantFrom(...opKinds),
      prefix: anyValue,
      session: anyValue,
      query: anyValue,
      action: anyValue,
      node: anyValue,
    },
    { requiredKeys: ['kind'] },
  ),
  fc.record({
    kind: fc.constant('command'),
    command: fc.record({
      type: fc.constantFrom('client', 'keepAliveBatch', 'x'),
      clientId: fc.oneof(fc.string(), anyValue),
      seq: fc.oneof(fc.integer(), anyValue),
      op: fc.record(
        {
          type: fc.constantFrom(...opTypes),
          session: fc.oneof(fc.nat(), anyValue),
          name: fc.string(),
          ttlMs: fc.integer(),
          waitMs: fc.nat(),
          value: fc.uint8Array(),
        },
        { requiredKeys: ['type'] },
      ),
    }),
  }),
);

t.test('a node under hostile traffic keeps serving a well-behaved client', async (t) => {
  const dir = t.testdir();
  const [node] = await allocateLocalNodes(1);
  const file = await writeClusterFile(dir, [node!]);
  const root = userTls(dir);
  // No client certificate: the node's CA only, so the Hello proves nothing.
  const stranger = { ca: root.ca };
  const proc = startNodeProcess(file, 'n1', 'warn');
  t.teardown(() => proc.kill('SIGKILL'));
  await proc.ready;
  const port = node!.clientPort;
  const good = await RawClient.connect({ port, tls: root });
  t.teardown(() => good.close());
  await eventually(
    async () => {
      const r = await good.request({ kind: 'status' });
      return r.code === 'OK' && r.value.kind === 'status' && r.value.status.leader === 'n1' ? true : undefined;
    },
    10_000,
    'the node to lead',
  );
  const session = await good.command('good', 1, { type: 'openSession', ttlMs: 60_000 });
  if (session.code !== 'OK' || session.value.kind !== 'session') throw new Error('no session');
  const sid = session.value.session;
  const rssBefore = rssBytes(proc.pid);

  // The well-behaved client keeps writing while the node is attacked; every answer must be OK.
  let goodSeq = 1;
  let goodFailures = 0;
  let goodAnswers = 0;
  let attacking = true;
  const goodLoop = (async () => {
    while (attacking) {
      goodSeq += 1;
      const value = new TextEncoder().encode(String(goodSeq));
      const r = await good.command('good', goodSeq, {
        type: 'put',
        session: sid,
        key: 'good',
        value,
        ifVersion: null,
        ephemeral: false,
        fence: null,
      });
      if (r.code === 'OK') goodAnswers += 1;
      else goodFailures += 1;
    }
  })();

  const hello = encodeFrame(encodePayload(clientHello('', 'fuzz')));
  const ops = fc.sample(randomOp, { seed: 42, numRuns: 3000 });
  // 1. Thousands of random requests in valid envelopes on a few connections: each is answered.
  const fuzzer = await RawClient.connect({ port, tls: root });
  let answered = 0;
  let invalid = 0;
  for (let i = 0; i < ops.length; i += 200) {
    const batch = ops.slice(i, i + 200).map((op) => fuzzer.request(op as ClientOp));
    for (const result of await Promise.all(batch)) {
      answered += 1;
      if (result.code === 'INVALID_ARGUMENT') invalid += 1;
    }
  }
  t.equal(answered, ops.length, 'every random request got exactly one response');
  t.ok(invalid > ops.length / 2, 'most random requests are refused as INVALID_ARGUMENT');
  t.notOk(fuzzer.isClosed, 'bad ops inside good envelopes do not cost the connection');
  fuzzer.close();

  // 2. Mutated frames (random byte flips of valid requests), random bytes, truncations.
  const rng = fc.sample(fc.integer({ min: 0, max: 2 ** 31 - 1 }), { seed: 7, numRuns: 20000 });
  let r = 0;
  const next = (n: number): number => (rng[r++ % rng.length] ?? 0) % n;
  const attacks: Promise<string>[] = [];
  for (let c = 0; c < 300; c++) {
    const chunks: Uint8Array[] = [c % 10 === 0 ? hello.map((b) => (next(20) === 0 ? next(256) : b)) : hello];
    for (let f = 0; f < 8; f++) {
      const frame = encodeFrame(encodePayload(requestFrame(f, (ops[next(ops.length)] ?? {}) as ClientOp)));
      const mutated = frame.slice();
      for (let k = 0; k < 3; k++) {
        const at = 4 + next(Math.max(1, mutated.length - 4));
        if (at < mutated.length) mutated[at] = next(256);
      }
      chunks.push(next(3) === 0 ? encodeFrame(Uint8Array.from({ length: next(64) }, () => next(256))) : mutated);
    }
    if (c % 3 === 0) chunks.push(encodeFrame(new Uint8Array(100)).subarray(0, 40)); // truncated
    // Plaintext to the TLS port every seventh time: the TLS layer refuses it before any frame.
    attacks.push(blast(port, c % 7 === 0 ? null : c % 2 === 0 ? root : stranger, chunks));
    if (attacks.length >= 25) await Promise.all(attacks.splice(0));
  }
  await Promise.all(attacks);

  // 3. Oversized length prefixes: refused from the prefix alone with FRAME_TOO_LARGE.
  //    A connection the node does not admit yet (the attacks' sockets above still count against
  //    the per-address budget until the node has seen them close) ends with nothing read: retry it.
  const huge = new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
  const admitted = (chunks: readonly Uint8Array[], tls: ClientTlsPem): Promise<string> =>
    eventually(
      async () => ((text) => (text === '' ? undefined : text))(await blast(port, tls, chunks)),
      30_000,
      'a connection the node admits',
    );
  const refusals = await Promise.all([admitted([huge], stranger), admitted([hello, huge], root)]);
  for (const text of refusals) t.match(text, /FRAME_TOO_LARGE/, 'oversized prefix refused');

  // 4. Slow loris: connections that dribble a Hello one byte at a time are cut at the deadline,
  //    and a partial frame announcing 4 MiB costs nothing until its bytes actually arrive.
  const loris = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      blast(
        port,
        i % 4 < 2 ? root : stranger,
        i % 2 === 0
          ? Array.from(hello.subarray(0, 12), (b) => Uint8Array.of(b))
          : [Uint8Array.of(0, 0x40, 0, 0), Uint8Array.of(1)],
        500,
      ),
    ),
  );
  t.equal(loris.length, 40, 'slow connections all ended');

  attacking = false;
  await goodLoop;
  t.equal(goodFailures, 0, 'the well-behaved client never failed');
  t.ok(goodAnswers > 0, 'and kept being answered during the attack');
  const status = await good.request({ kind: 'status' });
  t.equal(status.code, 'OK', 'node still answers status');
  t.ok(proc.running, 'node process still running');
  const rssAfter = rssBytes(proc.pid);
  t.ok(
    rssAfter < rssBefore + 150 * 1024 * 1024,
    `memory stayed bounded (${Math.round(rssBefore / 2 ** 20)} → ${Math.round(rssAfter / 2 ** 20)} MiB)`,
  );
});
