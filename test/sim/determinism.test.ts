// The pure folders must be deterministic (DESIGN.md §1): the simulator replays a seed exactly only
// if no code under src/raft, src/statemachine, src/sim or the host files reads a clock, uses
// Math.random, schedules timers, or touches sockets and files. This test fails the build if any
// such call appears there.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
const forbidden = [
  'Date.now',
  'new Date(',
  'performance.now',
  'Math.random',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'process.hrtime',
  'node:net',
  'node:fs',
];
const pureDirs = ['src/raft', 'src/statemachine', 'src/sim'];
const pureFiles = /^src\/server\/(host[^/]*|log-time|proposals|envelope)\.ts$/;

function walk(dir: string): string[] {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs).flatMap((name) => {
    const rel = `${dir}/${name}`;
    return statSync(join(root, rel)).isDirectory() ? walk(rel) : rel.endsWith('.ts') ? [rel] : [];
  });
}

t.test('no clocks, randomness, timers, sockets or files in the pure code', async (t) => {
  const files = [...pureDirs.flatMap(walk), ...walk('src/server').filter((f) => pureFiles.test(f))];
  t.ok(files.includes('src/server/host.ts') && files.includes('src/sim/simulation.ts'), 'the scan sees the host and the simulator');
  const hits: string[] = [];
  for (const file of files) {
    const lines = readFileSync(join(root, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      for (const word of forbidden) if (line.includes(word)) hits.push(`${file}:${i + 1}: ${word}`);
    });
  }
  t.same(hits, [], 'forbidden calls in pure code');
});
