/**
 * Where the `raftlock` command is, for code that starts it as a child process (node processes in
 * node-process.ts, the CLI in tests): the package root and how to run the CLI from it.
 */
import { existsSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: the nearest directory above this file holding package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('raftlock package root not found');
    dir = parent;
  }
  return dir;
}

/**
 * How to run the CLI in a child: the compiled CLI when this code runs compiled (an installed
 * package, or a checkout after `npm run build`), else the TypeScript entry through tsx. Children
 * therefore always run the same code as the parent, never a stale dist/ beside newer sources.
 * `npm test` builds dist/ first and sets RAFTLOCK_CHILDREN_COMPILED=1: the suite's child processes
 * then skip tsx's start-up (about 1.2 s of CPU each, hundreds of children per run).
 */
export function cliCommand(): { readonly command: string; readonly args: readonly string[] } {
  const root = packageRoot();
  const compiled = join(root, 'dist', 'bin', 'raftlock.js');
  const runningCompiled = fileURLToPath(import.meta.url).startsWith(join(root, 'dist') + sep);
  const askedCompiled = process.env['RAFTLOCK_CHILDREN_COMPILED'] === '1';
  if ((runningCompiled || askedCompiled) && existsSync(compiled)) {
    return { command: process.execPath, args: [compiled] };
  }
  // Resolved from this package, so the child finds tsx whatever its working directory.
  const tsx = import.meta.resolve('tsx');
  return { command: process.execPath, args: ['--import', tsx, join(root, 'bin', 'raftlock.ts')] };
}
