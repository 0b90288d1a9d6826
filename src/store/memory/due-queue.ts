/**
 * A binary min-heap of items by `due` time, each knowing its own position so that it can leave the queue
 * in O(log n). The store keeps one entry per peer table, due when the table's oldest peer may expire:
 * expiry looks only at tables that are due, and never scans the whole store to find them.
 */
export interface Due {
  due: number;
  /** Position in the queue; -1 when not queued. */
  queueIndex: number;
}

export class DueQueue<T extends Due> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  /** The item due first, if any. */
  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    item.queueIndex = this.items.length;
    this.items.push(item);
    this.up(item.queueIndex);
  }

  remove(item: T): void {
    const index = item.queueIndex;
    if (index < 0) return;
    const last = this.items.pop()!;
    item.queueIndex = -1;
    if (last === item) return;
    this.items[index] = last;
    last.queueIndex = index;
    this.up(index);
    this.down(last.queueIndex);
  }

  /** Restores the order after `item.due` changed. */
  update(item: T): void {
    this.up(item.queueIndex);
    this.down(item.queueIndex);
  }

  private up(index: number): void {
    const items = this.items;
    const item = items[index]!;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (items[parent]!.due <= item.due) break;
      items[index] = items[parent]!;
      items[index]!.queueIndex = index;
      index = parent;
    }
    items[index] = item;
    item.queueIndex = index;
  }

  private down(index: number): void {
    const items = this.items;
    const item = items[index]!;
    const length = items.length;
    for (;;) {
      let child = index * 2 + 1;
      if (child >= length) break;
      if (child + 1 < length && items[child + 1]!.due < items[child]!.due) child++;
      if (items[child]!.due >= item.due) break;
      items[index] = items[child]!;
      items[index]!.queueIndex = index;
      index = child;
    }
    items[index] = item;
    item.queueIndex = index;
  }
}
