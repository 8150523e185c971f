/**
 * Position-aware readers over a parsed YAML document, for cluster.yml. Each reader records a
 * problem with the node's line and column instead of throwing, so one pass reports every mistake
 * in the file at once.
 */
import type { LineCounter, Node, Pair } from 'yaml';
import { isMap, isScalar, isSeq } from 'yaml';
import { parseDurationMs, parseSizeBytes } from '../util/units.js';

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

type Input = Node | null | undefined;

function isEmpty(node: Input): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null);
}

/**
 * Reads `node` as a mapping whose keys must come from `allowed`. Returns null (after recording a
 * problem) when it is not a mapping; an absent or empty (`key:` with no value) section is an empty
 * mapping so that every setting falls back to its default.
 */
export function readFields(
  node: Input,
  where: string,
  allowed: readonly string[],
  problems: ProblemList,
): ReadonlyMap<string, Node | null> | null {
  if (isEmpty(node)) return new Map();
  if (!isMap(node)) {
    problems.add(node, `${where} must be a mapping of ${allowed.join(', ')}`);
    return null;
  }
  const values = new Map<string, Node | null>();
  for (const pair of node.items) {
    const keyNode = pair.key as Node | null;
    const key = isScalar(keyNode) ? keyNode.value : undefined;
    if (typeof key !== 'string') {
      problems.add(keyNode, `${where} keys must be plain names`);
    } else if (!allowed.includes(key)) {
      const known = allowed.join(', ');
      problems.add(keyNode, `unknown key ${JSON.stringify(key)} in ${where} (allowed: ${known})`);
    } else {
      values.set(key, (pair.value ?? null) as Node | null);
    }
  }
  return values;
}

/** The items of a sequence, or null after recording a problem. */
export function readSequence(node: Input, where: string, problems: ProblemList): readonly (Node | null)[] | null {
  if (isEmpty(node)) return [];
  if (!isSeq(node)) {
    problems.add(node, `${where} must be a list`);
    return null;
  }
  return node.items.map((item) => (item ?? null) as Node | null);
}

function scalarValue(node: Input): unknown {
  return isScalar(node) ? node.value : undefined;
}

/** A non-empty string setting, or `fallback` when absent. */
export function readString(node: Input, where: string, fallback: string | null, problems: ProblemList): string | null {
  if (node === undefined) return fallback;
  const value = scalarValue(node);
  if (typeof value === 'string' && value.length > 0) return value;
  problems.add(node, `${where} must be a non-empty string`);
  return null;
}

/** A `true`/`false` setting, or `fallback` when absent. */
export function readBoolean(node: Input, where: string, fallback: boolean, problems: ProblemList): boolean {
  if (node === undefined) return fallback;
  const value = scalarValue(node);
  if (typeof value === 'boolean') return value;
  problems.add(node, `${where} must be true or false, got ${describeNode(node)}`);
  return fallback;
}

/** Inclusive bounds and the value used when a setting is absent (or after a problem). */
export interface Bounds {
  readonly fallback: number;
  readonly min: number;
  readonly max: number;
}

/** An integer setting within `bounds`. */
export function readInteger(node: Input, where: string, bounds: Bounds, problems: ProblemList): number {
  const { fallback, min, max } = bounds;
  if (node === undefined) return fallback;
  const value = scalarValue(node);
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max) {
    return value;
  }
  const got = describeNode(node);
  problems.add(node, `${where} must be an integer from ${min} to ${max}, got ${got}`);
  return fallback;
}

/** A duration (`500ms`, `15s`, `2m`) in milliseconds within `bounds`. */
export function readDurationMs(node: Input, where: string, bounds: Bounds, problems: ProblemList): number {
  const { fallback, min, max } = bounds;
  if (node === undefined) return fallback;
  const value = scalarValue(node);
  if (typeof value !== 'string') {
    const got = describeNode(node);
    const expected = 'a duration with a unit such as 500ms, 15s or 2m';
    problems.add(node, `${where} must be ${expected}, got ${got}`);
    return fallback;
  }
  const parsed = parseDurationMs(value);
  if (!parsed.ok) {
    problems.add(node, `${where}: ${parsed.error}`);
    return fallback;
  }
  if (parsed.value < min || parsed.value > max) {
    problems.add(node, `${where} must be from ${min}ms to ${max}ms, got ${value}`);
    return fallback;
  }
  return parsed.value;
}

/** A size (`64KiB`, `4MiB`, or a bare integer of bytes) in bytes within `bounds`. */
export function readSizeBytes(node: Input, where: string, bounds: Bounds, problems: ProblemList): number {
  const { fallback, min, max } = bounds;
  if (node === undefined) return fallback;
  const value = scalarValue(node);
  let bytes: number;
  if (typeof value === 'number' && Number.isSafeInteger(value)) {
    bytes = value;
  } else if (typeof value === 'string') {
    const parsed = parseSizeBytes(value);
    if (!parsed.ok) {
      problems.add(node, `${where}: ${parsed.error}`);
      return fallback;
    }
    bytes = parsed.value;
  } else {
    problems.add(node, `${where} must be a size such as 64KiB or 4MiB, got ${describeNode(node)}`);
    return fallback;
  }
  if (bytes < min || bytes > max) {
    problems.add(node, `${where} must be from ${min} to ${max} bytes, got ${String(value)}`);
    return fallback;
  }
  return bytes;
}

export function describeNode(node: Input): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  const value = scalarValue(node);
  if (value === null) return 'an empty value';
  return typeof value === 'string' ? JSON.stringify(value) : `${typeof value} ${String(value)}`;
}
