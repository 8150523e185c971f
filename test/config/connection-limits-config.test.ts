// cluster.yml's limits.connectionsPerSourceMax and limits.connectionsUnauthenticatedMax reach the
// node's connection budget, with the node's own defaults when omitted: without them a node run
// by `raftlock start` could never serve more than 64 clients from one address (a NAT, a proxy,
// the benchmark's thousands of waiters on 127.0.0.1).
import t from 'tap';
import { join } from 'node:path';
import { clusterDefaults, loadClusterConfig } from '../../src/config/cluster-config.js';
import { nodeServerOptions } from '../../src/embed/embed.js';
import { defaultConnectionLimits } from '../../src/server/server-connection.js';
import type { NodeId } from '../../src/raft/types.js';

const file = (extra: string): string => `cluster:
  id: t-1
nodes:
  - id: n1
    peer: 127.0.0.1:7001
    client: 127.0.0.1:7101
    data: ./data/n1
security:
  insecure: true
${extra}`;

t.test('the per-source and unauthenticated connection limits are read and reach the node', async (t) => {
  const dir = t.testdir({
    'cluster.yml': file('limits:\n  connectionsPerSourceMax: 20000\n  connectionsUnauthenticatedMax: 300\n'),
  });
  const loaded = await loadClusterConfig(join(dir, 'cluster.yml'));
  if (!loaded.ok) throw new Error(loaded.error.message);
  const options = nodeServerOptions({ config: loaded.value, nodeId: 'n1' as NodeId });
  t.match(options.connectionLimits, { perSourceMax: 20_000, unauthenticatedMax: 300 });
});

t.test('omitted, they are the node defaults; zero is refused with where and why', async (t) => {
  t.equal(clusterDefaults.limits.connectionsPerSourceMax, defaultConnectionLimits.perSourceMax);
  t.equal(clusterDefaults.limits.connectionsUnauthenticatedMax, defaultConnectionLimits.unauthenticatedMax);
  const dir = t.testdir({ 'cluster.yml': file('limits:\n  connectionsPerSourceMax: 0\n') });
  const loaded = await loadClusterConfig(join(dir, 'cluster.yml'));
  t.notOk(loaded.ok);
  if (!loaded.ok) t.match(loaded.error.message, /limits\.connectionsPerSourceMax/);
});
