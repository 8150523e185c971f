/** A checker found a broken invariant: the run stops and reports a correctness failure. */
export class Violation extends Error {
  override readonly name = 'Violation';
  constructor(
    readonly checker: string,
    message: string,
  ) {
    super(`${checker}: ${message}`);
  }
}

/** Cheap, stable 32-bit FNV-1a of bytes (entry identity for the log checkers). */
export function hashBytes(bytes: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] ?? 0), 0x01000193) >>> 0;
  return h;
}
