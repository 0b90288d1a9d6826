/**
 * A first-in first-out queue of fixed capacity. Its slots are allocated once, so the driver's memory is
 * bounded by construction, and taking from the front is O(1) (Array#shift is not, on a long array).
 */
export class Ring<T> {
  private readonly slots: Array<T | undefined>;
  private head = 0;
  private size = 0;
  /** How many items have ever left the front: the sequence number of the current front item. */
  private taken = 0;

  constructor(readonly capacity: number) {
    this.slots = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  get full(): boolean {
    return this.size === this.capacity;
  }

  /** Sequence number of the front item; the item pushed n-th (from 0) has number n for ever. */
  get frontSeq(): number {
    return this.taken;
  }

  /** Sequence number the next pushed item gets. */
  get endSeq(): number {
    return this.taken + this.size;
  }

  push(item: T): void {
    if (this.full) throw new Error('ring is full');
    this.slots[(this.head + this.size) % this.capacity] = item;
    this.size++;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.size--;
    this.taken++;
    return item;
  }

  /** The first `count` items, front first, without removing them. */
  peek(count: number): T[] {
    const n = Math.min(count, this.size);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = this.slots[(this.head + i) % this.capacity]!;
    return out;
  }
}
