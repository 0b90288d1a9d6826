/**
 * A set of IP address ranges, IPv4 and IPv6, built once and then only read: sorted, merged ranges in
 * typed arrays and a binary search per lookup. Typed arrays because a list of millions of ranges must
 * cost a few bytes per range and nothing for the garbage collector to walk; IPv6 addresses as four
 * 32-bit words (big-endian word order), so no lookup allocates a BigInt. IPv6 ranges live in blocks of
 * a fixed size, from the first add to the last lookup: the builder grows by a block, never by copying
 * everything it holds into an array twice as big, and the set keeps the builder's blocks, so that a
 * load never holds the list twice (its peak is the list plus the sort's index arrays).
 */

/** IPv6 ranges per block: 2 ** BLOCK_BITS. */
const BLOCK_BITS = 15;
const BLOCK_RANGES = 2 ** BLOCK_BITS;
const BLOCK_MASK = BLOCK_RANGES - 1;
/** Contiguous arrays (IPv4) as one block: an index below 2 ** 31 is its own offset. */
const WHOLE_BITS = 31;

/** A built set: disjoint, non-adjacent ranges in ascending order. */
export class RangeSet {
  constructor(
    /** First and last address of each IPv4 range. */
    private readonly starts4: Uint32Array,
    private readonly ends4: Uint32Array,
    /** First and last address of each IPv6 range, four words each, BLOCK_RANGES ranges per block. */
    private readonly starts6: readonly Uint32Array[],
    private readonly ends6: readonly Uint32Array[],
    private readonly count6: number,
  ) {}

  static readonly EMPTY = new RangeSet(new Uint32Array(0), new Uint32Array(0), [], [], 0);

  /** Ranges after merging, per family. */
  get size4(): number {
    return this.starts4.length;
  }

  get size6(): number {
    return this.count6;
  }

  /** Bytes the set holds (its arrays' buffers, which may run a little past the ranges: merge4/merge6). */
  get bytes(): number {
    let bytes = this.starts4.buffer.byteLength + this.ends4.buffer.byteLength;
    for (const block of [...this.starts6, ...this.ends6]) bytes += block.buffer.byteLength;
    return bytes;
  }

  /**
   * Whether the address of `length` bytes (4 or 16) at `offset` is in the set. An IPv4-mapped IPv6
   * address (::ffff:a.b.c.d) is looked up as the IPv4 address it is.
   */
  has(ip: Uint8Array, offset = 0, length = ip.length): boolean {
    if (length === 4) return this.has4(readWord(ip, offset));
    if (length !== 16) return false;
    if (isMapped(ip, offset)) return this.has4(readWord(ip, offset + 12));
    return this.has6(readWord(ip, offset), readWord(ip, offset + 4), readWord(ip, offset + 8), readWord(ip, offset + 12));
  }

  has4(address: number): boolean {
    const starts = this.starts4;
    let lo = 0;
    let hi = starts.length - 1;
    if (hi < 0 || address < starts[0]!) return false;
    // The last range that starts at or before the address is the only one that can hold it.
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid]! <= address) lo = mid;
      else hi = mid - 1;
    }
    return this.ends4[lo]! >= address;
  }

  has6(w0: number, w1: number, w2: number, w3: number): boolean {
    const starts = this.starts6;
    let lo = 0;
    let hi = this.count6 - 1;
    if (hi < 0 || compareWords(starts[0]!, 0, w0, w1, w2, w3) > 0) return false;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (compareWords(starts[mid >>> BLOCK_BITS]!, (mid & BLOCK_MASK) * 4, w0, w1, w2, w3) <= 0) lo = mid;
      else hi = mid - 1;
    }
    return compareWords(this.ends6[lo >>> BLOCK_BITS]!, (lo & BLOCK_MASK) * 4, w0, w1, w2, w3) >= 0;
  }
}

/** Collects ranges in any order, then sorts and merges them into a RangeSet. */
export class RangeSetBuilder {
  private starts4: Uint32Array = new Uint32Array(1024);
  private ends4: Uint32Array = new Uint32Array(1024);
  private count4 = 0;
  private starts6: Uint32Array[] = [];
  private ends6: Uint32Array[] = [];
  private count6 = 0;

  /** @param maxRanges ranges beyond it make add4/add6 throw (before merging: what memory the build needs). */
  constructor(private readonly maxRanges: number) {}

  get count(): number {
    return this.count4 + this.count6;
  }

  /** An IPv4 range, first <= last, as unsigned 32-bit numbers. */
  add4(first: number, last: number): void {
    this.checkRoom();
    if (this.count4 === this.starts4.length) {
      this.starts4 = grow(this.starts4);
      this.ends4 = grow(this.ends4);
    }
    this.starts4[this.count4] = first;
    this.ends4[this.count4++] = last;
  }

