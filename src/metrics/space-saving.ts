/**
 * The hottest info hashes of a stream of announces in bounded memory: Metwally, Agrawal and El Abbadi's
 * space-saving summary. It keeps `capacity` counters; an announce for a monitored hash adds one to its
 * counter, one for any other hash takes over the smallest counter (its count + 1, the old count kept as the
 * error bound). Any hash announced more than total ÷ capacity times is monitored, and every count is an
 * overestimate by at most its error. Never a scan of the swarms.
 *
 * Per announce it is on the hot path, so it lives in typed arrays: an open-addressing index (linear
 * probing, deletion by backward shift) from the hash's first 30 bits to a counter slot, a min-heap of
 * slots on their counts, and the hashes' bytes as five 32-bit words a slot. No object, string or Map
 * entry is made per announce (measured: docs/performance.md, "Hand-written hot paths").
 */

export interface HeavyHitter {
  infoHash: Buffer;
  count: number;
  error: number;
}

const WORDS = 5; // 20 bytes
const EMPTY = -1;

export class SpaceSaving {
  /** Announces seen since the last reset. */
  total = 0;
  private size = 0;
  private readonly keys: Int32Array;
  private readonly words: Int32Array;
  private readonly counts: Float64Array;
  private readonly errors: Float64Array;
  /** heap[i] = slot; a min-heap on counts. */
  private readonly heap: Int32Array;
  /** where[slot] = its position in the heap. */
  private readonly where: Int32Array;
  /** index[bucket] = slot, or EMPTY; a power of two at least 4 × capacity, so probes stay short. */
  private readonly index: Int32Array;
  private readonly mask: number;

  constructor(readonly capacity: number) {
    this.keys = new Int32Array(capacity);
    this.words = new Int32Array(capacity * WORDS);
    this.counts = new Float64Array(capacity);
    this.errors = new Float64Array(capacity);
    this.heap = new Int32Array(capacity);
    this.where = new Int32Array(capacity);
    let buckets = 8;
    while (buckets < capacity * 4) buckets *= 2;
    this.index = new Int32Array(buckets).fill(EMPTY);
    this.mask = buckets - 1;
  }

  add(hash: Buffer): void {
    this.total++;
    if (this.capacity === 0 || hash.length < 20) return;
    // SHA-1 hashes are uniform: their first bits are a good key as they are.
    const key = hash.readInt32LE(0) & 0x3fffffff;
    const index = this.index;
    const mask = this.mask;
    let bucket = key & mask;
    for (let slot = index[bucket]!; slot !== EMPTY; slot = index[bucket]!) {
      if (this.keys[slot] === key) {
        // Two hashes sharing 30 bits of key: about 1 in 10^9 for SHA-1; the newcomer is not counted.
        if (!this.sameHash(slot, hash)) return;
        this.counts[slot]! += 1;
        this.down(this.where[slot]!);
        return;
      }
      bucket = (bucket + 1) & mask;
    }
    let slot: number;
    if (this.size < this.capacity) {
      slot = this.size++;
      this.heap[slot] = slot;
      this.where[slot] = slot;
      this.counts[slot] = 0;
      this.errors[slot] = 0;
    } else {
      // The smallest counter changes hands: its count becomes the newcomer's error.
      slot = this.heap[0]!;
      this.unindex(this.keys[slot]!);
      this.errors[slot] = this.counts[slot]!;
      // The free bucket found above may have moved in the backward shift: look again.
      bucket = key & mask;
      while (index[bucket] !== EMPTY) bucket = (bucket + 1) & mask;
    }
    this.keys[slot] = key;
    index[bucket] = slot;
    const words = this.words;
    for (let w = 0; w < WORDS; w++) words[slot * WORDS + w] = hash.readInt32LE(w * 4);
    this.counts[slot]! += 1;
    const at = this.where[slot]!;
    this.up(at);
    this.down(this.where[slot]!);
  }

  /** The `limit` largest counts, largest first. */
  top(limit = this.capacity): HeavyHitter[] {
    const slots = Array.from({ length: this.size }, (_, i) => i).sort((a, b) => this.counts[b]! - this.counts[a]!);
    return slots.slice(0, limit).map((slot) => {
      const infoHash = Buffer.allocUnsafe(20);
      for (let w = 0; w < WORDS; w++) infoHash.writeInt32LE(this.words[slot * WORDS + w]!, w * 4);
      return { infoHash, count: this.counts[slot]!, error: this.errors[slot]! };
    });
  }

  reset(): void {
    this.index.fill(EMPTY);
    this.size = 0;
    this.total = 0;
  }

  private sameHash(slot: number, hash: Buffer): boolean {
    const words = this.words;
    for (let w = 1; w < WORDS; w++) if (words[slot * WORDS + w] !== hash.readInt32LE(w * 4)) return false;
    return true;
  }

  /** Removes `key` from the index, shifting later entries of its probe run back (no tombstones). */
  private unindex(key: number): void {
    const index = this.index;
    const mask = this.mask;
    let hole = key & mask;
    while (this.keys[index[hole]!] !== key) hole = (hole + 1) & mask;
    let next = (hole + 1) & mask;
    while (index[next] !== EMPTY) {
      const home = this.keys[index[next]!]! & mask;
      // Move the entry back into the hole unless its home lies cyclically in (hole, next].
      const stays = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (!stays) {
        index[hole] = index[next]!;
        hole = next;
      }
      next = (next + 1) & mask;
    }
    index[hole] = EMPTY;
  }

  private up(i: number): void {
    const heap = this.heap;
    const counts = this.counts;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (counts[heap[parent]!]! <= counts[heap[i]!]!) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const heap = this.heap;
    const counts = this.counts;
    const size = this.size;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < size && counts[heap[left]!]! < counts[heap[least]!]!) least = left;
      if (right < size && counts[heap[right]!]! < counts[heap[least]!]!) least = right;
      if (least === i) return;
      this.swap(i, least);
      i = least;
    }
  }

  private swap(i: number, j: number): void {
    const heap = this.heap;
    const a = heap[i]!;
    const b = heap[j]!;
    heap[i] = b;
    heap[j] = a;
    this.where[a] = j;
    this.where[b] = i;
  }
}
