// Loaded before every test file (.taprc `node-arg`): fast-check properties run from one fixed seed
// unless RAFTLOCK_FC_SEED names another, so a run is the same on every machine and a failure replays.
// A file that ran a property and failed prints its seed and the command that replays it.
import fc from 'fast-check';
import { relative } from 'node:path';

const fromEnv = process.env['RAFTLOCK_FC_SEED'];
const seed = fromEnv === undefined ? 1 : Number(fromEnv);
if (!Number.isSafeInteger(seed)) throw new Error(`RAFTLOCK_FC_SEED must be an integer, not ${JSON.stringify(fromEnv)}`);

let ranProperty = false;
fc.configureGlobal({
  seed,
  beforeEach: () => {
    ranProperty = true;
  },
});

process.on('exit', (code) => {
  if (code === 0 || !ranProperty) return;
  const file = relative(process.cwd(), process.argv[1] ?? 'FILE');
  process.stderr.write(`fast-check seed ${seed}; replay: RAFTLOCK_FC_SEED=${seed} npx tap ${file}\n`);
});
