// The cluster file the benchmarks, the chaos run and the end-to-end tests start local nodes from:
// it loads as a valid cluster.yml with the ports handed out, the cluster id, the timing and the
// security asked for; its PKI holds what a secure node and root need.
import t from 'tap';
import { join } from 'node:path';
import { loadClusterConfig } from '../../src/config/cluster-config.js';
import { nodeSecurityFor } from '../../src/server/node-security.js';
import { identityOfCertificatePem } from '../../src/security/identity.js';
import {
  allocateLocalNodes,
  ensureLocalClusterPki,
  writeLocalClusterFile,
} from '../../src/config/local-cluster-file.js';

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
    security: 'insecure',
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
  const own = writeLocalClusterFile(dir, nodes, {
    clusterId: 'local-test',
    fileName: 'cluster-n4.yml',
    security: 'insecure',
  });
  t.equal(own, join(dir, 'cluster-n4.yml'));
  const ownLoaded = await loadClusterConfig(own);
  t.same(ownLoaded.ok ? ownLoaded.value.nodes.map((n) => n.id) : ownLoaded.error.message, ['n4', 'n5', 'n6']);
});

t.test('a local cluster file is secure with a PKI directory, insecure on 127.0.0.1 when asked', async (t) => {
  const dir = t.testdir({});
  const nodes = await allocateLocalNodes(2);
  const plain = await loadClusterConfig(
    writeLocalClusterFile(dir, nodes, { clusterId: 'plain', security: 'insecure' }),
  );
  t.equal(plain.ok ? plain.value.security.insecure : null, true, 'insecure when asked');
  const pki = join(dir, 'my pki');
  const root = await ensureLocalClusterPki(
    pki,
    nodes.map((n) => n.id),
  );
  const file = writeLocalClusterFile(dir, nodes, { clusterId: 'tls', fileName: 'tls.yml', security: { pki } });
  const secure = await loadClusterConfig(file);
  if (!secure.ok) throw new Error(secure.error.message);
  t.same([secure.value.security.insecure, secure.value.security.pkiDir], [false, pki]);
  // Every node of the file finds valid TLS material there, proving its own id.
  for (const node of nodes) {
    const listen = {
      peer: { host: '127.0.0.1', port: node.peerPort },
      client: { host: '127.0.0.1', port: node.clientPort },
    };
    const security = nodeSecurityFor(secure.value, node.id, { insecure: false, listen, nowMs: Date.now() });
    t.equal(
      security.ok && security.value.mode === 'tls'
        ? security.value.material.identity.kind
        : security.ok
          ? 'insecure'
          : security.error,
      'node',
      `${node.id} is secure`,
    );
  }
  t.same(identityOfCertificatePem(root.cert), { kind: 'user', user: 'root' }, "root's certificate for the clients");
  const again = await ensureLocalClusterPki(
    pki,
    nodes.map((n) => n.id),
  );
  t.same(again, root, 'a second call reuses what is there');
});
