// docs/operations.md promises `took snapshot` after `snapshot started in the background`.
import t from 'tap';
import { connect } from '../../src/client/client.js';
import { startCluster } from '../../src/embed/embed.js';
import { createLogger } from '../../src/util/logger.js';

void t.test('a background snapshot logs "took snapshot" once written', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', sink: (line) => lines.push(line) });
  const cluster = await startCluster({ nodes: 3, snapshotEntries: 20, logger });
  await cluster.waitForLeader();
  const client = await connect(cluster.connectOptions());
  t.teardown(async () => {
    client.abandon();
    await cluster.close();
  });
  for (let i = 0; i < 60; i++) await client.kv.put(`k${i % 5}`, `v${i}`);
  const started = (): string[] => lines.filter((line) => /snapshot started in the background/.test(line));
  const took = (): string[] => lines.filter((line) => /took snapshot/.test(line));
  for (let i = 0; i < 400 && (started().length === 0 || took().length === 0); i++)
    await new Promise((resolve) => setTimeout(resolve, 25));
  t.ok(started().length > 0, 'background snapshots were started');
  t.ok(took().length > 0, `and finished: ${took().length} "took snapshot" lines for ${started().length} started`);
  // Every started snapshot ends in a line: taken, or no longer needed.
  const ended = (line: string): string | null => {
    const node = / (n\d) /.exec(line)?.[1];
    const index = /index=(\d+)/.exec(line)?.[1];
    return `${node} ${index}`;
  };
  const settled = (): Set<string | null> =>
    new Set(lines.filter((l) => /took snapshot|no longer needed/.test(l)).map(ended));
  for (let i = 0; i < 200 && !started().every((l) => settled().has(ended(l))); i++)
    await new Promise((resolve) => setTimeout(resolve, 25));
  for (const line of started())
    t.ok(settled().has(ended(line)), `${ended(line)} ends in "took snapshot" (or "no longer needed")`);
});
