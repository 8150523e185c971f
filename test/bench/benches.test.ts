// Keeps the benchmark scripts of one part (Raft, simulator, state machine, storage, codec) working.
// Those that start clusters, a browser, or measure the machine's disk and sockets are in
// benches-cluster.test.ts, a file of their own so tap runs the two side by side.
import t from 'tap';
import { testBench } from './fixtures/bench-case.js';

testBench(t, { script: 'bench/raft.ts', args: ['--short'], expect: [/entries\/CPU-s/, /^\s+3 \|/m, /^\s+5 \|/m] });
testBench(t, { script: 'bench/sim.ts', args: ['--short'], expect: [/sim s per CPU s/, /^\s+5 \|/m] });
testBench(t, {
  script: 'bench/statemachine.ts',
  args: ['--short'],
  expect: [/memory per held lock/, /snapshot encode/, /background: longest event-loop stall/],
});
testBench(t, { script: 'bench/storage.ts', args: ['--short'], expect: [/group commit at 512 proposers/, /recover/] });
testBench(t, { script: 'bench/transport.ts', args: [], expect: [/decode\+validate/, /loopback TCP/] });
