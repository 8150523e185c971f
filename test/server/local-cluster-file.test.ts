// The cluster file the benchmarks and end-to-end tests start local nodes from: it loads as a
// valid cluster.yml with the ports handed out, the cluster id and the timing asked for.
import t from 'tap';
import { join } from 'node:path';
import { loadClusterConfig } from '../../src/server/cluster-config.js';
import { allocateLocalNodes, writeLocalClusterFile } from '../../src/server/local-cluster-file.js';

t.test('a local cluster file loads with the allocated ports and the options given', async (t) => {
  const dir = t.testdir({});
  const nodes = await allocateLocalNodes(3, 4);
  t.same(
    nodes.map((n) => n.id),
    ['n4', 'n5', 'n6'],
  );
  const ports = nodes.flatMap((n) => [n.peerPort, n.clientPort]);
  t.equal(new Set(ports).size, 6, 'every port distinct');
  const file = writeLocalClusterFile(dir, [...nodes, { id: 'n7', peerPort: 1, clientPort: 2, join: true }], {
    clusterId: 'local-test',
    tick: '25ms',
    election: 12,
    snapshotEntries: 500,
    ttlMin: '2s',
  });
  const loaded = await loadClusterConfig(file);
  if (!loaded.ok) throw new Error(loaded.error.message);
  const config = loaded.value;
  t.equal(config.cluster.id, 'local-test');
  t.same(
    config.nodes.map((n) => [n.id, n.peer.port, n.client.port, n.join]),
    [...nodes.map((n) => [n.id, n.peerPort, n.clientPort, false]), ['n7', 1, 2, true]],
  );
  t.equal(config.nodes[0]?.dataDir, join(dir, 'data', 'n4'));
  t.equal(config.timing.tickMs, 25);
  t.equal(config.timing.electionTicks, 12);
  t.equal(config.snapshot.entries, 500);
  t.equal(config.sessions.ttlMinMs, 2000);

  // One file per node, as the chaos cluster writes them (each node sees its own addresses).
  const own = writeLocalClusterFile(dir, nodes, { clusterId: 'local-test', fileName: 'cluster-n4.yml' });
  t.equal(own, join(dir, 'cluster-n4.yml'));
  const ownLoaded = await loadClusterConfig(own);
  t.same(ownLoaded.ok ? ownLoaded.value.nodes.map((n) => n.id) : ownLoaded.error.message, ['n4', 'n5', 'n6']);
});

t.test('a local cluster file is insecure on 127.0.0.1 unless given a PKI directory', async (t) => {
  const dir = t.testdir({});
  const nodes = await allocateLocalNodes(1);
  const plain = await loadClusterConfig(writeLocalClusterFile(dir, nodes, { clusterId: 'plain' }));
  t.equal(plain.ok ? plain.value.security.insecure : null, true, 'insecure by default (tests, benchmarks)');
  const pki = join(dir, 'my pki');
  const file = writeLocalClusterFile(dir, nodes, { clusterId: 'tls', fileName: 'tls.yml', security: { pki } });
  const secure = await loadClusterConfig(file);
  t.same(secure.ok ? [secure.value.security.insecure, secure.value.security.pkiDir] : null, [false, pki]);
});
