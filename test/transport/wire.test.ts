// The wire gateway: frames split and merge correctly under any chunking and are refused from the
// length prefix alone when too large; the codec round-trips every Raft message type and refuses
// anything that is not exactly a member of the Message union, without ever throwing.
import t from 'tap';
import fc from 'fast-check';
import { encodeFrame, FrameDecoder, frameHeaderBytes } from '../../src/transport/frame.js';
import { decodeMessage, decodePayload, encodeMessage, encodePayload } from '../../src/transport/codec.js';
import { isMessage, validateMessage } from '../../src/protocol/message-schema.js';
import { messageTypes } from '../../src/raft/messages.js';
import type { Message } from '../../src/raft/messages.js';
import { messageArb, messageArbs, plain } from './fixtures/arbitraries.js';

/** Deep equality that treats byte arrays by content, whatever their class (Buffer or not). */
function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(plain(a)) === JSON.stringify(plain(b));
}

/** Splits `bytes` at the given cut points (any order, duplicates allowed). */
function chunk(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.byteLength + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const point of [...points, bytes.byteLength]) {
    parts.push(bytes.subarray(at, point));
    at = point;
  }
  return parts;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

t.test('frames survive any chunking, several per chunk, and buffering stays bounded', async () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (payloads, cuts) => {
        const frameBytesMax = 300;
        const decoder = new FrameDecoder({ frameBytesMax });
        const stream = concat(payloads.map(encodeFrame));
        const out: Uint8Array[] = [];
        for (const part of chunk(stream, cuts)) {
          const pushed = decoder.push(part);
          if (!pushed.ok) return false;
          out.push(...pushed.value);
          if (decoder.bufferedBytes > frameHeaderBytes + frameBytesMax) return false;
        }
        return decoder.bufferedBytes === 0 && sameValue(out, payloads);
      },
    ),
  );
});

t.test('a frame of exactly frameBytesMax passes; one byte more is refused', async (t) => {
  const decoder = new FrameDecoder({ frameBytesMax: 16 });
  const exact = decoder.push(encodeFrame(new Uint8Array(16).fill(7)));
  t.ok(exact.ok);
  if (exact.ok) t.same(plain(exact.value), plain([new Uint8Array(16).fill(7)]));
  const over = decoder.push(encodeFrame(new Uint8Array(17)));
  t.same(over, { ok: false, error: { code: 'FRAME_TOO_LARGE', bytes: 17, frameBytesMax: 16 } });
});

t.test('an oversized prefix is refused before its payload; decoding stops', async (t) => {
  const decoder = new FrameDecoder({ frameBytesMax: 1024 });
  // Only the 4-byte prefix claiming 4 GiB: the refusal cannot depend on reading or allocating it.
  const prefix = decoder.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff));
  const error = { code: 'FRAME_TOO_LARGE', bytes: 0xffff_ffff, frameBytesMax: 1024 };
  t.same(prefix, { ok: false, error });
  t.equal(decoder.bufferedBytes, 0);
  const after = decoder.push(encodeFrame(Uint8Array.of(1)));
  t.equal(after.ok, false, 'framing is lost after an oversized prefix; the connection must close');
});

t.test('a prefix may arrive byte by byte; a good frame before it is still delivered', async (t) => {
  const decoder = new FrameDecoder({ frameBytesMax: 8 });
  const good = decoder.push(concat([encodeFrame(Uint8Array.of(9)), Uint8Array.of(0, 0)]));
  t.same(good.ok ? plain(good.value) : good, plain([Uint8Array.of(9)]));
  t.equal(decoder.push(Uint8Array.of(1)).ok, true);
  const last = decoder.push(Uint8Array.of(0));
  t.equal(last.ok ? 'ok' : last.error.code, 'FRAME_TOO_LARGE');
  if (!last.ok) t.equal(last.error.bytes, 256);
});

