/**
 * The import graph of src/ checked against the layer table of docs/architecture.md: which folder
 * may import which, and that nothing reachable from a pure folder touches a clock, a timer,
 * randomness, the process or a Node.js module. Kept apart from the test so the test can also run
 * it on a planted forbidden import.
 */
import { builtinModules } from 'node:module';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';

export interface Layer {
  readonly folder: string;
  readonly pure: boolean;
  /** Folders (`src/...`) and packages this folder may import; `*` is every folder. */
  readonly mayImport: ReadonlySet<string>;
}

export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

interface ImportEdge {
  readonly from: string;
  readonly line: number;
  readonly specifier: string;
  /** The target file (relative imports) or null (a package). */
  readonly target: string | null;
  readonly typeOnly: boolean;
}

/** Names that read a clock, schedule work, draw randomness or reach the process. */
const impureNames = new Set([
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'clearInterval',
  'clearImmediate',
  'queueMicrotask',
  'Date',
  'performance',
  'process',
  'require',
  'crypto',
]);

/** Reads the layer table: the rows whose first cell is a backquoted `src...` folder. */
export function parseLayerTable(markdown: string): Layer[] {
  const layers: Layer[] = [];
  for (const line of markdown.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 6) continue;
    const folder = /^`(src[^`]*)`/.exec(cells[1] ?? '')?.[1];
    if (folder === undefined) continue;
    const last = cells[4] ?? '';
    const mayImport =
      last === 'every folder' ? new Set(['*']) : new Set([...last.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? ''));
    layers.push({ folder, pure: cells[2] === 'yes', mayImport });
  }
  return layers;
}

/** The folder a file belongs to: the longest layer folder that contains it. */
function layerOf(path: string, layers: readonly Layer[]): Layer | undefined {
  let best: Layer | undefined;
  for (const layer of layers) {
    const inside = layer.folder === 'src' ? dirname(path) === 'src' : path.startsWith(`${layer.folder}/`);
    if (inside && (best === undefined || layer.folder.length > best.folder.length)) best = layer;
  }
  return best;
}

function importsOf(file: SourceFile, source: ts.SourceFile): ImportEdge[] {
  const edges: ImportEdge[] = [];
  const add = (node: ts.Node, specifier: string, typeOnly: boolean): void => {
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    const target = specifier.startsWith('.')
      ? normalize(join(dirname(file.path), specifier)).replace(/\.js$/, '.ts')
      : null;
    edges.push({ from: file.path, line, specifier, target, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node, node.moduleSpecifier.text, typeOnly);
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      add(node, node.moduleSpecifier.text, node.isTypeOnly);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      add(node, node.arguments[0].text, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

/** `file:line: name` for each use of an impure name (as a value, not a property key or a type). */
function impureUses(file: SourceFile, source: ts.SourceFile): string[] {
  const hits: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isTypeNode(node)) return;
    if (ts.isIdentifier(node) && impureNames.has(node.text)) {
      const parent = node.parent;
      const isKey =
        (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
        (ts.isPropertyAssignment(parent) && parent.name === node) ||
        ((ts.isMethodDeclaration(parent) || ts.isPropertyDeclaration(parent) || ts.isPropertySignature(parent)) &&
          parent.name === node);
      if (!isKey)
        hits.push(`${file.path}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}: ${node.text}`);
    }
    if (
      ts.isPropertyAccessExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'Math' &&
      node.name.text === 'random'
    ) {
      hits.push(`${file.path}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}: Math.random`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return hits;
}

const nodeModules = new Set(builtinModules);

/**
 * Every violation of the layer table, in file order: a file outside every row, an import between
 * folders the table does not allow, and, for each file a pure folder reaches by value imports, a
 * Node.js module, a package its row does not name, or an impure name.
 */
export function checkImportGraph(files: readonly SourceFile[], layers: readonly Layer[]): string[] {
  const problems: string[] = [];
  const parsed = new Map<string, { file: SourceFile; source: ts.SourceFile; edges: ImportEdge[] }>();
  for (const file of files) {
    const source = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.ES2022, true);
    parsed.set(file.path, { file, source, edges: importsOf(file, source) });
  }
  for (const { file, edges } of parsed.values()) {
    const layer = layerOf(file.path, layers);
    if (layer === undefined) {
      problems.push(`${file.path}: in no row of the layer table`);
      continue;
    }
    for (const edge of edges) {
      if (edge.target === null) continue;
      const to = layerOf(edge.target, layers);
      if (to === undefined) {
        problems.push(`${edge.from}:${edge.line}: imports ${edge.specifier}, which is in no row of the layer table`);
      } else if (to !== layer && !layer.mayImport.has('*') && !layer.mayImport.has(to.folder)) {
        problems.push(`${edge.from}:${edge.line}: ${layer.folder} may not import ${to.folder} (${edge.specifier})`);
      }
    }
  }
  // Purity: every file a pure folder's code reaches at run time (type imports are erased).
  const reached = new Map<string, string>();
  const queue: string[] = [];
  for (const path of parsed.keys()) {
    if (layerOf(path, layers)?.pure === true) {
      reached.set(path, path);
      queue.push(path);
    }
  }
  while (queue.length > 0) {
    const path = queue.shift() as string;
    const entry = parsed.get(path);
    if (entry === undefined) continue;
    const layer = layerOf(path, layers);
    const root = reached.get(path) ?? path;
    const via = root === path ? '' : ` (reached from ${root})`;
    for (const edge of entry.edges) {
      if (edge.typeOnly) continue;
      if (edge.target === null) {
        const bare = edge.specifier.replace(/^node:/, '');
        if (edge.specifier.startsWith('node:') || nodeModules.has(bare)) {
          problems.push(`${edge.from}:${edge.line}: imports the Node.js module ${edge.specifier} in pure code${via}`);
        } else if (layer !== undefined && !layer.mayImport.has(packageName(edge.specifier))) {
          problems.push(
            `${edge.from}:${edge.line}: imports the package ${edge.specifier}, which its row does not name${via}`,
          );
        }
      } else if (!reached.has(edge.target)) {
        reached.set(edge.target, root);
        queue.push(edge.target);
      }
    }
    for (const hit of impureUses(entry.file, entry.source)) problems.push(`${hit} in pure code${via}`);
  }
  return problems;
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** Paths relative to `root`, with forward slashes. */
export function relativePath(root: string, path: string): string {
  return relative(root, path).split('\\').join('/');
}
