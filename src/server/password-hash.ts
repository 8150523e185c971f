/**
 * Password hashes, made and checked in one place: scrypt (N=2^14, r=8, p=1; 16 MiB and about
 * 50 ms per hash on one core) with a 16-byte random salt, stored as
 * `scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>`. The state machine only stores the string; the
 * parameters travel with each hash, so they can be raised later without breaking old ones.
 *
 * Both functions use the asynchronous `crypto.scrypt` (the work runs on libuv's thread pool, not
 * the event loop) and compare with `timingSafeEqual`.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export const scryptCost = { N: 2 ** 14, r: 8, p: 1 } as const;
const saltBytes = 16;
const hashBytes = 32;
/** Upper bounds on parameters read back from a stored hash: a corrupt one cannot exhaust memory. */
const costMax = { N: 2 ** 20, r: 32, p: 16 } as const;

interface ScryptParameters {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

function derive(
  password: string,
  salt: Buffer,
  cost: { N: number; r: number; p: number },
  length: number,
): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; allow that plus slack (the default cap is 32 MiB).
  const maxmem = 128 * cost.N * cost.r + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, { ...cost, maxmem }, (error, key) => {
      if (error !== null) reject(error);
      else resolve(key);
    });
  });
}

/** A fresh hash of `password` with a random salt, in the stored format. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(saltBytes);
  const hash = await derive(password, salt, scryptCost, hashBytes);
  const { N, r, p } = scryptCost;
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

function parseHash(encoded: string): ScryptParameters | null {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [N, r, p] = parts.slice(1, 4).map((part) => (/^[0-9]{1,8}$/.test(part) ? Number(part) : NaN)) as [
    number,
    number,
    number,
  ];
  const powerOfTwo = N >= 2 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N > costMax.N || !(r >= 1 && r <= costMax.r) || !(p >= 1 && p <= costMax.p)) return null;
  const salt = Buffer.from(parts[4]!, 'base64');
  const hash = Buffer.from(parts[5]!, 'base64');
  if (salt.length < 8 || hash.length < 16 || hash.length > 64) return null;
  return { N, r, p, salt, hash };
}

/** Whether `encoded` is a hash this file can check (for tests and for the node's own checks). */
export function isPasswordHash(encoded: string): boolean {
  return parseHash(encoded) !== null;
}

/** A hash of nothing anybody knows: checked against when the user has none, so timing tells nothing. */
let decoy: Promise<string> | null = null;

/**
 * Whether `password` matches `encoded`. A null or unreadable hash never matches, but costs the
 * same scrypt work as a real check, so a caller cannot tell "no such user" from "wrong password"
 * by the time the answer takes.
 */
export async function verifyPassword(password: string, encoded: string | null): Promise<boolean> {
  const parsed = encoded === null ? null : parseHash(encoded);
  if (parsed === null) {
    decoy ??= hashPassword('raftlock decoy password');
    const fallback = parseHash(await decoy);
    if (fallback !== null) await derive(password, fallback.salt, fallback, fallback.hash.length);
    return false;
  }
  const candidate = await derive(password, parsed.salt, parsed, parsed.hash.length);
  return timingSafeEqual(candidate, parsed.hash);
}
