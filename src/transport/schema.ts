/**
 * Tiny structural validators for decoded wire data. A decoded frame is `unknown` until a schema
 * accepts it; after that the rest of the node trusts its type (the gateway rule).
 *
 * A check returns null when the value is acceptable, or the reason it is not. Paths name the
 * offending field (`entries[3].change.node`) so an error frame can say exactly what was wrong.
 */
import { isValidNodeId } from '../raft/types.js';

export interface SchemaViolation {
  /** Dotted path to the offending field, `$` for the root. */
  readonly path: string;
  readonly reason: string;
}

export type Check = (value: unknown, path: string) => SchemaViolation | null;

function violation(path: string, reason: string): SchemaViolation {
  return { path, reason };
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'bytes';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${value}`;
  return typeof value;
}

/** Plain record from the decoder (msgpackr builds maps as ordinary objects). */
export function isPlainObject(value: unknown): value is Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export const boolean: Check = (value, path) =>
  typeof value === 'boolean' ? null : violation(path, `expected a boolean, got ${describeValue(value)}`);

/** Terms, indexes, offsets and sizes: safe integers ≥ 0 (no floats, NaN, or lost precision). */
export const uint: Check = (value, path) =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? null
    : violation(path, `expected a non-negative safe integer, got ${describeValue(value)}`);

export function string(lengthMax: number): Check {
  return (value, path) => {
    if (typeof value !== 'string') return violation(path, `expected a string, got ${describeValue(value)}`);
    if (value.length > lengthMax) return violation(path, `string longer than ${lengthMax} characters`);
    return null;
  };
}

export const nodeId: Check = (value, path) =>
  isValidNodeId(value) ? null : violation(path, `expected a node id, got ${describeValue(value)}`);

export const bytes: Check = (value, path) =>
  value instanceof Uint8Array ? null : violation(path, `expected bytes, got ${describeValue(value)}`);

export function literal(expected: string): Check {
  return (value, path) =>
    value === expected ? null : violation(path, `expected ${JSON.stringify(expected)}, got ${describeValue(value)}`);
}

export function nullable(inner: Check): Check {
  return (value, path) => (value === null ? null : inner(value, path));
}

export function arrayOf(item: Check, lengthMax = Number.MAX_SAFE_INTEGER): Check {
  return (value, path) => {
    if (!Array.isArray(value)) return violation(path, `expected an array, got ${describeValue(value)}`);
    if (value.length > lengthMax) return violation(path, `more than ${lengthMax} items`);
    for (let i = 0; i < value.length; i++) {
      const bad = item(value[i], `${path}[${i}]`);
      if (bad !== null) return bad;
    }
    return null;
  };
}

/**
 * An object with exactly these keys: a missing key and an unknown key are both violations, so a
 * peer speaking a different shape is refused instead of half-understood.
 */
export function exactObject(fields: Readonly<Record<string, Check>>): Check {
  const names = Object.keys(fields);
  return (value, path) => {
    if (!isPlainObject(value)) return violation(path, `expected an object, got ${describeValue(value)}`);
    for (const name of names) {
      if (!Object.hasOwn(value, name)) return violation(`${path}.${name}`, 'missing');
      const check = fields[name];
      if (check === undefined) continue;
      const bad = check(value[name], `${path}.${name}`);
      if (bad !== null) return bad;
    }
    for (const name of Object.keys(value)) {
      if (!Object.hasOwn(fields, name)) return violation(`${path}.${name}`, 'unknown field');
    }
    return null;
  };
}

/** A closed union tagged by `tag`: each tag value has its own exact field table. */
export function taggedUnion(tag: string, variants: Readonly<Record<string, Readonly<Record<string, Check>>>>): Check {
  const checks = new Map<string, Check>();
  for (const [name, fields] of Object.entries(variants)) {
    checks.set(name, exactObject({ [tag]: literal(name), ...fields }));
  }
  return (value, path) => {
    if (!isPlainObject(value)) return violation(path, `expected an object, got ${describeValue(value)}`);
    const kind = value[tag];
    const check = typeof kind === 'string' ? checks.get(kind) : undefined;
    if (check === undefined) return violation(`${path}.${tag}`, `unknown ${tag} ${describeValue(kind)}`);
    return check(value, path);
  };
}

/** Runs `first`, then a cross-field rule on a value already known to have the right shape. */
export function refine(first: Check, rule: (value: Readonly<Record<string, unknown>>, path: string) => SchemaViolation | null): Check {
  return (value, path) => {
    const bad = first(value, path);
    if (bad !== null) return bad;
    return isPlainObject(value) ? rule(value, path) : violation(path, 'expected an object');
  };
}
