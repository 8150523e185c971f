// The hand-written protobuf codec behind the gRPC etcd client of the benchmark: field numbers,
// wire types and 64-bit varints (etcd's lease ids are often above 2^53) must survive a round trip,
// and a truncated or foreign message must be refused rather than misread.
import fc from 'fast-check';
import t from 'tap';
import { bytesField, bytesOf, decodeMessage, encodeMessage, varintField, varintOf } from '../../bench/etcd/protobuf.js';

void t.test('known encodings: a LockRequest and a LeaseGrantRequest as protobuf writes them', async (t) => {
  // LockRequest { name: "a", lease: 300 }: field 1 bytes, field 2 varint 300 = 0xac 0x02.
  t.same(
    [
      ...encodeMessage([
        [1, bytesField('a')],
        [2, varintField(300)],
      ]),
    ],
    [0x0a, 0x01, 0x61, 0x10, 0xac, 0x02],
  );
  // LeaseGrantRequest { TTL: 10 }.
  t.same([...encodeMessage([[1, varintField(10)]])], [0x08, 0x0a]);
  // A lease id above 2^53 keeps every bit.
  const id = 7_587_890_123_456_789_012n;
  t.equal(varintOf(decodeMessage(encodeMessage([[2, varintField(id)]])), 2), id);
});

void t.test('random messages round-trip', async (t) => {
  const field = fc.oneof(
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(varintField),
    fc.uint8Array({ maxLength: 300 }).map((bytes) => bytesField(Buffer.from(bytes))),
  );
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.tuple(fc.integer({ min: 1, max: 2000 }), field), { selector: ([n]) => n, maxLength: 8 }),
      (fields) => {
        const decoded = decodeMessage(encodeMessage(fields));
        if (decoded.size !== fields.length) return false;
        return fields.every(([n, f]) =>
          f.kind === 'varint' ? varintOf(decoded, n) === f.value : bytesOf(decoded, n).equals(f.value),
        );
      },
    ),
  );
  t.pass('every random message decoded to what was encoded');
});

void t.test('absent fields read as protobuf defaults; bad input is refused', async (t) => {
  const empty = decodeMessage(Buffer.alloc(0));
  t.equal(varintOf(empty, 2), 0n);
  t.equal(bytesOf(empty, 2).length, 0);
  t.throws(() => decodeMessage(Buffer.from([0x10, 0x80])), /truncated varint/);
  t.throws(() => decodeMessage(Buffer.from([0x0a, 0x05, 0x61])), /truncated bytes field/);
  t.throws(() => decodeMessage(Buffer.from([0x0d, 0, 0, 0, 0])), /unexpected wire type 5/);
  t.throws(() => varintOf(decodeMessage(encodeMessage([[1, bytesField('x')]])), 1), /field 1 is not a varint/);
  t.throws(() => encodeMessage([[1, varintField(-1n)]]), /negative/);
});
