/**
 * The simulation's trace: one canonical text line per event. Every line feeds a running hash (two
 * FNV-1a lanes, 64 bits in all), so two runs are identical exactly when their trace hashes are;
 * the newest lines stay in a ring buffer that is dumped when a run fails.
 */
export class Trace {
  private readonly ring: string[];
  private next = 0;
  private filled = false;
  private h1 = 0x811c9dc5;
  private h2 = 0x01000193;
  lines = 0;

  constructor(
    ringSize = 200,
    private readonly listener: ((line: string) => void) | null = null,
  ) {
    this.ring = new Array<string>(Math.max(1, ringSize)).fill('');
  }

  add(timeMs: number, text: string): void {
    const line = `${timeMs} ${text}`;
    let a = this.h1;
    let b = this.h2;
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193) >>> 0;
      b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
    }
    this.h1 = Math.imul(a ^ 0x0a, 0x01000193) >>> 0;
    this.h2 = Math.imul(b ^ 0x0a, 0x5bd1e995) >>> 0;
    this.lines += 1;
    this.ring[this.next] = line;
    this.next = (this.next + 1) % this.ring.length;
    if (this.next === 0) this.filled = true;
    this.listener?.(line);
  }

  get hash(): string {
    return this.h1.toString(16).padStart(8, '0') + this.h2.toString(16).padStart(8, '0');
  }

  /** The newest lines, oldest first. */
  tail(): string[] {
    return this.filled
      ? [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)]
      : this.ring.slice(0, this.next);
  }
}
