// The unit tier runs its files a few to a process (test/tiers/unit-files.ts). This holds the batches
// to the tier test/unit.taprc defines: a file left out of every batch would silently stop running, a
// file in two would run twice. It runs in both tiers, and only reads config files and globs test/.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { aloneFiles, batchCount, batchFiles, globFiles, readTapRc, unitRcFile, unitTierFiles } from './unit-files.js';

const thisFile = 'test/tiers/unit-files.test.ts';
const batchFile = (k: number): string => `test/tiers/batch-${k}.test.ts`;
const ks = Array.from({ length: batchCount }, (_, i) => i + 1);
const sorted = (files: Iterable<string>): string[] => [...files].sort((a, b) => a.localeCompare(b, 'en'));

void t.test('every file of the unit tier runs exactly once: in one batch or alone', async (t) => {
  const tier = unitTierFiles();
  t.ok(tier.length > batchCount, `the tier selects ${tier.length} files`);
  const runs = [...ks.flatMap((k) => batchFiles(k, tier)), ...aloneFiles.keys()];
  t.same(sorted(runs), tier, 'the batches and the alone-list together are the tier, with no file twice');
  const sizes = ks.map((k) => batchFiles(k, tier).length);
  t.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `batch sizes ${sizes.join(', ')} differ by at most one`);
});

void t.test('each file on the alone-list belongs to the tier and says why it runs alone', async (t) => {
  const tier = new Set(unitTierFiles());
  for (const [file, reason] of aloneFiles) {
    t.ok(tier.has(file), `${file} is a file of the tier`);
    t.ok(reason.trim().length > 0, `${file} has a reason`);
  }
});

void t.test('unit.taprc starts the batches, this check and the alone files, nothing else', async (t) => {
  const started = globFiles(readTapRc(unitRcFile).files);
  t.same(started, sorted([...ks.map(batchFile), thisFile, ...aloneFiles.keys()]));
});

void t.test('each batch file runs the batch its name gives', async (t) => {
  for (const k of ks) {
    const text = readFileSync(new URL(`batch-${k}.test.ts`, import.meta.url), 'utf8');
    t.match(text, new RegExp(`^await runBatch\\(${k}\\);$`, 'm'), `${batchFile(k)} runs batch ${k}`);
  }
});

void t.test('the full suite (.taprc) runs no batch and every file of the unit tier in its own process', async (t) => {
  const full = readTapRc('.taprc');
  const files = new Set(globFiles(full.include, full.exclude));
  t.same(
    [...files].filter((file) => file.startsWith('test/tiers/batch-')),
    [],
    'no batch file: its files run on their own there',
  );
  t.same(
    unitTierFiles().filter((file) => !files.has(file)),
    [],
    'unit-tier files the full suite leaves out',
  );
  t.ok(files.has(thisFile), 'this check runs there too');
});
