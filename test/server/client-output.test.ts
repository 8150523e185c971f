// A client connection's output (src/server/client-output.ts): one buffer per turn, handed to the
// socket only while it drains, bounded in bytes (socket buffer + what waits), and dropped at
// once when a client that does not read goes over the bound.
import { EventEmitter } from 'node:events';
import t from 'tap';
import { ClientOutput } from '../../src/server/client-output.js';
import type { FramedSocket } from '../../src/transport/framed-socket.js';
import { decodePayload } from '../../src/transport/codec.js';
import { FrameDecoder } from '../../src/transport/frame.js';

/** A socket whose kernel never takes anything: what it is handed stays in its buffer until `drainAll`. */
class StuckSocket {
  readonly socket = new EventEmitter();
  readonly handed: Uint8Array[] = [];
  bufferedBytes = 0;
  isFinished = false;
  writeFrame(bytes: Uint8Array): boolean {
    this.handed.push(bytes);
    this.bufferedBytes += bytes.byteLength;
    return this.bufferedBytes < 16 * 1024;
  }
  drainAll(): void {
    this.bufferedBytes = 0;
    this.socket.emit('drain');
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function framesIn(buffers: readonly Uint8Array[]): unknown[] {
  const decoder = new FrameDecoder({ frameBytesMax: 1 << 24 });
  const values: unknown[] = [];
  for (const buffer of buffers) {
    const pushed = decoder.push(Buffer.from(buffer));
    if (!pushed.ok) throw new Error('bad frames');
    for (const payload of pushed.value) {
      const decoded = decodePayload(payload);
      if (!decoded.ok) throw new Error('bad payload');
      values.push(decoded.value);
    }
  }
  return values;
}

function setup(bytesMax: number) {
  const stuck = new StuckSocket();
  const overflows: number[] = [];
  const output = new ClientOutput(stuck as unknown as FramedSocket, bytesMax, (unread) => overflows.push(unread));
  return { stuck, overflows, output };
}

void t.test('the frames of one turn reach the socket as one buffer, in order', async (t) => {
  const { stuck, output } = setup(1 << 20);
  for (let i = 0; i < 5; i++) output.write({ n: i });
  t.equal(stuck.handed.length, 0, 'nothing before the turn ends');
  await tick();
  t.equal(stuck.handed.length, 1);
  t.same(
    framesIn(stuck.handed),
    [0, 1, 2, 3, 4].map((n) => ({ n })),
  );
});

void t.test('while the socket does not drain, each turn waits as one buffer and goes out on drain', async (t) => {
  const { stuck, output } = setup(64 << 20);
  const big = new Uint8Array(300 * 1024);
  output.write({ big });
  await tick();
  t.equal(stuck.handed.length, 1, 'the first turn went out (the socket was empty)');
  for (let turn = 0; turn < 3; turn++) {
    for (let i = 0; i < 2000; i++) output.write({ turn, i });
    await tick();
  }
  t.equal(stuck.handed.length, 1, 'nothing more while the socket holds more than its low mark');
  t.ok(output.unreadBytes > big.byteLength, 'the waiting frames count as unread');
  stuck.drainAll();
  const sent = framesIn(stuck.handed.slice(1));
  t.equal(sent.length, 6000, 'everything went out on drain');
  t.same(sent[0], { turn: 0, i: 0 });
  t.same(sent[5999], { turn: 2, i: 1999 });
  t.ok(stuck.handed.length - 1 <= 3 * 2, `handed over in ${stuck.handed.length - 1} buffers, not 6000 frames`);
});

void t.test('over the bound: told once, everything waiting dropped, nothing more encoded', async (t) => {
  const { stuck, overflows, output } = setup(1 << 20);
  stuck.bufferedBytes = 512 * 1024;
  let accepted = 0;
  for (let i = 0; i < 100; i++) if (output.write({ chunk: new Uint8Array(16 * 1024) })) accepted += 1;
  t.ok(accepted < 100 && accepted > 20, `${accepted} frames accepted before the bound`);
  t.equal(overflows.length, 1, 'told once');
  t.ok((overflows[0] ?? 0) > 1 << 20, `with the unread count (${overflows[0]})`);
  t.equal(output.unreadBytes, stuck.bufferedBytes, 'what waited in the node is gone; only the socket buffer is left');
  await tick();
  t.equal(stuck.handed.length, 0, 'nothing handed to the socket after the overflow');
  // Breaking check: without the drop, unreadBytes stays above the bound.
});

void t.test('flushAll hands everything over (before a final Error frame)', async (t) => {
  const { stuck, output } = setup(1 << 20);
  stuck.bufferedBytes = 512 * 1024;
  output.write({ a: 1 });
  await tick();
  output.write({ b: 2 });
  t.equal(stuck.handed.length, 0);
  output.flushAll();
  t.same(framesIn(stuck.handed), [{ a: 1 }, { b: 2 }]);
});

void t.test('an urgent frame goes to the socket at once, behind what the connection queued before it', async (t) => {
  const { stuck, output } = setup(1 << 20);
  output.write({ answer: 1 });
  output.write({ push: 'hold ended' }, true);
  t.same(framesIn(stuck.handed), [{ answer: 1 }, { push: 'hold ended' }], 'handed over before the turn ends');
  output.write({ later: 2 });
  t.equal(stuck.handed.length, 1, 'the rest of the turn still waits for its end');
  await tick();
  t.same(framesIn(stuck.handed.slice(1)), [{ later: 2 }]);
});
