// cluster.yml's per-node `http: HOST:PORT`: parsed, checked like the other addresses, passed to the
// node (and to its peers, who name it in /v1/members and 503s), and given by the local cluster files.
import t from 'tap';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadClusterConfig, parseClusterConfig } from '../../src/config/cluster-config.js';
import { nodeServerOptions } from '../../src/embed/embed.js';
import { allocateLocalNodes, writeLocalClusterFile } from '../../src/config/local-cluster-file.js';
import { nodeId } from '../../src/raft/types.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

const twoNodes = (n1Http: string, n2Http: string | null): string =>
  [
    'nodes:',
    '  - id: n1',
    '    peer: 127.0.0.1:7101',
    '    client: 127.0.0.1:7201',
    `    http: ${n1Http}`,
    '  - id: n2',
    '    peer: 127.0.0.1:7102',
    '    client: 127.0.0.1:7202',
    ...(n2Http === null ? [] : [`    http: ${n2Http}`]),
    '',
  ].join('\n');

t.test('http is optional per node and reaches the node and its peers', async (t) => {
  const parsed = parseClusterConfig(twoNodes('127.0.0.1:7301', null), '/etc/raftlock/cluster.yml');
  if (!parsed.ok) throw new Error(parsed.error.message);
  const [n1, n2] = parsed.value.nodes;
  t.same(n1?.http, { host: '127.0.0.1', port: 7301 });
  t.equal(n2?.http, undefined, 'absent: no HTTP server');
  const options1 = nodeServerOptions({ config: parsed.value, nodeId: nodeId('n1') });
  t.same(options1.httpListen, { host: '127.0.0.1', port: 7301 });
  const options2 = nodeServerOptions({ config: parsed.value, nodeId: nodeId('n2') });
  t.equal(options2.httpListen, undefined);
  t.same(
    options2.members.find((m) => m.id === 'n1')?.http,
    { host: '127.0.0.1', port: 7301 },
    'peers know where n1 serves HTTP',
  );
});

t.test('a bad or clashing http address is refused with where and why', async (t) => {
  const bad = parseClusterConfig(twoNodes('localhost', null), '/x/cluster.yml');
  t.notOk(bad.ok);
  t.match(
    bad.ok ? '' : bad.error.message,
    /cluster\.yml:5:\d+: nodes\[0\]\.http must be host:port with a port from 1 to 65535, got "localhost"/,
  );
  const clash = parseClusterConfig(twoNodes('127.0.0.1:7202', null), '/x/cluster.yml');
  t.notOk(clash.ok);
  t.match(clash.ok ? '' : clash.error.message, /address 127\.0\.0\.1:7202 is used twice \(n1\.http and n2\.client\)/);
});

t.test("the repository's cluster.yml serves HTTP on 7301-7303; local cluster files on request", async (t) => {
  const loaded = await loadClusterConfig(join(repoRoot, 'cluster.yml'));
  if (!loaded.ok) throw new Error(loaded.error.message);
  t.same(
    loaded.value.nodes.map((n) => n.http?.port),
    [7301, 7302, 7303],
  );
  const dir = t.testdir({});
  const plain = await allocateLocalNodes(2);
  t.equal(plain[0]?.httpPort, undefined, 'not unless asked');
  const nodes = await allocateLocalNodes(2, 1, { http: true });
  const file = await loadClusterConfig(
    writeLocalClusterFile(dir, nodes, { clusterId: 'with-http', security: 'insecure' }),
  );
  t.same(
    file.ok ? file.value.nodes.map((n) => n.http?.port) : file.error.message,
    nodes.map((n) => n.httpPort),
  );
});