t.test('zero-length frames and empty chunks are fine', async (t) => {
  const decoder = new FrameDecoder({ frameBytesMax: 0 });
  t.same(decoder.push(new Uint8Array(0)), { ok: true, value: [] });
  const empty = encodeFrame(new Uint8Array(0));
  const two = decoder.push(concat([empty, empty]));
  t.same(two.ok ? two.value.length : -1, 2);
});

t.test('emitted payloads are copies that later chunks cannot overwrite', async (t) => {
  const decoder = new FrameDecoder({ frameBytesMax: 8 });
  const buffer = encodeFrame(Uint8Array.of(1, 2, 3));
  const got = decoder.push(buffer);
  buffer.fill(0);
  t.same(got.ok ? plain(got.value) : got, plain([Uint8Array.of(1, 2, 3)]));
});

t.test('garbage never throws out of the frame decoder', async () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (chunks) => {
      const decoder = new FrameDecoder({ frameBytesMax: 64 });
      for (const part of chunks) {
        const pushed = decoder.push(part);
        if (!pushed.ok && pushed.error.code !== 'FRAME_TOO_LARGE') return false;
        if (decoder.bufferedBytes > frameHeaderBytes + 64) return false;
      }
      return true;
    }),
  );
});

t.test('every message type round-trips through the codec', async (t) => {
  // The arbitrary table is keyed by MessageType, so a new type must be added there to compile.
  t.same(Object.keys(messageArbs).sort(), [...messageTypes].sort());
  for (const type of messageTypes) {
    fc.assert(
      fc.property(messageArbs[type], (message) => {
        const decoded = decodeMessage(encodeMessage(message));
        return decoded.ok && sameValue(decoded.value, message);
      }),
      { numRuns: 200 },
    );
  }
});

t.test('decoded entry data is a private copy of the frame bytes', async (t) => {
  const withData = {
    type: 'AppendEntries',
    from: 'n1',
    to: 'n2',
    term: 1,
    prevIndex: 0,
    prevTerm: 0,
    entries: [{ term: 1, index: 1, kind: 'command', data: Uint8Array.of(5, 6, 7) }],
    commit: 0,
  } as unknown as Message;
  const payload = encodeMessage(withData);
  const decoded = decodeMessage(payload);
  payload.fill(0);
  t.ok(decoded.ok);
  if (decoded.ok && decoded.value.type === 'AppendEntries') {
    const entry = decoded.value.entries[0];
    t.same(entry?.kind === 'command' ? Array.from(entry.data) : null, [5, 6, 7]);
    t.equal(entry?.kind === 'command' ? entry.data.constructor : null, Uint8Array, 'a plain Uint8Array');
  }
});

/** A valid message of each type to mutate, as a plain mutable record. */
function sampleOf(type: Message['type']): Record<string, unknown> {
  const candidates = fc.sample(messageArbs[type], { numRuns: 50, seed: 7 });
  // Prefer a sample with entries / bytes so nested fields exist to break.
  const withEntries = (m: Message): boolean => m.type !== 'AppendEntries' || m.entries.length > 0;
  const best = candidates.find(withEntries) ?? candidates[0];
  return structuredClone(best) as unknown as Record<string, unknown>;
}

/** Values of the wrong type for any field (each field's schema refuses at least one of them). */
const wrongValues: readonly unknown[] = [
  undefined,
  null,
  -1,
  1.5,
  2 ** 53,
  'x'.repeat(300),
  [],
  {},
  true,
  new Uint8Array(1),
];

