/**
 * `npm run chaos -- --duration 10m [--seed N]`: a Jepsen-style run on real processes. Five node
 * processes on 127.0.0.1 with every peer link behind the proxy mesh; in-process client workers
 * (each session its own client) running locks with fenced writes, semaphores, CAS puts, reads and
 * deletes into per-worker history files; the seeded nemesis (kill/restart, SIGSTOP/SIGCONT past
 * the session TTL, partitions, slow links, leadership transfers, membership remove/add); then,
 * healed, the convergence check and every linearizability model over the history with the final
 * reads appended (acknowledged writes present, failed writes absent).
 *
 * Exit 0 when every check passes; 1 on a violation or a failed convergence, printing the seed,
 * the applied nemesis schedule and the history path; 2 when a search hit its bound (never a pass);
 * 64 on a usage error, which includes a `--dir` that already holds files.
 *
 *   npx tsx src/chaos/run.ts [--duration 10m] [--seed N] [--workers 10] [--nodes 5] [--ttl 2s]
 *                            [--locks N] [--faults kill,pause,...] [--dir PATH] [--keep]
 */
import { clusterDefaults } from '../config/cluster-config.js';
import { checkDuration } from '../util/units.js';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRng } from '../util/rng.js';
import { connect } from '../client/client.js';
import type { RaftlockClient } from '../client/client.js';
import { FencedResources, clientTarget } from './client-target.js';
import { checkConvergence, withFinalReads } from './final-state.js';
import { HistoryWriter, readHistory } from './history.js';
import type { HistoryOp } from './history.js';
import { checkHistory } from './linearizability/check-history.js';
import { Nemesis } from './nemesis.js';
import { allFaultKinds, buildSchedule, formatSchedule } from './nemesis-schedule.js';
import type { FaultKind } from './nemesis-schedule.js';
import { NodeCluster } from './node-cluster.js';
import { createWorkloadPrincipals } from './principals.js';
import { ChaosWorker, defaultWorkloadConfig } from './workload.js';

export type ChaosRunOptions = {
  readonly durationMs: number;
  readonly seed: number;
  readonly workers: number;
  readonly nodes: number;
  readonly sessionTtlMs: number;
  readonly faults: readonly FaultKind[];
  /** How many mutex names the workload spreads over (each is its own checker partition). */
  readonly locks: number;
  readonly dir: string;
};

/**
 * Two mutex names per minute of run, at least two: the checker's search grows steeply with the
 * operations of one partition (a 4-minute run on two locks hit its 5,000,000-step bound), while
 * more names keep each partition short.
 */
