/**
 * Position-aware readers over a parsed YAML document, for cluster.yml. Each reader records a
 * problem with the node's line and column instead of throwing, so one pass reports every mistake
 * in the file at once.
 */
import type { LineCounter, Node, Pair, YAMLMap } from 'yaml';
import { isMap, isScalar, isSeq } from 'yaml';
import { parseDurationMs, parseSizeBytes } from './units.js';

export interface ConfigProblem {
  /** 1-based; 0 when the problem concerns the file as a whole. */
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export class ProblemList {
  readonly items: ConfigProblem[] = [];

  constructor(private readonly lines: LineCounter) {}

  /** Records `message` at the start of `node` (or at `offset`, or at the top of the file). */
  add(at: Node | Pair | number | null | undefined, message: string): void {
    const offset = typeof at === 'number' ? at : rangeStart(at);
    if (offset === null) {
      this.items.push({ line: 0, column: 0, message });
      return;
    }
    const position = this.lines.linePos(offset);
    this.items.push({ line: position.line, column: position.col, message });
  }
}

function rangeStart(at: Node | Pair | null | undefined): number | null {
  if (at === null || at === undefined) return null;
  if ('range' in at && at.range) return at.range[0];
  if ('key' in at) return rangeStart(at.key as Node | null);
  return null;
}

/** A mapping's entries by key, after refusing unknown and non-string keys. */
export interface Fields {
  readonly map: YAMLMap;
  readonly values: ReadonlyMap<string, Node | null>;
}

/**
 * Reads `node` as a mapping whose keys must come from `allowed`. Returns null (after recording a
 * problem) when it is not a mapping; an absent or empty (`key:` with no value) section is an empty
 * mapping so that every setting falls back to its default.
 */
export function readFields(node: Node | null | undefined, where: string, allowed: readonly string[], problems: ProblemList): ReadonlyMap<string, Node | null> | null {
  if (node === null || node === undefined || (isScalar(node) && node.value === null)) return new Map();
  if (!isMap(node)) {
    problems.add(node, `${where} must be a mapping of ${allowed.join(', ')}`);
    return null;
  }
  const values = new Map<string, Node | null>();
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    if (typeof key !== 'string') {
      problems.add(pair.key as Node | null, `${where} keys must be plain names`);
      continue;
    }
    if (!allowed.includes(key)) {
      problems.add(pair.key as Node | null, `unknown key ${JSON.stringify(key)} in ${where} (allowed: ${allowed.join(', ')})`);
      continue;
    }
    values.set(key, (pair.value ?? null) as Node | null);
  }
  return values;
}

/** The items of a sequence, or null after recording a problem. */
export function readSequence(node: Node | null | undefined, where: string, problems: ProblemList): readonly (Node | null)[] | null {
  if (node === null || node === undefined || (isScalar(node) && node.value === null)) return [];
  if (!isSeq(node)) {
    problems.add(node, `${where} must be a list`);
    return null;
  }
  return node.items.map((item) => (item ?? null) as Node | null);
}

function scalarValue(node: Node | null | undefined): unknown {
  return isScalar(node) ? node.value : undefined;
}

/** A non-empty string setting, or `fallback` when absent. */
export function readString(node: Node | null | undefined, where: string, fallback: string | null, problems: ProblemList): string | null {
  if (node === undefined) return fallback;
  const value = scalarValue(node);
  if (typeof value === 'string' && value.length > 0) return value;
  problems.add(node, `${where} must be a non-empty string`);
  return null;
}

/** An integer setting in [min, max], or `fallback` when absent. */
export function readInteger(node: Node | null | undefined, where: string, fallback: number, min: number, max: number, problems: ProblemList): number {
  if (node === undefined) return fallback;
  const value = scalarValue(node);
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max) return value;
  problems.add(node, `${where} must be an integer from ${min} to ${max}, got ${describeNode(node)}`);
  return fallback;
}

/** A duration (`500ms`, `15s`, `2m`) in [minMs, maxMs], or `fallbackMs` when absent. */
export function readDurationMs(node: Node | null | undefined, where: string, fallbackMs: number, minMs: number, maxMs: number, problems: ProblemList): number {
  if (node === undefined) return fallbackMs;
  const value = scalarValue(node);
  if (typeof value !== 'string') {
    problems.add(node, `${where} must be a duration with a unit such as 500ms, 15s or 2m, got ${describeNode(node)}`);
    return fallbackMs;
  }
  const parsed = parseDurationMs(value);
  if (!parsed.ok) {
    problems.add(node, `${where}: ${parsed.error}`);
    return fallbackMs;
  }
  if (parsed.value < minMs || parsed.value > maxMs) {
    problems.add(node, `${where} must be from ${minMs}ms to ${maxMs}ms, got ${value}`);
    return fallbackMs;
  }
  return parsed.value;
}

/** A size (`64KiB`, `4MiB`, or a bare integer of bytes) in [minBytes, maxBytes]. */
export function readSizeBytes(node: Node | null | undefined, where: string, fallbackBytes: number, minBytes: number, maxBytes: number, problems: ProblemList): number {
  if (node === undefined) return fallbackBytes;
  const value = scalarValue(node);
  let bytes: number;
  if (typeof value === 'number' && Number.isSafeInteger(value)) {
    bytes = value;
  } else if (typeof value === 'string') {
    const parsed = parseSizeBytes(value);
    if (!parsed.ok) {
      problems.add(node, `${where}: ${parsed.error}`);
      return fallbackBytes;
    }
    bytes = parsed.value;
  } else {
    problems.add(node, `${where} must be a size such as 64KiB or 4MiB, got ${describeNode(node)}`);
    return fallbackBytes;
  }
  if (bytes < minBytes || bytes > maxBytes) {
    problems.add(node, `${where} must be from ${minBytes} to ${maxBytes} bytes, got ${String(value)}`);
    return fallbackBytes;
  }
  return bytes;
}

export function describeNode(node: Node | null | undefined): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  const value = scalarValue(node);
  if (value === null) return 'an empty value';
  return typeof value === 'string' ? JSON.stringify(value) : `${typeof value} ${String(value)}`;
}
