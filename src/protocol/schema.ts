/**
 * Tiny structural validators for decoded wire data. A decoded frame is `unknown` until a schema
 * accepts it; after that the rest of the node trusts its type (the gateway rule).
 *
 * A check returns null when the value is acceptable, or the reason it is not. Paths name the
 * offending field (`$.entries[3].change.node`) so an error frame can say exactly what was wrong.
 * Paths are relative to the checked value and built only on failure (each container prepends its
 * segment on the way out), so validating a good message allocates no strings.
 */
import { isValidNodeId } from '../raft/types.js';

export interface SchemaViolation {
  /** Path to the offending field relative to the checked value (`''` for the value itself). */
  readonly path: string;
  readonly reason: string;
}

export type Check = (value: unknown) => SchemaViolation | null;

export function violation(reason: string): SchemaViolation {
  return { path: '', reason };
}

/** The same violation seen from the containing value, `segment` being `.field` or `[index]`. */
export function within(segment: string, inner: SchemaViolation): SchemaViolation {
  return { path: segment + inner.path, reason: inner.reason };
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

export const boolean: Check = (value) =>
  typeof value === 'boolean' ? null : violation(`expected a boolean, got ${describeValue(value)}`);

/** Terms, indexes, offsets and sizes: safe integers ≥ 0 (no floats, NaN, or lost precision). */
export const uint: Check = (value) =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? null
    : violation(`expected a non-negative safe integer, got ${describeValue(value)}`);

export function string(lengthMax: number): Check {
  return (value) => {
    if (typeof value !== 'string') {
      return violation(`expected a string, got ${describeValue(value)}`);
    }
    if (value.length > lengthMax) return violation(`string longer than ${lengthMax} characters`);
    return null;
  };
}

export const nodeId: Check = (value) =>
  isValidNodeId(value) ? null : violation(`expected a node id, got ${describeValue(value)}`);

export const bytes: Check = (value) =>
  value instanceof Uint8Array ? null : violation(`expected bytes, got ${describeValue(value)}`);

export function literal(expected: string): Check {
  return (value) =>
    value === expected ? null : violation(`expected ${JSON.stringify(expected)}, got ${describeValue(value)}`);
}

export function nullable(inner: Check): Check {
  return (value) => (value === null ? null : inner(value));
}

export function arrayOf(item: Check, lengthMax = Number.MAX_SAFE_INTEGER): Check {
  return (value) => {
    if (!Array.isArray(value)) return violation(`expected an array, got ${describeValue(value)}`);
    if (value.length > lengthMax) return violation(`more than ${lengthMax} items`);
    for (let i = 0; i < value.length; i++) {
      const bad = item(value[i]);
      if (bad !== null) return within(`[${i}]`, bad);
    }
    return null;
  };
}

/** An object with at least these fields, each passing its check (other fields are ignored). */
export function objectWith(fields: Readonly<Record<string, Check>>): Check {
  const entries = Object.entries(fields);
  return (value) => {
    if (!isPlainObject(value)) return violation(`expected an object, got ${describeValue(value)}`);
    for (const [name, check] of entries) {
      if (!Object.hasOwn(value, name)) return within(`.${name}`, violation('missing'));
      const bad = check(value[name]);
      if (bad !== null) return within(`.${name}`, bad);
    }
    return null;
  };
}

/**
 * An object with exactly these keys: a missing key and an unknown key are both violations, so a
 * peer speaking a different shape is refused instead of half-understood.
 */
export function exactObject(fields: Readonly<Record<string, Check>>): Check {
  const known = objectWith(fields);
  const count = Object.keys(fields).length;
  return (value) => {
    const bad = known(value);
    if (bad !== null || !isPlainObject(value)) return bad;
    // Every expected key is present, so equal counts mean no unknown key.
    const keys = Object.keys(value);
    if (keys.length !== count) {
      const unknown = keys.find((name) => !Object.hasOwn(fields, name)) ?? '?';
      return within(`.${unknown}`, violation('unknown field'));
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
  return (value) => {
    if (!isPlainObject(value)) return violation(`expected an object, got ${describeValue(value)}`);
    const kind = value[tag];
    const check = typeof kind === 'string' ? checks.get(kind) : undefined;
    if (check === undefined) {
      return within(`.${tag}`, violation(`unknown ${tag} ${describeValue(kind)}`));
    }
    return check(value);
  };
}

/** Runs `first`, then a cross-field rule on a value already known to have the right shape. */
export function refine(
  first: Check,
  rule: (value: Readonly<Record<string, unknown>>) => SchemaViolation | null,
): Check {
  return (value) => {
    const bad = first(value);
    if (bad !== null) return bad;
    return isPlainObject(value) ? rule(value) : violation('expected an object');
  };
}
