// Keeps the benchmark scripts that start clusters or a browser, or measure the machine's disk and
// sockets, working (the other benches are in benches.test.ts).
import t from 'tap';
import { testBench } from './fixtures/bench-case.js';

testBench(t, {
  script: 'bench/physical.ts',
  args: [],
  expect: [/synced 64-byte writes/, /loopback TCP round trips/],
});
testBench(t, {
  script: 'bench/client.ts',
  args: ['--short'],
  expect: [/lock\+release, 1 client/, /kv put, 16 client/, /lock\+release, 16 workers on 1 client\s+\d+ ops\/s/],
});
testBench(t, {
  script: 'bench/dashboard.ts',
  args: ['--short'],
  expect: [/load 2: ready at \d+ ms/, /first load to complete render: median \d+ ms over 2 loads/],
});
testBench(t, {
  script: 'bench/cluster.ts',
  args: ['--short'],
  expect: [
    /256 clients on distinct locks/,
    /handoffs.*CPU µs per operation \[main thread\]: n\d \d+ \[\d+\], n\d \d+ \[\d+\], n\d \d+ \[\d+\], client \d+ \[\d+\]/,
    /leader SIGKILL/,
  ],
});
testBench(t, {
  script: 'bench/commit-floor.ts',
  args: ['--short', '--writes', '2'],
  expect: [
    /^synced appends: [\d,]+ commits\/s, p50 [\d.]+ ms/m,
    /^appends not synced: [\d,]+ commits\/s/m,
    /leader: CPU µs per commit \d+ \[main thread \d+\], main-thread wake-ups per commit [\d.]+/,
    /the three members: \d+ µs per commit/,
  ],
});
