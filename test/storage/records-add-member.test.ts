// A member added with its addresses (addMember) keeps them through the log's encoding and through
// the stored snapshot's metadata; config entries written before addMember existed (the 5-element
// form) and snapshot metadata written before it carried addresses (the 7-item form) still read.
import t from 'tap';
import { Packr } from 'msgpackr';
import { asIndex, asTerm } from '../../src/raft/casts.js';
import { nodeId } from '../../src/raft/types.js';
import type { Entry } from '../../src/raft/types.js';
import { decodeEntry, decodeSnapshotMeta, encodeEntry, encodeSnapshotMeta } from '../../src/storage/records.js';

// The log's own packing (src/storage/records.ts), to write entries as older versions did.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });
const pack = (value: unknown): Buffer => packr.pack(value);

t.test('addMember round-trips with its addresses', async (t) => {
  const entry: Entry = {
    index: asIndex(7),
    term: asTerm(2),
    kind: 'config',
    change: { type: 'addMember', node: nodeId('n4'), peer: '10.0.0.4:7101', client: '10.0.0.4:7201' },
  };
  const decoded = decodeEntry(encodeEntry(entry));
  t.same(decoded, { ok: true, value: entry });
});

t.test('an old addLearner entry without addresses still reads', async (t) => {
  const old = pack([2, 7, 2, 'addLearner', 'n4']);
  t.same(decodeEntry(old), {
    ok: true,
    value: { term: 2, index: 7, kind: 'config', change: { type: 'addLearner', node: 'n4' } },
  });
});

t.test('an addMember without both addresses is refused', async (t) => {
  t.equal(decodeEntry(pack([2, 7, 2, 'addMember', 'n4', '10.0.0.4:7101'])).ok, false);
  t.equal(decodeEntry(pack([2, 7, 2, 'addMember', 'n4', 7101, '10.0.0.4:7201'])).ok, false);
  t.equal(decodeEntry(pack([2, 7, 2, 'addLearner', 'n4', 'x:1', 'y:2'])).ok, false);
});

t.test('snapshot metadata keeps the addresses of members added with them', async (t) => {
  const meta = {
    index: asIndex(40),
    term: asTerm(3),
    conf: {
      voters: [nodeId('n1'), nodeId('n2'), nodeId('n3')],
      learners: [nodeId('n4')],
      addresses: [{ node: nodeId('n4'), peer: '10.0.0.4:7101', client: '10.0.0.4:7201' }],
    },
    dataBytes: 10,
    chunkCount: 1,
    dataCrc: 7,
  };
  t.same(decodeSnapshotMeta(encodeSnapshotMeta(meta)), { ok: true, value: meta });
  const plain = { ...meta, conf: { voters: meta.conf.voters, learners: meta.conf.learners } };
  t.same(decodeSnapshotMeta(encodeSnapshotMeta(plain)), { ok: true, value: plain }, 'none: no addresses key');
});

t.test('snapshot metadata written before it carried addresses still reads; bad addresses are refused', async (t) => {
  t.same(decodeSnapshotMeta(pack([40, 3, ['n1'], ['n4'], 10, 1, 7])), {
    ok: true,
    value: { index: 40, term: 3, conf: { voters: ['n1'], learners: ['n4'] }, dataBytes: 10, chunkCount: 1, dataCrc: 7 },
  });
  t.equal(decodeSnapshotMeta(pack([40, 3, ['n1'], ['n4'], 10, 1, 7, [['n4', 'a:1']]])).ok, false);
  t.equal(decodeSnapshotMeta(pack([40, 3, ['n1'], ['n4'], 10, 1, 7, [['bad id', 'a:1', 'b:2']]])).ok, false);
  t.equal(decodeSnapshotMeta(pack([40, 3, ['n1'], ['n4'], 10, 1, 7, 'n4'])).ok, false);
});
