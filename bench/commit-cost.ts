// What one commit costs each process: a 3-node cluster (fsync on, 127.0.0.1), one client writing
// one key in a loop (`kv put`, one entry per commit, one in flight), and for each process (leader,
// both followers, the client) the CPU µs per commit over the measured window: every thread, and
// the main thread alone (where the JavaScript runs; the rest is libuv's pool writing and syncing
// level batches, and V8's helpers), and how often the main thread went to sleep and was woken
// (bench/per-commit.ts). With `--profile`, every node samples its main thread
// (bench/cpu-profile-hook.mjs, the profile `node --cpu-prof` would write) and
// the main thread's busy time per commit is broken down by where the code lives
// (bench/cpu-profile.ts), for the window only.
//
// Run: npx tsx bench/commit-cost.ts [--seconds N] [--warmup N] [--tls on|off|both] [--profile]
//      [--profile-dir DIR] [--dir PATH] [--short]    (npm run bench:commit)
// --profile-dir DIR: as --profile, and the .cpuprofile files are kept in a new folder under DIR.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { connect } from '../src/client/client.js';
import { flag, has, loopWindow, onOffBoth } from './args.js';
import { percentile } from './etcd/workloads.js';
import { RaftlockCluster } from './etcd/raftlock-backend.js';
import { asCpuProfile, breakdown, formatBreakdown } from './cpu-profile.js';
import { membersLine, perCommitLine, sampleProcesses } from './per-commit.js';
import type { ProcessSample } from './per-commit.js';

const keptProfiles = flag('--profile-dir');
const profile = has('--profile') || keptProfiles !== undefined;
const { seconds, warmupSeconds, dataParent, valid } = loopWindow(tmpdir());
const modes = onOffBoth(flag('--tls') ?? 'both');
if (!valid || modes === null) {
  console.error(
    'usage: bench/commit-cost.ts [--seconds N>0] [--warmup N>=0] [--tls on|off|both] [--profile] [--profile-dir DIR] [--dir PATH] [--short]',
  );
  process.exit(2);
}

const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n);

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

async function run(tls: boolean): Promise<void> {
  const profileDir = !profile
    ? null
    : keptProfiles !== undefined
      ? mkdtempSync(join(keptProfiles, tls ? 'tls-' : 'plaintext-'))
      : mkdtempSync(join(dataParent, 'raftlock-cpuprof-'));
  // The nodes inherit this process's environment when they are spawned; the variables are
  // restored once they run, so nothing started later is profiled.
  const saved = { options: process.env['NODE_OPTIONS'], dir: process.env['RAFTLOCK_CPU_PROFILE_DIR'] };
  if (profileDir !== null) {
    const hook = fileURLToPath(new URL('./cpu-profile-hook.mjs', import.meta.url));
    process.env['NODE_OPTIONS'] = `${saved.options ?? ''} --import=${hook}`;
    process.env['RAFTLOCK_CPU_PROFILE_DIR'] = profileDir;
  }
  let cluster: RaftlockCluster;
  try {
    cluster = await RaftlockCluster.start(3, dataParent, { tls });
  } finally {
    restoreEnv('NODE_OPTIONS', saved.options);
    restoreEnv('RAFTLOCK_CPU_PROFILE_DIR', saved.dir);
  }
  const client = await connect({ ...cluster.connectOptions, endpoints: cluster.endpoints });
  const value = new Uint8Array(64);
  const latencies: number[] = [];
  const window = { from: 0, to: 0 };
  let from: ProcessSample;
  let to: ProcessSample;
  const pids = [...cluster.pids, process.pid];
  const roles = new Map<number, string>([[process.pid, 'client']]);
  try {
    const leader = await cluster.leader();
    for (const [node, pid] of cluster.nodePids) roles.set(pid, `${node} (${node === leader ? 'leader' : 'follower'})`);
    const warmUntil = performance.now() + warmupSeconds * 1000;
    while (performance.now() < warmUntil) await client.kv.put('commit-cost', value);
    window.from = monotonicMicros();
    from = sampleProcesses(pids);
    const until = performance.now() + seconds * 1000;
    while (performance.now() < until) {
      const t0 = performance.now();
      await client.kv.put('commit-cost', value);
      latencies.push(performance.now() - t0);
    }
    to = sampleProcesses(pids);
    window.to = monotonicMicros();
  } finally {
    await client.close();
    await cluster.stop();
  }
  latencies.sort((x, y) => x - y);
  const commits = Math.max(1, latencies.length);
  const rate = Math.round(latencies.length / seconds);
  console.log(
    `${tls ? 'TLS' : 'plaintext'}: ${rate.toLocaleString('en-US')} commits/s, p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms`,
  );
  const roleOf = (pid: number): string => roles.get(pid) ?? `pid ${pid}`;
  if (from !== null && to !== null) {
    for (const pid of pids) console.log(perCommitLine(roleOf(pid), from, to, pid, commits));
    console.log(membersLine(from, to, cluster.pids, commits));
  }
  if (profileDir === null) return;
  // The profiles are written as the nodes exit (cluster.stop above), one file per process.
  for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))) {
    const pid = Number(/^CPU\.(\d+)\.cpuprofile$/.exec(file)?.[1]);
    const path = join(profileDir, file);
    const parsed = asCpuProfile(JSON.parse(readFileSync(path, 'utf8')) as unknown, path);
    console.log(`  ${roleOf(pid)} profile: ${formatBreakdown(breakdown(parsed, window.from, window.to), commits)}`);
  }
  if (keptProfiles === undefined) rmSync(profileDir, { recursive: true, force: true });
  else console.log(`  profiles kept in ${profileDir} (open them in Chrome DevTools' Performance panel)`);
}

console.log(
  `one client, kv put of 64 bytes in a loop (one entry per commit), 3 nodes (fsync on); ${seconds} s after ${warmupSeconds} s of warm-up`,
);
for (const tls of modes) await run(tls);