export function defaultLockCount(durationMs: number): number {
  return Math.max(2, Math.ceil((2 * durationMs) / 60_000));
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Tally = { ok: number; fail: number; unknown: number };

function tally(history: readonly HistoryOp[]): Tally {
  const t: Tally = { ok: 0, fail: 0, unknown: 0 };
  for (const op of history) t[op.outcome === 'ok' ? 'ok' : op.outcome === 'fail' ? 'fail' : 'unknown']++;
  return t;
}

/** Runs the whole chaos test; resolves with the exit code. Everything it prints goes to `out`. */
export async function runChaos(options: ChaosRunOptions, out: (line: string) => void): Promise<number> {
  const historyDir = join(options.dir, 'history');
  mkdirSync(historyDir, { recursive: true });
  const nodeNames = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
  const schedule = buildSchedule({
    seed: options.seed,
    durationMs: options.durationMs,
    nodes: nodeNames,
    sessionTtlMs: options.sessionTtlMs,
    faults: options.faults,
  });
  out(
    `chaos run: seed=${options.seed} duration=${options.durationMs}ms nodes=${options.nodes} workers=${options.workers} locks=${options.locks} ttl=${options.sessionTtlMs}ms dir=${options.dir}`,
  );
  out(formatSchedule(schedule));

  // The floor stays the nodes' default unless a shorter --ttl needs it lower (which the nodes then
  // warn about: such a session can lapse during an ordinary election).
  const sessionTtlMinMs = Math.min(options.sessionTtlMs, clusterDefaults.ttlMinMs);
  const cluster = await NodeCluster.start({
    dir: options.dir,
    count: options.nodes,
    clusterId: 'chaos',
    tickMs: 50,
    electionTicks: 10,
    sessionTtlMinMs,
    logLevel: 'info',
  });
  const tty = process.stderr.isTTY;
  const writers: HistoryWriter[] = [];
  let kv: RaftlockClient | null = null;
  try {
    if ((await cluster.waitForLeader(30_000)) === null) throw new Error('no leader within 30 s of starting');
    const fenced = new FencedResources();
    const principals = await createWorkloadPrincipals({
      endpoints: cluster.endpoints,
      clusterId: 'chaos',
      rootTls: cluster.rootTls,
      pkiDir: NodeCluster.pkiDir(options.dir),
    });
    out(
      'workload principals: lock workers as user worker (certificate), versioned keys as user kv (password); neither an admin',
    );
    const clientOptions = {
      endpoints: cluster.endpoints,
      clusterId: 'chaos',
      ttlMs: options.sessionTtlMs,
      attemptTimeoutMs: 1000,
      requestTimeoutMs: 4000,
    };
    // Every worker's versioned-key operations share one client: its lanes keep many commands in
    // flight at once, so retries across kills, pauses and partitions run lane by lane.
    kv = await connect({ ...clientOptions, ...principals.kv });
    const target = clientTarget({ ...clientOptions, tls: principals.worker, fenced, kv });
    const rng = createRng(options.seed).fork('workload');
    const workers = Array.from({ length: options.workers }, (_, i) => {
      const writer = new HistoryWriter(join(historyDir, `w${i}.jsonl`), `w${i}`);
      writers.push(writer);
      const locks = Array.from({ length: options.locks }, (_, k) => `lock-${k}`);
      return new ChaosWorker(`w${i}`, target, writer, rng.fork(`w${i}`), {
        ...defaultWorkloadConfig,
        locks,
        opTimeoutMs: 5000,
      });
    });
    let stop = false;
    const running = workers.map((w) => w.run(() => stop));

    const started = performance.now();
    let lastEvent = '';
    const nemesis = new Nemesis(cluster, cluster.mesh, (line) => {
      lastEvent = line.trim();
      if (!tty) out(line);
    });
    const progress = tty
      ? setInterval(() => {
          const s = ((performance.now() - started) / 1000).toFixed(0);
          process.stderr.write(
            `\r\x1b[K${s}s / ${(options.durationMs / 1000).toFixed(0)}s  faults ${nemesis.applied.length}/${schedule.events.length}  ${lastEvent.slice(0, 90)}`,
          );
        }, 500)
      : undefined;
    try {
      await nemesis.play(schedule, { now: () => performance.now() - started, sleep: pause });
      // A calm tail after the final heal: the workload runs on a whole cluster again.
      await pause(3000);
    } finally {
      stop = true;
      if (progress !== undefined) clearInterval(progress);
      if (tty) process.stderr.write('\n');
    }
    await Promise.all(running);
    for (const w of writers) w.close();

    out('');
    out('nemesis, as applied:');
    for (const a of nemesis.applied)
      out(`  ${(a.atMs / 1000).toFixed(3).padStart(9)}s  ${a.event.kind}  => ${a.outcome}`);

    const leader = await cluster.waitForLeader(30_000);
    const quiet = await cluster.waitConverged(30_000);
    out(
      `after healing: leader ${leader ?? 'none'}, applied indexes ${quiet ? 'equal on every node' : 'still differ after 30 s'}, members ${await cluster.members().catch((e: unknown) => String(e))}`,
    );
    const files = readdirSync(historyDir)
      .filter((f) => f.endsWith('.jsonl'))
      .map((f) => join(historyDir, f));
    const history = readHistory(files);
    if (!history.ok) {
      out(`bad history: ${history.error}`);
      return 1;
    }
    const reads = await cluster.finalReads(defaultWorkloadConfig.keys);
    const convergence = checkConvergence(reads);
    const oneNode = reads.filter((r) => r.node === leader || (leader === null && r.node === 'n1'));
    const t = tally(history.value);
    const faults = nemesis.applied.filter(
      (a) => !a.outcome.startsWith('skipped') && !a.outcome.startsWith('nothing'),
    ).length;
    out(
      `history: ${history.value.length} operations (${t.ok} ok, ${t.fail} fail, ${t.unknown} unknown) in ${historyDir}`,
    );
    out(`faults: ${nemesis.applied.length} nemesis events, ${faults} carried out`);
    out(`versioned-key operations: one shared client, ${kv.lanesOpened} lanes opened`);
    out(convergence.report);
    const verdict = checkHistory(withFinalReads(history.value, oneNode));
    out(verdict.report);
    const failed = !convergence.converged || !quiet || verdict.verdict === 'violation';
    const code = failed ? 1 : verdict.verdict === 'unknown' ? 2 : 0;
    if (code !== 0) {
      out('');
      const what = code === 2 ? 'CHAOS RUN INCONCLUSIVE (a search hit its bound)' : 'CHAOS RUN FAILED';
      const rerun = `--duration ${options.durationMs}ms --seed ${options.seed} --workers ${options.workers} --nodes ${options.nodes} --ttl ${options.sessionTtlMs}ms --locks ${options.locks} --faults ${options.faults.join(',')}`;
      out(`${what}: seed=${options.seed} (rerun: npm run chaos -- ${rerun})`);
      out(`history: ${historyDir}/*.jsonl (npx tsx src/chaos/check-cli.ts ${historyDir}/*.jsonl)`);
      out(`node logs: ${join(options.dir, 'logs')}`);
      out(formatSchedule(schedule));
    } else {
      out(`verdict: ok (seed=${options.seed})`);
    }
    return code;
  } finally {
    // Closing a writer twice does nothing.
    for (const w of writers) w.close();
    await kv?.close().catch(() => undefined);
    await cluster.stop();
  }
}

/**
 * Why `dir` cannot hold a new run, or null when it can (missing or empty). A run appends its
 * history to `history/`, starts its nodes from `data/` and logs to `logs/`: a previous run's files
 * there would mix into this one (its history fails the checks, its nodes start from old state),
 * so a used directory is refused before anything starts, and nothing in it is touched.
 */
export function usedDirProblem(dir: string): string | null {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return `chaos: cannot use --dir ${dir}: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (entries.length === 0) return null;
  const shown = entries.sort().slice(0, 5).join(', ') + (entries.length > 5 ? ', ...' : '');
  return (
    `chaos: --dir ${dir} is not empty (${shown}). A run writes its history, node data and logs there, ` +
    `and a previous run's files would mix into them: give a new or empty directory`
  );
}

