// Keeps `npm run bench:commit` working: its short mode with TLS and the profiles on prints the
// commit rate, every process's CPU per commit (the leader among them) and the members' sum, how
// often each main thread was woken per commit and, for each node, where its main thread's time
// went. The figures are not judged.
import t from 'tap';
import { testBench } from './fixtures/bench-case.js';

testBench(t, {
  script: 'bench/commit-cost.ts',
  args: ['--short', '--tls', 'on', '--profile'],
  expect: [
    /^TLS: [\d,]+ commits\/s, p50 [\d.]+ ms/m,
    /\(leader\): CPU µs per commit \d+ \[main thread \d+\], main-thread wake-ups per commit [\d.]+/,
    /\(follower\): CPU µs per commit \d+/,
    /client: CPU µs per commit \d+/,
    /the three members: \d+ µs per commit/,
    /\(leader\) profile: \d+ µs busy per op: /,
    /\(follower\) profile: \d+ µs busy per op: /,
  ],
});
