// The evidence record's own format (src/storage/evidence.ts): a record with its batch's redo
// decodes to what was encoded, `redoFits` never admits a batch the record cannot hold, a record of
// the first version (no redo) still reads, and a damaged redo is refused with what is wrong.
import t from 'tap';
import fc from 'fast-check';
import { deepStrictEqual } from 'node:assert/strict';
import { Packr } from 'msgpackr';
import type { EvidenceRecord } from '../../src/storage/evidence.js';
import {
  decodeEvidence,
  encodeEvidence,
  evidenceBlockBytes,
  evidenceRecordBytesMax,
  redoFits,
} from '../../src/storage/evidence.js';
import { sealRecord } from '../../src/storage/records.js';
import type { WriteOp } from '../../src/storage/write-plan.js';
import type { LogMark } from '../../src/node/log-mark.js';
import type { NodeId } from '../../src/raft/types.js';

const count = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const markArb: fc.Arbitrary<LogMark> = fc.record({
  generation: count,
  term: count,
  vote: fc.option(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/), { nil: null }) as fc.Arbitrary<NodeId | null>,
  commit: count,
  lastIndex: count,
  lastTerm: count,
  snapshotIndex: count,
});
const opArb: fc.Arbitrary<WriteOp> = fc.oneof(
  fc.record({
    type: fc.constant('put' as const),
    key: fc.string({ minLength: 1, maxLength: 40 }),
    value: fc.uint8Array({ maxLength: 3000 }).map((bytes) => Buffer.from(bytes)),
  }),
  fc.record({ type: fc.constant('del' as const), key: fc.string({ minLength: 1, maxLength: 40 }) }),
);

t.test('a record whose redo fits decodes to what was encoded, in whole sectors (property)', async (t) => {
  let fitted = 0;
  fc.assert(
    fc.property(markArb, fc.array(opArb, { maxLength: 12 }), (mark, ops) => {
      if (!redoFits(ops)) return;
      fitted++;
      const record: EvidenceRecord = { mark, redo: ops };
      const bytes = encodeEvidence(record);
      if (bytes.byteLength % evidenceBlockBytes !== 0 || bytes.byteLength > evidenceRecordBytesMax)
        throw new Error(`a record of ${bytes.byteLength} bytes`);
      const decoded = decodeEvidence(bytes);
      if (!decoded.ok) throw new Error(decoded.error);
      // Thrown, not t.same: a mismatch fails fc.assert, which prints its seed and the shrunk case.
      const plain = (list: readonly WriteOp[] | null): unknown =>
        list?.map((op) => (op.type === 'put' ? [op.key, [...op.value]] : [op.key]));
      deepStrictEqual(decoded.value.mark, { ...mark }); // fc.record makes null-prototype objects
      deepStrictEqual(plain(decoded.value.redo), plain(ops));
    }),
    { numRuns: 200 },
  );
  t.pass('every record that fits decoded to what was encoded');
  t.ok(fitted > 50, `most generated batches fit (${fitted} of 200)`);
});

t.test('redoFits refuses a batch the record cannot hold; such a batch is never encoded', async (t) => {
  const mark: LogMark = {
    generation: 1,
    term: 1,
    vote: null,
    commit: 0,
    lastIndex: 1,
    lastTerm: 1,
    snapshotIndex: 0,
  };
  const big: WriteOp[] = [{ type: 'put', key: 'e:1', value: Buffer.alloc(evidenceRecordBytesMax) }];
  t.equal(redoFits(big), false);
  t.throws(() => encodeEvidence({ mark, redo: big }), /exceeds/, 'encoding it anyway is a bug, not a torn copy');
  // Just under the bound: the estimate's margin keeps what it admits encodable.
  const near: WriteOp[] = [{ type: 'put', key: 'e:1', value: Buffer.alloc(evidenceRecordBytesMax - 300) }];
  t.equal(redoFits(near), true);
  t.ok(encodeEvidence({ mark, redo: near }).byteLength <= evidenceRecordBytesMax);
  // Many tiny ops: msgpack's per-op headers outweigh their keys and values, and the bound covers them.
  let admitted = 0;
  for (let n = 100; n <= 4000; n += 100) {
    const tiny: WriteOp[] = Array.from({ length: n }, (_, i) =>
      i % 2 === 0 ? { type: 'put', key: 'k', value: Buffer.alloc(1) } : { type: 'del', key: 'k' },
    );
    if (!redoFits(tiny)) continue;
    admitted++;
    t.doesNotThrow(() => encodeEvidence({ mark, redo: tiny }), `${n} tiny ops: admitted, and they fit`);
  }
  t.ok(admitted > 0 && admitted < 40, `some, not all, of the tiny batches are admitted (${admitted})`);
});

/** A copy laid out as the writer does, around a payload packed here. */
function copyOf(fields: unknown[]): Buffer {
  const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });
  const sealed = sealRecord('evidence', packr.pack(fields));
  const block = Buffer.alloc(evidenceBlockBytes);
  block.writeUInt32BE(sealed.byteLength, 0);
  sealed.copy(block, 4);
  return block;
}

t.test('a record of the first version (no redo) still reads; a damaged redo is refused', async (t) => {
  const first = decodeEvidence(copyOf([1, 7, 2, 'n1', 5, 6, 2, 0]));
  t.same(
    first.ok ? first.value : first.error,
    {
      mark: { generation: 7, term: 2, vote: 'n1', commit: 5, lastIndex: 6, lastTerm: 2, snapshotIndex: 0 },
      redo: null,
    },
    'version 1: the mark, and no redo',
  );
  const wrongShape = decodeEvidence(copyOf([2, 7, 2, 'n1', 5, 6, 2, 0, [['e:1']]]));
  t.same(wrongShape.ok ? 'decoded' : wrongShape.error, 'holds a redo op of the wrong shape');
  const notBytes = decodeEvidence(copyOf([2, 7, 2, 'n1', 5, 6, 2, 0, [['e:1', 42]]]));
  t.same(notBytes.ok ? 'decoded' : notBytes.error, 'holds a redo op whose value is not bytes');
  const unknownVersion = decodeEvidence(copyOf([3, 7, 2, 'n1', 5, 6, 2, 0, null]));
  t.same(
    unknownVersion.ok ? 'decoded' : unknownVersion.error,
    'is not an evidence record of a version this raftlock reads',
  );
});
