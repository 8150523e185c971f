// Signals to `npx raftlock …`, run the way the README runs it (from the repository root, through
// npm): npm relays SIGTERM to the shell it starts raftlock under, not to raftlock, and that shell
// dies of it. raftlock notices it was orphaned and stops exactly as on SIGTERM: `up` stops every
// node, `acquire --hold` and `lock -- CMD` release their locks (another session gets them at
// once, long before their TTL), and every process they started is gone.
import t from 'tap';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '../../src/client/index.js';
import { packageRoot } from '../../src/server/cli-command.js';
import { allocateLocalNodes, writeLocalClusterFile } from '../../src/config/local-cluster-file.js';
import { pkiLayout } from '../../src/security/pki.js';
import { eventually } from './fixtures/procs.js';
import { groupRunning, killAll, processTree, running } from './fixtures/proc-table.js';

const root = packageRoot();
/** How long every process started through one npx may take to be gone after the SIGTERM. */
const goneWithinMs = 20_000;

/** The newest modification time of the TypeScript files under `dir`. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** `npm run build`, as `npm install` does on a fresh clone, unless dist is newer than every source. */
async function ensureBuilt(): Promise<void> {
  const built = join(root, 'dist', 'bin', 'raftlock.js');
  if (
    existsSync(built) &&
    statSync(built).mtimeMs > Math.max(newestSource(join(root, 'src')), newestSource(join(root, 'bin')))
  )
    return;
  const build = spawn('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  build.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  build.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => build.once('exit', resolve));
  if (code !== 0) throw new Error(`npm run build failed:\n${output}`);
}

interface NpxRun {
  readonly child: ChildProcess;
  readonly pid: number;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string>;
}

/** `npx raftlock ARGS` from the repository root, as the README runs it. */
function npx(args: readonly string[], started: Set<number>): NpxRun {
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('RAFTLOCK_'))),
    // The first npx in a checkout installs it into npx's cache as a `file:` link, and that install
    // runs the package's `prepare` (tsc) in place: dist/ is rewritten file by file while the other
    // test files start nodes from it (one read a half-written module). ensureBuilt() built dist/.
    npm_config_ignore_scripts: 'true',
  };
  const child = spawn('npx', ['raftlock', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env });
  if (child.pid === undefined) throw new Error('npx did not start');
  started.add(child.pid);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    child,
    pid: child.pid,
    output: () => output,
    waitFor: (pattern, timeoutMs) =>
      eventually(
        async () => {
          if (child.exitCode !== null) throw new Error(`npx raftlock ${args.join(' ')} exited early:\n${output}`);
          return pattern.test(output) ? output : undefined;
        },
        timeoutMs,
        `${String(pattern)} from npx raftlock ${args.join(' ')}`,
      ),
  };
}

t.test('SIGTERM to the npx process stops raftlock: up and its nodes, a held lock, lock -- CMD', async (t) => {
  await ensureBuilt();
  const dir = t.testdir();
  const nodes = await allocateLocalNodes(3);
  const file = writeLocalClusterFile(dir, nodes, { clusterId: 'npx', security: { pki: './data/pki' } });
  // Every process any npx below started, SIGKILLed at the end if it is still there.
  const started = new Set<number>();
  t.teardown(() => killAll(started));
  const remember = (pid: number): number[] => {
    const tree = processTree(pid);
    for (const p of tree) started.add(p);
    return tree;
  };

  const up = npx(['up', '--config', file, '--log-level', 'warn'], started);
  await up.waitFor(/leader: n\d/, 180_000);
  const upTree = remember(up.pid);
  t.ok(upTree.length >= 1 + 3, `npx, up and the 3 nodes run (${upTree.length} processes)`);

  const pidFile = join(dir, 'cmd.pid');
  const hold = npx(['acquire', 'held', '--hold', '--ttl', '60s', '--config', file], started);
  const locked = npx(
    [
      'lock',
      'cmd',
      '--ttl',
      '60s',
      '--config',
      file,
      '--',
      'sh',
      '-c',
      `echo $$ > ${pidFile}; while :; do sleep 0.1; done`,
    ],
    started,
  );
  await hold.waitFor(/held token \d+ session \d+/, 120_000);
  await eventually(async () => (existsSync(pidFile) ? true : undefined), 120_000, 'the command under lock to start');
  const cmdGroup = Number(readFileSync(pidFile, 'utf8').trim());
  const clientTrees = [...remember(hold.pid), ...remember(locked.pid)];
  t.ok(groupRunning(cmdGroup), 'the command runs under the lock');

  hold.child.kill('SIGTERM');
  locked.child.kill('SIGTERM');
  await eventually(
    async () => (clientTrees.some(running) || groupRunning(cmdGroup) ? undefined : true),
    goneWithinMs,
    'acquire and lock to be gone',
  );
  t.pass('acquire --hold, lock, their npx and shells, and the command are gone');

  // Released, not left to expire: another session gets both at once, though their TTL is 60 s.
  const pki = join(dir, 'data', 'pki');
  const rootFiles = pkiLayout.user(pki, 'root');
  const tls = {
    ca: readFileSync(rootFiles.ca, 'utf8'),
    cert: readFileSync(rootFiles.cert, 'utf8'),
    key: readFileSync(rootFiles.key, 'utf8'),
  };
  const other = await connect({ endpoints: nodes.map((n) => `127.0.0.1:${n.clientPort}`), clusterId: 'npx', tls });
  t.teardown(() => other.close());
  const heldAgain = await other.tryLock('held');
  const cmdAgain = await other.tryLock('cmd');
  t.ok(heldAgain !== null, 'the lock acquire --hold held was released');
  t.ok(cmdAgain !== null, 'the lock of lock -- CMD was released');
  await heldAgain?.release();
  await cmdAgain?.release();
  await other.close();

  up.child.kill('SIGTERM');
  await eventually(async () => (upTree.some(running) ? undefined : true), goneWithinMs, 'up and its nodes to be gone');
  t.pass('up, every node, npx and its shell are gone');
});