function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** A duration flag, read as every raftlock duration is (src/cli/duration-flag.ts); null after printing why not. */
function durationArg(argv: readonly string[], name: string, fallback: string): number | null {
  const parsed = checkDuration(flag(argv, name) ?? fallback);
  if (parsed.ok) return parsed.value;
  console.error(`chaos: ${name}: ${parsed.error}`);
  return null;
}

export async function main(argv: readonly string[]): Promise<number> {
  const durationMs = durationArg(argv, '--duration', '10m');
  const ttlMs = durationArg(argv, '--ttl', '2s');
  const seed = Number(flag(argv, '--seed') ?? String(Date.now() % 1_000_000));
  const workers = Number(flag(argv, '--workers') ?? '10');
  const nodes = Number(flag(argv, '--nodes') ?? '5');
  const faultNames = (flag(argv, '--faults') ?? allFaultKinds.join(',')).split(',');
  const faults = allFaultKinds.filter((k) => faultNames.includes(k));
  const locks = Number(flag(argv, '--locks') ?? String(defaultLockCount(durationMs ?? 0)));
  const bad =
    durationMs === null ||
    ttlMs === null ||
    !Number.isSafeInteger(seed) ||
    !(workers >= 1) ||
    !(nodes >= 3) ||
    !(Number.isInteger(locks) && locks >= 1) ||
    faults.length !== faultNames.length;
  if (bad) {
    console.error(
      'usage: chaos [--duration 10m] [--seed N] [--workers 10] [--nodes 5] [--ttl 2s] [--locks N] [--faults kill,pause,...] [--dir PATH] [--keep]',
    );
    console.error(`faults: ${allFaultKinds.join(',')}`);
    return 64;
  }
  const given = flag(argv, '--dir');
  const problem = given === undefined ? null : usedDirProblem(resolve(given));
  if (problem !== null) {
    console.error(problem);
    return 64;
  }
  const dir = given === undefined ? mkdtempSync(join(tmpdir(), 'raftlock-chaos-')) : resolve(given);
  mkdirSync(dir, { recursive: true });
  const code = await runChaos({ durationMs, seed, workers, nodes, sessionTtlMs: ttlMs, faults, locks, dir }, (line) =>
    console.log(line),
  );
  // A passing run leaves nothing behind unless asked to; a failing one keeps its evidence.
  if (code === 0 && given === undefined && !argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
  return code;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.on('SIGINT', () => process.exit(130));
  process.on('SIGTERM', () => process.exit(143));
  process.exitCode = await main(process.argv.slice(2));
  // Lingering client timers must not hold the run open once the verdict is out.
  process.exit();
}
