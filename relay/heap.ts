// A binary min-heap of (time, item): the relay core's session deadlines (relay/core.ts) and the
// gossip core's timers (relay/gossip.ts), so neither scans everything it holds to find what is due.
// Entries are never removed early: their owners skip stale ones when they come up.

export class DeadlineHeap<T> {
  private at: number[] = [];
  private items: T[] = [];
  get size() {
    return this.at.length;
  }
  peek(): number {
    return this.at.length ? this.at[0]! : Infinity;
  }
  top(): { at: number; item: T } | undefined {
    return this.at.length ? { at: this.at[0]!, item: this.items[0]! } : undefined;
  }
  push(at: number, item: T) {
    const a = this.at,
      it = this.items;
    let i = a.length;
    a.push(at), it.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= at) break;
      (a[i] = a[p]!), (it[i] = it[p]!), (i = p);
    }
    (a[i] = at), (it[i] = item);
  }
  /** The earliest entry if its time is before `now` (strictly; `orAt`: or at `now`), removed. */
  popBefore(now: number, orAt = false): { at: number; item: T } | undefined {
    const a = this.at,
      it = this.items;
    if (!a.length || !(a[0]! < now || (orAt && a[0] === now))) return undefined;
    const top = { at: a[0]!, item: it[0]! };
    const lastAt = a.pop()!,
      lastItem = it.pop()!;
    if (a.length) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1,
          r = l + 1;
        let m = i,
          mAt = lastAt;
        if (l < a.length && a[l]! < mAt) (m = l), (mAt = a[l]!);
        if (r < a.length && a[r]! < mAt) (m = r), (mAt = a[r]!);
        if (m === i) break;
        (a[i] = a[m]!), (it[i] = it[m]!), (i = m);
      }
      (a[i] = lastAt), (it[i] = lastItem);
    }
    return top;
  }
}
