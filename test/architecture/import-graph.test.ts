// The layer table of docs/architecture.md is the rule for imports between folders and for what
// the pure folders may touch; this test holds src/ to it and names the first forbidden edge.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { SourceFile } from './import-graph.js';
import { checkImportGraph, parseLayerTable, relativePath } from './import-graph.js';

const root = new URL('../../', import.meta.url).pathname;
const layers = parseLayerTable(readFileSync(join(root, 'docs/architecture.md'), 'utf8'));

function sources(dir: string): SourceFile[] {
  return readdirSync(dir).flatMap((name) => {
    const abs = join(dir, name);
    if (statSync(abs).isDirectory()) return sources(abs);
    return name.endsWith('.ts') ? [{ path: relativePath(root, abs), text: readFileSync(abs, 'utf8') }] : [];
  });
}

const files = sources(join(root, 'src'));

t.test('the layer table has a row for every folder of src/', async (t) => {
  const folders = new Set(files.map((f) => f.path.split('/').slice(0, 2).join('/')).filter((f) => !f.endsWith('.ts')));
  const rows = new Set(layers.map((l) => l.folder));
  t.same(
    [...folders].filter((f) => !rows.has(f)),
    [],
    'folders without a row',
  );
  t.same(
    [...rows].filter((r) => r !== 'src' && !folders.has(r)),
    [],
    'rows without a folder',
  );
  t.same(
    layers.filter((l) => l.pure).map((l) => l.folder),
    ['src/raft', 'src/statemachine', 'src/protocol', 'src/node', 'src/sim'],
    'the pure folders',
  );
});

t.test('src/ imports only what the layer table allows, and the pure folders stay pure', async (t) => {
  t.ok(files.length > 200, `the scan sees the sources (${files.length} files)`);
  t.same(checkImportGraph(files, layers), []);
});

t.test('a planted forbidden import is reported with its file and line', async (t) => {
  const plant = (path: string, text: string): string[] =>
    checkImportGraph([...files.filter((f) => f.path !== path), { path, text }], layers);
  const raftNode = files.find((f) => f.path === 'src/raft/node.ts');
  t.ok(raftNode !== undefined);
  const base = raftNode?.text ?? '';
  t.same(
    plant('src/raft/node.ts', `import type { NodeServer } from '../server/node-server.js';\n${base}`),
    ['src/raft/node.ts:1: src/raft may not import src/server (../server/node-server.js)'],
    'a folder edge the table does not list',
  );
  t.same(
    plant('src/raft/extra.ts', `import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n`),
    ['src/raft/extra.ts:1: imports the Node.js module node:fs in pure code'],
    'a Node.js module in pure code',
  );
  t.same(
    plant('src/node/extra.ts', `export function now(): number {\n  return Date.now() + Math.random();\n}\n`),
    ['src/node/extra.ts:2: Date in pure code', 'src/node/extra.ts:2: Math.random in pure code'],
    'a clock and randomness in pure code',
  );
  t.same(
    plant('src/util/late.ts', `export function later(f: () => void): void {\n  setTimeout(f, 1);\n}\n`).length,
    0,
    'util is not pure by itself: a timer there is fine until pure code imports it',
  );
  const withLate = [
    ...files.filter((f) => f.path !== 'src/statemachine/extra.ts'),
    { path: 'src/util/late.ts', text: `export function later(f: () => void): void {\n  setTimeout(f, 1);\n}\n` },
    { path: 'src/statemachine/extra.ts', text: `import { later } from '../util/late.js';\nexport const l = later;\n` },
  ];
  t.same(
    checkImportGraph(withLate, layers),
    ['src/util/late.ts:2: setTimeout in pure code (reached from src/statemachine/extra.ts)'],
    'what pure code reaches is held to the same rule',
  );
  t.same(
    plant('src/sim/extra.ts', `import YAML from 'yaml';\nexport const y = YAML;\n`),
    ['src/sim/extra.ts:1: imports the package yaml, which its row does not name'],
    'a package the row does not name',
  );
});
