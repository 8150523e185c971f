// `raftlock watch PREFIX | head -5`: when the reader goes away, watch exits 0 without a stack trace.
import t from 'tap';
import { connect } from '../../src/client/client.js';
import { startCluster } from '../../src/embed/embed.js';
import { startCli } from './fixtures/cli.js';
import { writeClientPki } from './fixtures/pki-dir.js';

void t.test('watch exits quietly when its stdout is closed', async (t) => {
  const cluster = await startCluster({ nodes: 1 });
  await cluster.waitForLeader();
  const client = await connect(cluster.connectOptions());
  t.teardown(async () => {
    client.abandon();
    await cluster.close();
  });
  const endpoints = cluster.endpoints.map((e) => e.client).join(',');
  const pki = writeClientPki(t.testdir(), cluster.connectOptions());
  const watch = startCli(['watch', 'w/', '-e', endpoints], 120_000, { env: { RAFTLOCK_PKI: pki } });
  t.teardown(() => watch.child.kill('SIGKILL'));
  // Keep writing until the first event shows up (the watch may subscribe after the first put).
  let n = 0;
  const first = watch.waitFor(/put w\//);
  const writer = setInterval(() => void client.kv.put(`w/${n++}`, 'x').catch(() => undefined), 100);
  try {
    await first;
    watch.child.stdout?.destroy(); // the reader of the pipe is gone, as `head` exits
    const end = await watch.exited;
    t.equal(end.code, 0, 'exit 0');
    t.notMatch(end.stderr, /EPIPE|Error|at /, 'no stack trace');
  } finally {
    clearInterval(writer);
  }
});
