// cluster.yml's limits.connectionIdleTimeout and limits.frameDeadline reach the node: the first as
// the client connections' idle timeout after the Welcome, the second as the per-frame deadline of
// client connections and of peer links. Without them an operator could not change either from the
// cluster file (a client behind a slow link, or a site that wants idle connections gone sooner).
import t from 'tap';
import type { Test } from 'tap';
import { join } from 'node:path';
import { clusterDefaults, loadClusterConfig } from '../../src/config/cluster-config.js';
import { nodeServerOptions } from '../../src/embed/embed.js';
import { defaultConnectionLimits } from '../../src/server/server-connection.js';
import { defaultTcpTransportLimits } from '../../src/transport/tcp.js';
import type { NodeId } from '../../src/raft/types.js';

const file = (limits: string): string => `cluster:
  id: t-1
nodes:
  - id: n1
    peer: 127.0.0.1:7001
    client: 127.0.0.1:7101
security:
  insecure: true
limits:
${limits}`;

async function load(t: Test, limits: string): ReturnType<typeof loadClusterConfig> {
  const dir = t.testdir({ 'cluster.yml': file(limits) });
  return loadClusterConfig(join(dir, 'cluster.yml'));
}

t.test('durations under limits are read and reach the node', async (t) => {
  const loaded = await load(t, '  connectionIdleTimeout: 90s\n  frameDeadline: 2500ms\n  connectionsPerSourceMax: 7\n');
  if (!loaded.ok) throw new Error(loaded.error.message);
  t.equal(loaded.value.limits.connectionIdleTimeoutMs, 90_000);
  t.equal(loaded.value.limits.frameDeadlineMs, 2500);
  const options = nodeServerOptions({ config: loaded.value, nodeId: 'n1' as NodeId });
  t.match(
    options.connectionLimits,
    { idleTimeoutMs: 90_000, frameDeadlineMs: 2500, perSourceMax: 7 },
    'client connections',
  );
  t.equal(options.limits.frameDeadlineMs, 2500, 'the peer transport gets the same frame deadline');
});

t.test('omitted, they are the node defaults', async (t) => {
  t.equal(clusterDefaults.limits.connectionIdleTimeoutMs, defaultConnectionLimits.idleTimeoutMs);
  t.equal(clusterDefaults.limits.frameDeadlineMs, defaultConnectionLimits.frameDeadlineMs);
  t.equal(clusterDefaults.limits.frameDeadlineMs, defaultTcpTransportLimits.frameDeadlineMs);
  const loaded = await load(t, '  connectionsMax: 10\n');
  if (!loaded.ok) throw new Error(loaded.error.message);
  t.match(loaded.value.limits, { connectionIdleTimeoutMs: 300_000, frameDeadlineMs: 10_000 });
});

t.test('a bare number, the Ms spelling and an out-of-range value are refused with where and why', async (t) => {
  const bare = await load(t, '  frameDeadline: 10\n');
  t.notOk(bare.ok);
  if (!bare.ok)
    t.match(bare.error.message, /cluster\.yml:\d+:\d+: limits\.frameDeadline must be a duration with a unit/);
  const ms = await load(t, '  frameDeadlineMs: 10s\n');
  t.notOk(ms.ok);
  if (!ms.ok) t.match(ms.error.message, /unknown key "frameDeadlineMs" in limits \(allowed: .*frameDeadline\)/);
  const short = await load(t, '  connectionIdleTimeout: 10s\n');
  t.notOk(short.ok);
  if (!short.ok)
    t.match(short.error.message, /limits\.connectionIdleTimeout must be from 60000ms to 86400000ms, got 10s/);
});
