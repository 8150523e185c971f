/**
 * A binary min-heap ordered by (at, seq): equal times pop in insertion order, so runs are
 * deterministic without any tie-breaking by object identity.
 */
export class TimeHeap<T> {
  private readonly items: { at: number; seq: number; value: T }[] = [];
  private seq = 0;

  get size(): number {
    return this.items.length;
  }

  push(at: number, value: T): void {
    const item = { at, seq: this.seq++, value };
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent];
      if (p === undefined || !less(item, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = item;
  }

  peekAt(): number | null {
    const top = this.items[0];
    return top === undefined ? null : top.at;
  }

  pop(): { at: number; value: T } | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined) return undefined;
    if (items.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let best = last;
        const li = items[l];
        if (li !== undefined && less(li, best)) {
          m = l;
          best = li;
        }
        const ri = items[r];
        if (ri !== undefined && less(ri, best)) {
          m = r;
          best = ri;
        }
        if (m === i) break;
        items[i] = best;
        i = m;
      }
      items[i] = last;
    }
    return { at: top.at, value: top.value };
  }

  clear(): void {
    this.items.length = 0;
  }
}

function less(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