t.test('validation refuses missing, unknown and mistyped fields of every type', async (t) => {
  for (const type of messageTypes) {
    const sample = sampleOf(type);
    t.equal(validateMessage(sample), null, `${type} sample is valid`);
    t.not(validateMessage({ ...sample, extra: 1 }), null, `${type} with an unknown field`);
    for (const field of Object.keys(sample)) {
      const missing = { ...sample };
      delete missing[field];
      const bad = validateMessage(missing);
      const expectedPath = field === 'type' ? '$.type' : `$.${field}`;
      t.equal(bad?.path, expectedPath, `${type} without ${field}`);
      const refusedWith = (v: unknown): boolean => validateMessage({ ...sample, [field]: v }) !== null;
      const refused = wrongValues.filter(refusedWith);
      // null is legal for nullable fields; everything else is refused for every field.
      t.ok(refused.length >= wrongValues.length - 2, `${type}.${field} refuses wrong types`);
      t.ok(refusedWith({ nested: true }), `${type}.${field} refuses an object`);
    }
  }
});

t.test('validation refuses specific malformed values', async (t) => {
  const ae = sampleOf('AppendEntries');
  const first = (ae['entries'] as Record<string, unknown>[])[0] as Record<string, unknown>;
  const firstTerm = first['term'] as number;
  const firstIndex = first['index'] as number;
  const entryHead = { term: firstTerm, index: firstIndex };
  const withEntry = (entry: unknown): unknown => ({ ...ae, entries: [entry] });
  const snap = sampleOf('InstallSnapshot');
  const withConf = (voters: string[], learners: string[], addresses?: readonly object[]): unknown => ({
    ...snap,
    meta: {
      ...(snap['meta'] as object),
      conf: addresses === undefined ? { voters, learners } : { voters, learners, addresses },
    },
  });
  const address = (node: string): object => ({ node, peer: 'h:1', client: 'h:2' });
  const polluted = Object.assign(Object.create({ polluted: true }) as object, ae);
  type Case = { readonly name: string; readonly value: unknown; readonly path: string };
  const cases: readonly Case[] = [
    { name: 'not an object', value: [1, 2], path: '$' },
    { name: 'unknown type', value: { ...ae, type: 'Gossip' }, path: '$.type' },
    { name: 'invalid node id', value: { ...ae, from: 'has space' }, path: '$.from' },
    { name: 'empty node id', value: { ...ae, to: '' }, path: '$.to' },
    { name: 'negative term', value: { ...ae, term: -1 }, path: '$.term' },
    { name: 'fractional commit', value: { ...ae, commit: 0.5 }, path: '$.commit' },
    { name: 'unsafe integer', value: { ...ae, prevIndex: 2 ** 53 }, path: '$.prevIndex' },
    { name: 'NaN', value: { ...ae, commit: Number.NaN }, path: '$.commit' },
    { name: 'sent to itself', value: { ...ae, to: ae['from'] }, path: '$.to' },
    {
      name: 'unknown entry kind',
      value: withEntry({ ...first, kind: 'blob' }),
      path: '$.entries[0].kind',
    },
    {
      name: 'entry extra field',
      value: withEntry({ ...first, extra: 1 }),
      path: '$.entries[0].extra',
    },
    {
      name: 'command data not bytes',
      value: withEntry({ ...entryHead, kind: 'command', data: [1, 2] }),
      path: '$.entries[0].data',
    },
    {
      name: 'unknown conf change',
      value: withEntry({ ...entryHead, kind: 'config', change: { type: 'addVoter', node: 'n9' } }),
      path: '$.entries[0].change.type',
    },
    {
      name: 'conf change bad node',
      value: withEntry({ ...entryHead, kind: 'config', change: { type: 'removeNode', node: '' } }),
      path: '$.entries[0].change.node',
    },
    {
      name: 'entries with a gap',
      value: withEntry({ ...first, index: firstIndex + 1 }),
      path: '$.entries[0].index',
    },
    {
      name: 'entry term above message term',
      value: withEntry({ ...first, term: (ae['term'] as number) + 1 }),
      path: '$.entries[0].term',
    },
    {
      name: 'entry term below prevTerm',
      value: { ...ae, prevTerm: firstTerm + 1 },
      path: '$.entries[0].term',
    },
    { name: 'entries not an array', value: { ...ae, entries: { 0: first } }, path: '$.entries' },
    { name: 'duplicate voter', value: withConf(['a', 'a'], []), path: '$.meta.conf' },
    { name: 'voter also learner', value: withConf(['a'], ['a']), path: '$.meta.conf' },
    {
      name: 'addresses of a non-member',
      value: withConf(['a'], [], [{ node: 'b', peer: 'h:1', client: 'h:2' }]),
      path: '$.meta.conf.addresses[0].node',
    },
    {
      name: 'addresses twice for one member',
      value: withConf(['a'], [], [address('a'), address('a')]),
      path: '$.meta.conf.addresses[1].node',
    },
    {
      name: 'an address without its client',
      value: withConf(['a'], [], [{ node: 'a', peer: 'h:1' }]),
      path: '$.meta.conf.addresses[0].client',
    },
    {
      name: 'an unknown conf field',
      value: { ...snap, meta: { ...(snap['meta'] as object), conf: { voters: ['a'], learners: [], extra: 1 } } },
      path: '$.meta.conf.extra',
    },
    {
      name: 'chunk past totalBytes',
      value: { ...snap, offset: snap['totalBytes'], data: Uint8Array.of(1) },
      path: '$.data',
    },
    {
      name: 'context too long',
      value: { ...sampleOf('ReadIndex'), context: 'c'.repeat(257) },
      path: '$.context',
    },
    { name: 'prototype-bearing object', value: polluted, path: '$' },
  ];
  for (const c of cases) {
    const bad = validateMessage(c.value);
    t.equal(bad?.path, c.path, c.name);
    t.notOk(isMessage(c.value), c.name);
  }
});

