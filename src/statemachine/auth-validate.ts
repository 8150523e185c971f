import type { Right } from './auth-types.js';
import { allRights, passwordHashBytesMax, passwordHashPrefix, principalBytesMax } from './auth-types.js';
import { utf8Length } from './ids.js';

// The rules for names, prefixes, rights and password hashes. Each check returns what is wrong
// (naming `what`), or null when the value is acceptable. The command decoder, the snapshot decoder
// and the invariants use the same checks, and the edge and the CLI may use them to refuse early.

const namePattern = /^[A-Za-z0-9._@-]+$/;

/** Names a bad value without converting it: String() on a decoded value can throw. */
function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 64)) : `of type ${typeof value}`;
}

/** A principal, user or role name: 1..128 bytes of `[A-Za-z0-9._@-]`. */
export function nameProblem(value: unknown, what: string): string | null {
  if (typeof value !== 'string') return `${what} must be a string, got ${shown(value)}`;
  if (value.length === 0) return `${what} must not be empty`;
  // The pattern is ASCII, so characters are bytes.
  if (value.length > principalBytesMax) return `${what} is ${value.length} bytes, more than ${principalBytesMax}`;
  if (!namePattern.test(value)) return `${what} ${shown(value)} may only hold letters, digits and . _ @ -`;
  return null;
}

/** A permission prefix: any valid UTF-8 string of at most `bytesMax` bytes; '' = every name. */
export function prefixProblem(value: unknown, what: string, bytesMax: number): string | null {
  if (typeof value !== 'string') return `${what} must be a string, got ${shown(value)}`;
  const bytes = utf8Length(value);
  // The decoder turns invalid UTF-8 into U+FFFD; refusing it keeps a malformed prefix from aliasing.
  if (bytes < 0 || value.includes('\ufffd')) return `${what} is not valid UTF-8`;
  if (bytes > bytesMax) return `${what} is ${bytes} bytes, more than ${bytesMax}`;
  return null;
}

export function isRight(value: unknown): value is Right {
  return typeof value === 'string' && (allRights as readonly string[]).includes(value);
}

/** A non-empty list of distinct known rights. */
export function rightsProblem(value: unknown, what: string): string | null {
  if (!Array.isArray(value)) return `${what} must be an array of rights`;
  const items = value as readonly unknown[];
  if (items.length === 0) return `${what} must name at least one right (${allRights.join(', ')})`;
  for (const [i, right] of items.entries()) {
    if (!isRight(right)) return `${what} holds unknown right ${shown(right)}; rights are ${allRights.join(', ')}`;
    if (items.indexOf(right) !== i) return `${what} names ${right} twice`;
  }
  return null;
}

/**
 * A stored password hash: an opaque `scrypt$...` string of printable ASCII, at most 512 bytes.
 * The node makes it; the state machine only stores it and hands it back for the login check.
 */
export function passwordHashProblem(value: unknown, what: string): string | null {
  if (typeof value !== 'string') return `${what} must be a string`;
  if (!value.startsWith(passwordHashPrefix)) return `${what} must start with ${passwordHashPrefix}`;
  if (value.length > passwordHashBytesMax) return `${what} is ${value.length} bytes, more than ${passwordHashBytesMax}`;
  if (!/^[\x21-\x7e]+$/.test(value)) return `${what} must be printable ASCII`;
  return null;
}

/** The rights in canonical order (as the store keeps them). */
export function canonicalRights(rights: readonly Right[]): Right[] {
  return allRights.filter((right) => rights.includes(right));
}
