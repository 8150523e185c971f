// The unit tier's test files and how they are shared out among a few processes.
//
// Each test process spends about 0.7 CPU-s starting (node, the tsx loader thread, tap's core), which was
// most of the unit tier's CPU with one process per file. tap's root `t` is one per process, so importing
// several test files in turn runs all their top-level tests in one process, as subtests of its root.
//
// test/unit.taprc stays the one definition of the tier: its `include` and `exclude` select the files
// (read here the way tap's own `tap list` reads them), and its `files` names what tap actually starts:
// the batches and the files that keep a process of their own.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { globSync } from 'glob';
import t from 'tap';
import { parse } from 'yaml';

const root = new URL('../../', import.meta.url).pathname;

/** The tap config file that defines the unit tier, relative to the repository root. */
export const unitRcFile = 'test/unit.taprc';

/**
 * How many batch processes the tier's files are shared among (test/tiers/batch-1..N.test.ts). Measured on
 * the 2-core machine: fewer processes start less, but a batch runs its files one after the other, so the
 * slowest batch sets the wall time; N equal to unit.taprc's `jobs` keeps every batch running at once.
 */
export const batchCount = 4;

/**
 * Files of the tier that must keep a process of their own, with the reason: something in them does not
 * hold when other files' tests run in the same process (process-level listeners, `process.exit`, global
 * mocks or fake timers, module-level state), or tap ties it to the process's main file: `t.matchSnapshot`
 * (the snapshot file is named after the batch), a `t.teardown` on the root `t` (the root then ends as
 * soon as it is idle, before the next file is imported). unit.taprc's `files` names each of them.
 * None of the tier's files needs it today: every one passed batched, with the same assertion count.
 */
export const aloneFiles: ReadonlyMap<string, string> = new Map<string, string>([]);

// tap never runs files under these folders from a glob (@tapjs/run's list.js, `alwaysExcludeNames`).
const alwaysExclude = '**/@(.tap|.nyc_output|.git|.hg|node_modules|tap-snapshots)/**';

/** The file-selection keys of a tap config file; a key it leaves out is an empty list here. */
export interface TapRcFiles {
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly files: readonly string[];
}

/** `include`, `exclude` and `files` of the tap config file `rcFile` (relative to the repository root). */
export function readTapRc(rcFile: string): TapRcFiles {
  const rc: unknown = parse(readFileSync(join(root, rcFile), 'utf8'));
  if (typeof rc !== 'object' || rc === null) throw new Error(`${rcFile}: not a YAML mapping`);
  const fields = rc as Record<string, unknown>;
  const list = (key: string): string[] => {
    const value = fields[key] ?? [];
    if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) {
      throw new Error(`${rcFile}: \`${key}\` must be a list of glob patterns`);
    }
    return value;
  };
  return { include: list('include'), exclude: list('exclude'), files: list('files') };
}

/** Repository-relative paths of the files that the patterns match, sorted as tap sorts them. */
export function globFiles(include: readonly string[], exclude: readonly string[] = []): string[] {
  return globSync([...include], { cwd: root, ignore: [alwaysExclude, ...exclude], posix: true })
    .map((file) => file.replaceAll('\\', '/'))
    .sort((a, b) => a.localeCompare(b, 'en'));
}

/** Every test file the unit tier selects (unit.taprc's `include` less its `exclude`). */
export function unitTierFiles(): string[] {
  const rc = readTapRc(unitRcFile);
  return globFiles(rc.include, rc.exclude);
}

/** The files batch `k` (1..batchCount) runs: every batchCount-th shared file, so a new file joins a batch by itself. */
export function batchFiles(k: number, tier: readonly string[] = unitTierFiles()): string[] {
  if (!Number.isInteger(k) || k < 1 || k > batchCount) throw new Error(`batch ${k} is not one of 1..${batchCount}`);
  return tier.filter((file) => !aloneFiles.has(file)).filter((_, index) => index % batchCount === k - 1);
}

/** Resolves once the root test has run every test queued on it so far. */
async function rootSettled(): Promise<void> {
  if (t.idle) return;
  await new Promise<void>((resolve) => t.once('idle', () => resolve()));
}

/**
 * Runs batch `k`: imports its files one after the other, so each file's top-level tests queue on this
 * process's root `t`. The next file is imported only once those tests have run: each file then has the
 * process to itself, as it would alone, and its import-time work (a top-level `await`, module state)
 * cannot overlap the tests of the file before it. An import that throws fails the batch and names the file.
 */
export async function runBatch(k: number): Promise<void> {
  for (const file of batchFiles(k)) {
    try {
      await import(pathToFileURL(join(root, file)).href);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`batch ${k}: importing ${file} failed: ${reason}`, { cause: error });
    }
    await rootSettled();
  }
}
