/**
 * A binary min-heap of timers ordered by (atMs, tie), where `tie` is a total order on the payload,
 * so pop order never depends on insertion history: a restored replica pops in the same order as
 * one that ran from the start. Entries are never removed early; callers skip stale ones on pop
 * (lazy deletion) and `compact` drops them in bulk.
 */
export class TimerHeap<T> {
  private items: { atMs: number; value: T }[] = [];

  constructor(private readonly tie: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  push(atMs: number, value: T): void {
    const items = this.items;
    items.push({ atMs, value });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** The earliest entry's time, or Infinity when empty. */
  peekAtMs(): number {
    return this.items[0]?.atMs ?? Infinity;
  }

  peek(): { readonly atMs: number; readonly value: T } | undefined {
    return this.items[0];
  }

  pop(): { readonly atMs: number; readonly value: T } | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && this.less(left, smallest)) smallest = left;
      if (right < items.length && this.less(right, smallest)) smallest = right;
      if (smallest === i) break;
      this.swap(i, smallest);
      i = smallest;
    }
    return top;
  }

  /** Keeps only the entries `live` accepts, then re-heapifies. */
  compact(live: (atMs: number, value: T) => boolean): void {
    const kept = this.items.filter((item) => live(item.atMs, item.value));
    this.items = [];
    for (const item of kept) this.push(item.atMs, item.value);
  }

  clear(): void {
    this.items = [];
  }

  private less(a: number, b: number): boolean {
    const x = this.items[a];
    const y = this.items[b];
    if (x === undefined || y === undefined) return false;
    if (x.atMs !== y.atMs) return x.atMs < y.atMs;
    return this.tie(x.value, y.value) < 0;
  }

  private swap(a: number, b: number): void {
    const x = this.items[a];
    const y = this.items[b];
    if (x === undefined || y === undefined) return;
    this.items[a] = y;
    this.items[b] = x;
  }
}