t.test('malformed MessagePack is an error value, never an exception', async (t) => {
  const good = encodeMessage(sampleOf('TimeoutNow') as unknown as Message);
  type Case = { readonly name: string; readonly bytes: Uint8Array; readonly code: string };
  const cases: readonly Case[] = [
    { name: 'the 0xC1 sentinel byte', bytes: Uint8Array.of(0xc1), code: 'INVALID_MESSAGE' },
    { name: 'empty payload', bytes: new Uint8Array(0), code: 'INVALID_MSGPACK' },
    { name: 'truncated', bytes: good.subarray(0, good.byteLength - 1), code: 'INVALID_MSGPACK' },
    { name: 'a bare number', bytes: encodePayload(7), code: 'INVALID_MESSAGE' },
    { name: 'a date extension', bytes: encodePayload(new Date(0)), code: 'INVALID_MESSAGE' },
  ];
  for (const c of cases) {
    const decoded = decodeMessage(c.bytes);
    t.equal(decoded.ok ? 'ok' : decoded.error.code, c.code, c.name);
  }
  t.equal(decodePayload(Uint8Array.of(0x92, 0x01)).ok, false, 'array header promising more items');
});

t.test('fuzz: random or mutated bytes never throw nor yield an invalid message', async () => {
  const check = (bytes: Uint8Array): boolean => {
    const decoded = decodeMessage(bytes);
    if (!decoded.ok) return true;
    // Anything accepted must be a valid message that re-encodes to an equal message.
    const again = decodeMessage(encodeMessage(decoded.value));
    return isMessage(decoded.value) && again.ok && sameValue(again.value, decoded.value);
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check), { numRuns: 2000 });
  const operation = fc.constantFrom('set', 'insert', 'delete');
  const edit = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), operation);
  fc.assert(
    fc.property(messageArb, fc.array(edit, { minLength: 1, maxLength: 4 }), (message, edits) => {
      const bytes = Array.from(encodeMessage(message));
      for (const [at, value, op] of edits) {
        const i = at % (bytes.length + 1);
        if (op === 'set') bytes[i % bytes.length] = value;
        else if (op === 'insert') bytes.splice(i, 0, value);
        else bytes.splice(i, 1);
      }
      return check(Uint8Array.from(bytes));
    }),
    { numRuns: 2000 },
  );
});
