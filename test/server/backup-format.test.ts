// The backup file refuses every kind of damage with the offset and the check that failed.
import t from 'tap';
import { asIndex, asTerm } from '../../src/raft/casts.js';
import { nodeId } from '../../src/raft/types.js';
import { decodeBackup, encodeBackup } from '../../src/server/backup-format.js';

const header = {
  clusterId: 'prod-1',
  nodeId: nodeId('n2'),
  index: asIndex(42),
  term: asTerm(3),
  conf: { voters: [nodeId('n1'), nodeId('n2'), nodeId('n3')], learners: [] },
  createdAt: '2026-01-01T00:00:00.000Z',
};
const snapshot = new Uint8Array(Array.from({ length: 300 }, (_, i) => i % 251));
const file = encodeBackup(header, snapshot);

t.test('a whole file decodes to its header and snapshot', async (t) => {
  const decoded = decodeBackup(file);
  t.ok(decoded.ok);
  if (!decoded.ok) return;
  t.same(decoded.value.header, { ...header, byteLength: 300 });
  t.same(Buffer.from(decoded.value.snapshot), Buffer.from(snapshot));
});

t.test("the membership's addresses of members added with them survive the file", async (t) => {
  const addresses = [{ node: nodeId('n4'), peer: '10.0.0.4:7101', client: '10.0.0.4:7201' }];
  const conf = { voters: header.conf.voters, learners: [nodeId('n4')], addresses };
  const decoded = decodeBackup(encodeBackup({ ...header, conf }, snapshot));
  t.same(decoded.ok ? decoded.value.header.conf : decoded.error, conf);
  const bad = decodeBackup(
    encodeBackup({ ...header, conf: { ...conf, addresses: [{ node: 'n 4' }] } as never }, snapshot),
  );
  t.match(bad.ok ? 'accepted' : bad.error, /header\.conf\.addresses/);
});

t.test('each kind of damage is named with its offset', async (t) => {
  const error = (bytes: Uint8Array): string => {
    const decoded = decodeBackup(bytes);
    return decoded.ok ? 'accepted' : decoded.error;
  };
  const flip = (at: number): Uint8Array => {
    const copy = new Uint8Array(file);
    copy[at] = (copy[at] ?? 0) ^ 1;
    return copy;
  };
  const headerLength = new DataView(file.buffer).getUint32(12);
  t.match(error(file.subarray(0, 10)), /^truncated: 10 bytes/);
  t.match(error(flip(0)), /^offset 0: not a raftlock backup/);
  t.match(error(flip(11)), /^offset 8: format version 0; this raftlock reads version 1/);
  t.match(error(flip(20)), new RegExp(`^offset ${16 + headerLength}: header checksum mismatch`));
  t.match(error(flip(16 + headerLength + 4 + 100)), new RegExp(`^offset ${file.length - 4}: file checksum mismatch`));
  t.match(error(flip(file.length - 1)), /file checksum mismatch/);
  t.match(error(file.subarray(0, file.length - 1)), /^truncated: \d+ bytes, the header promises \d+/);
  t.match(error(new Uint8Array([...file, 0])), new RegExp(`^offset ${file.length}: 1 unexpected bytes`));
});