  /** An IPv6 range, first <= last, four words each at the given offsets. */
  add6(first: Uint32Array, firstOffset: number, last: Uint32Array, lastOffset: number): void {
    this.checkRoom();
    const at = (this.count6 & BLOCK_MASK) * 4;
    if (at === 0) {
      this.starts6.push(new Uint32Array(BLOCK_RANGES * 4));
      this.ends6.push(new Uint32Array(BLOCK_RANGES * 4));
    }
    const block = this.count6++ >>> BLOCK_BITS;
    copy4(first, firstOffset, this.starts6[block]!, at);
    copy4(last, lastOffset, this.ends6[block]!, at);
  }

  private checkRoom(): void {
    if (this.count >= this.maxRanges) throw new RangeError(`more than ${this.maxRanges} ranges`);
  }

  build(): RangeSet {
    const [starts4, ends4] = merge4(this.starts4, this.ends4, this.count4);
    const count6 = merge6(this.starts6, this.ends6, this.count6);
    const set = new RangeSet(starts4, ends4, this.starts6, this.ends6, count6);
    // The builder's arrays go to the set: a builder is used once.
    this.starts4 = this.ends4 = new Uint32Array(0);
    this.starts6 = [];
    this.ends6 = [];
    this.count4 = this.count6 = 0;
    return set;
  }
}

function grow(array: Uint32Array): Uint32Array<ArrayBuffer> {
  const bigger = new Uint32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}

/** Four words (an IPv6 address) from one array to another, without a subarray per copy. */
function copy4(from: Uint32Array, fromOffset: number, to: Uint32Array, toOffset: number): void {
  to[toOffset] = from[fromOffset]!;
  to[toOffset + 1] = from[fromOffset + 1]!;
  to[toOffset + 2] = from[fromOffset + 2]!;
  to[toOffset + 3] = from[fromOffset + 3]!;
}

