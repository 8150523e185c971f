// Loaded into a node process with `NODE_OPTIONS=--import=<this file>` by bench/commit-cost.ts
// (Node refuses `--cpu-prof` in NODE_OPTIONS, and the node processes are started by the launcher,
// not by the benchmark itself). It samples the main thread from the start through the inspector and
// writes the profile, in the format `node --cpu-prof` writes, to RAFTLOCK_CPU_PROFILE_DIR when the
// process exits. The inspector answers an in-thread session synchronously, so the write completes
// inside the 'exit' handler.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

const dir = process.env['RAFTLOCK_CPU_PROFILE_DIR'];
if (dir !== undefined && dir !== '') {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (error, result) => {
      if (error === null && result !== undefined)
        writeFileSync(join(dir, `CPU.${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
