// The command line the benches share (bench/args.ts): an on|off|both option, and a usage error
// (exit 2) for values a bench cannot run, before anything starts.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onOffBoth } from '../../bench/args.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

t.test('on|off|both: the modes to run, on first; anything else is refused', async (t) => {
  t.same(onOffBoth('both'), [true, false]);
  t.same(onOffBoth('on'), [true]);
  t.same(onOffBoth('off'), [false]);
  t.equal(onOffBoth('yes'), null);
});

const refusals: readonly (readonly string[])[] = [
  ['bench/commit-floor.ts', '--writes', '3'],
  ['bench/commit-floor.ts', '--sync', 'maybe'],
  ['bench/commit-floor.ts', '--seconds', '0'],
  ['bench/commit-cost.ts', '--tls', 'maybe'],
  ['bench/commit-cost.ts', '--warmup', 'x'],
  ['bench/sim.ts', '--workload', 'lock'],
];

for (const [script, ...args] of refusals) {
  t.test(`${script} ${args.join(' ')} is a usage error`, async (t) => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', script as string, ...args], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
      killSignal: 'SIGKILL',
    });
    t.equal(run.status, 2, 'exit code 2');
    t.match(run.stderr, /^usage: /m, 'says how to call it');
  });
}
