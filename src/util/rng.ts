/**
 * The only source of randomness in the pure code: a seeded, fast, 32-bit PRNG (sfc32) with labelled
 * forks. `fork(label)` derives a child stream from this stream's *seed* and the label, never from
 * its position, so adding a random draw in one component does not shift any other component's
 * stream (the simulator forks `network`, `disk:n2`, `workload`, ...).
 */
export interface Rng {
  /** The seed this stream was created from (for replay commands and forks). */
  readonly seed: number;
  /** Uniform integer in [0, 2^32). */
  u32(): number;
  /** Uniform float in [0, 1). */
  float(): number;
  /** Uniform integer in [minInclusive, maxInclusive]. */
  int(minInclusive: number, maxInclusive: number): number;
  /** True with probability numerator/denominator. */
  chance(numerator: number, denominator: number): boolean;
  /** True with probability p (0..1). */
  bernoulli(p: number): boolean;
  /** Exponentially distributed float with the given mean. */
  exponential(mean: number): number;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** A shuffled copy. */
  shuffle<T>(items: readonly T[]): T[];
  /** An independent stream for a named component. */
  fork(label: string): Rng;
}

/** FNV-1a over the label's UTF-16 code units, mixed with the parent seed. */
function hashLabel(seed: number, label: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  h = Math.imul(h ^ Math.floor(seed / 0x100000000), 0x01000193) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h;
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

class Sfc32 implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    const low = seed >>> 0;
    const high = Math.floor(seed / 0x100000000) >>> 0;
    const mix = splitmix32(low ^ Math.imul(high, 0x9e3779b1));
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = 1;
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  float(): number {
    return this.u32() / 0x100000000;
  }

  int(minInclusive: number, maxInclusive: number): number {
    if (maxInclusive <= minInclusive) return minInclusive;
    return minInclusive + Math.floor(this.float() * (maxInclusive - minInclusive + 1));
  }

  chance(numerator: number, denominator: number): boolean {
    return this.u32() % denominator < numerator;
  }

  bernoulli(p: number): boolean {
    return p > 0 && this.float() < p;
  }

  exponential(mean: number): number {
    return -Math.log(1 - this.float()) * mean;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty array');
    return items[this.int(0, items.length - 1)] as T;
  }

  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const tmp = out[i] as T;
      out[i] = out[j] as T;
      out[j] = tmp;
    }
    return out;
  }

  fork(label: string): Rng {
    return new Sfc32(hashLabel(this.seed, label));
  }
}

/** Seeds are non-negative safe integers, so they print and replay exactly. */
export function createRng(seed: number): Rng {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`rng seed must be a non-negative safe integer, got ${seed}`);
  }
  return new Sfc32(seed);
}
