// The embedding snippet of docs/operations.md, as written there: load the file, start a node,
// connect a client in one line.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { connect, loadClusterConfig, nodeId, startNode } from '../../src/index.js';
import { freePort } from '../../src/config/local-cluster-file.js';

void t.test('startNode with a loaded cluster.yml, as docs/operations.md shows', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'cluster.yml');
  const [peer, client] = [await freePort(), await freePort()];
  writeFileSync(
    file,
    `cluster:\n  id: embed-doc\nnodes:\n  - id: n1\n    peer: 127.0.0.1:${peer}\n    client: 127.0.0.1:${client}\n    data: ./n1\nsecurity:\n  insecure: true\n`,
  );
  // --- the documented code ---
  const loaded = await loadClusterConfig(file);
  if (!loaded.ok) throw new Error(loaded.error.message);
  const node = await startNode({ config: loaded.value, nodeId: nodeId('n1') });
  const { host, port } = node.clientAddress;
  const kv = await connect({ endpoints: [`${host}:${port}`], tls: false });
  // ---
  t.teardown(() => node.close());
  await kv.kv.put('k', 'v');
  t.equal(new TextDecoder().decode((await kv.kv.get('k'))?.value), 'v');
  await kv.close();
});