function readWord(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

function isMapped(bytes: Uint8Array, offset: number): boolean {
  for (let i = 0; i < 10; i++) if (bytes[offset + i] !== 0) return false;
  return bytes[offset + 10] === 0xff && bytes[offset + 11] === 0xff;
}

/** The four words at `offset` against w0..w3: negative, zero or positive. */
function compareWords(words: Uint32Array, offset: number, w0: number, w1: number, w2: number, w3: number): number {
  return words[offset]! - w0 || words[offset + 1]! - w1 || words[offset + 2]! - w2 || words[offset + 3]! - w3;
}

/**
 * The indices 0..count-1 ordered by the key of `stride` words at index*stride (most significant word
 * first): a least-significant-digit radix sort on 16-bit digits, linear in count, with no comparator
 * called from native code. Each word is gathered once in the current order and moves with the indices,
 * so a pass reads its digits in sequence rather than all over the keys.
 */
function sortedOrder(keys: readonly Uint32Array[], bits: number, stride: number, count: number): Uint32Array {
  const mask = 2 ** bits - 1;
  let order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  let nextOrder = new Uint32Array(count);
  let digits = new Uint32Array(count);
  let nextDigits = new Uint32Array(count);
  const buckets = new Uint32Array(65537);
  for (let word = stride - 1; word >= 0; word--) {
    for (let i = 0; i < count; i++) {
      const index = order[i]!;
      digits[i] = keys[index >>> bits]![(index & mask) * stride + word]!;
    }
    for (let shift = 0; shift <= 16; shift += 16) {
      buckets.fill(0);
      for (let i = 0; i < count; i++) buckets[((digits[i]! >>> shift) & 0xffff) + 1]!++;
      // One digit for all: this pass would not move anything.
      if (buckets.includes(count)) continue;
      for (let d = 1; d <= 65536; d++) buckets[d]! += buckets[d - 1]!;
      for (let i = 0; i < count; i++) {
        const value = digits[i]!;
        const at = buckets[(value >>> shift) & 0xffff]!++;
        nextOrder[at] = order[i]!;
        nextDigits[at] = value;
      }
      [order, nextOrder] = [nextOrder, order];
      [digits, nextDigits] = [nextDigits, digits];
    }
  }
  return order;
}

/**
 * Reorders the `count` IPv4 ranges in `starts` and `ends` in place so that range i becomes the one
 * `order[i]` named: each cycle of the permutation walked once, one range held aside. No second pair of
 * arrays as big as the list. `order` is used up (each index set to itself as its range lands).
 */
function permute(starts: Uint32Array, ends: Uint32Array, order: Uint32Array, count: number): void {
  for (let i = 0; i < count; i++) {
    if (order[i] === i) continue;
    const heldStart = starts[i]!;
    const heldEnd = ends[i]!;
    let j = i;
    for (;;) {
      const from = order[j]!;
      order[j] = j;
      if (from === i) {
        starts[j] = heldStart;
        ends[j] = heldEnd;
        break;
      }
      starts[j] = starts[from]!;
      ends[j] = ends[from]!;
      j = from;
    }
  }
}

/**
 * The first `words` words of `array`, without a copy when they fill most of it: a copy would need the
 * list twice over at the end of the build, for a few percent less to keep.
 */
function trimmed(array: Uint32Array, words: number): Uint32Array {
  return words * 4 >= array.length * 3 ? array.subarray(0, words) : array.slice(0, words);
}

/** Sorts and merges the builder's IPv4 ranges in its own arrays (they are its to give away). */
function merge4(starts: Uint32Array, ends: Uint32Array, count: number): [Uint32Array, Uint32Array] {
  permute(starts, ends, sortedOrder([starts], WHOLE_BITS, 1, count), count);
  let n = 0;
  for (let i = 0; i < count; i++) {
    const start = starts[i]!;
    const end = ends[i]!;
    // Overlapping or adjacent (start right after the last end): one range. Written at n <= i: read already.
    if (n > 0 && start <= ends[n - 1]! + 1) {
      if (end > ends[n - 1]!) ends[n - 1] = end;
    } else {
      starts[n] = start;
      ends[n++] = end;
    }
  }
  return [trimmed(starts, n), trimmed(ends, n)];
}

/**
 * The same for IPv6, in the blocks (permuteBlocks, then merged in place); returns the ranges left. The
 * blocks past the last range are dropped and the last one cut to its ranges.
 */
function merge6(starts: Uint32Array[], ends: Uint32Array[], count: number): number {
  permuteBlocks(starts, ends, sortedOrder(starts, BLOCK_BITS, 4, count), count);
  const successor = new Uint32Array(4);
  let n = 0;
  for (let i = 0; i < count; i++) {
    const fromStarts = starts[i >>> BLOCK_BITS]!;
    const fromEnds = ends[i >>> BLOCK_BITS]!;
    const at = (i & BLOCK_MASK) * 4;
    const lastEnds = n > 0 ? ends[(n - 1) >>> BLOCK_BITS]! : fromEnds;
    const last = ((n - 1) & BLOCK_MASK) * 4;
    if (n > 0 && startsWithin(fromStarts, at, lastEnds, last, successor)) {
      if (compareWords(fromEnds, at, lastEnds[last]!, lastEnds[last + 1]!, lastEnds[last + 2]!, lastEnds[last + 3]!) > 0) copy4(fromEnds, at, lastEnds, last);
    } else {
      if (n !== i) {
        copy4(fromStarts, at, starts[n >>> BLOCK_BITS]!, (n & BLOCK_MASK) * 4);
        copy4(fromEnds, at, ends[n >>> BLOCK_BITS]!, (n & BLOCK_MASK) * 4);
      }
      n++;
    }
  }
  const blocks = Math.ceil(n / BLOCK_RANGES);
  starts.length = ends.length = blocks;
  const inLast = n - (blocks - 1) * BLOCK_RANGES;
  if (blocks > 0 && inLast < BLOCK_RANGES) {
    starts[blocks - 1] = starts[blocks - 1]!.slice(0, inLast * 4);
    ends[blocks - 1] = ends[blocks - 1]!.slice(0, inLast * 4);
  }
  return n;
}

/** permute() for IPv6 ranges, in blocks of BLOCK_RANGES. */
function permuteBlocks(starts: Uint32Array[], ends: Uint32Array[], order: Uint32Array, count: number): void {
  const held = new Uint32Array(8);
  for (let i = 0; i < count; i++) {
    if (order[i] === i) continue;
    copy4(starts[i >>> BLOCK_BITS]!, (i & BLOCK_MASK) * 4, held, 0);
    copy4(ends[i >>> BLOCK_BITS]!, (i & BLOCK_MASK) * 4, held, 4);
    let j = i;
    for (;;) {
      const from = order[j]!;
      order[j] = j;
      const toStarts = starts[j >>> BLOCK_BITS]!;
      const toEnds = ends[j >>> BLOCK_BITS]!;
      const to = (j & BLOCK_MASK) * 4;
      if (from === i) {
        copy4(held, 0, toStarts, to);
        copy4(held, 4, toEnds, to);
        break;
      }
      copy4(starts[from >>> BLOCK_BITS]!, (from & BLOCK_MASK) * 4, toStarts, to);
      copy4(ends[from >>> BLOCK_BITS]!, (from & BLOCK_MASK) * 4, toEnds, to);
      j = from;
    }
  }
}

/** Whether the start at `at` is at most one past the end at `last`: overlapping or adjacent. */
function startsWithin(starts: Uint32Array, at: number, ends: Uint32Array, last: number, successor: Uint32Array): boolean {
  const s0 = starts[at]!;
  const s1 = starts[at + 1]!;
  const s2 = starts[at + 2]!;
  const s3 = starts[at + 3]!;
  if (compareWords(ends, last, s0, s1, s2, s3) >= 0) return true;
  // end + 1, with the carry; the last address of all has no successor and everything is within it.
  let carry = 1;
  for (let w = 3; w >= 0; w--) {
    const sum = ends[last + w]! + carry;
    successor[w] = sum >>> 0;
    carry = sum > 0xffffffff ? 1 : 0;
  }
  if (carry === 1) return true;
  return compareWords(successor, 0, s0, s1, s2, s3) === 0;
}
