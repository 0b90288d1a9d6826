/** Random peer selection in O(wanted), never O(swarm). */
import { samePrefix } from '../../bittorrent/address.js';
import type { PeerTable } from './peers.js';

/**
 * Chosen peers: slots of one table (an announce picks from one table per family) in a typed array that
 * is reused from announce to announce. An announce runs to completion without yielding, so one set of
 * these per store is enough, and picking allocates nothing per peer.
 */
export class Picks {
  table: PeerTable | null = null;
  slots = new Int32Array(64);
  length = 0;

  reset(table: PeerTable | null): this {
    this.table = table;
    this.length = 0;
    return this;
  }

  push(slot: number): void {
    if (this.length === this.slots.length) {
      const grown = new Int32Array(this.slots.length * 2);
      grown.set(this.slots);
      this.slots = grown;
    }
    this.slots[this.length++] = slot;
  }

  /** Pushes slots start, start + 1, ... start + n - 1. */
  pushRun(start: number, n: number): void {
    while (this.length + n > this.slots.length) {
      const grown = new Int32Array(this.slots.length * 2);
      grown.set(this.slots);
      this.slots = grown;
    }
    const slots = this.slots;
    let length = this.length;
    for (let i = 0; i < n; i++) slots[length++] = start + i;
    this.length = length;
  }
}

/**
 * Appends up to `count` distinct random peers of slots [from, to) of `table` to `out` (one kind: the
 * seeders' or the leechers' range), skipping slot `exclude` (-1: none) and, in private mode, peers of user
 * `excludeUser` (0: none).
 * Small sets (at most twice the count) are shuffled partially; large ones are sampled by index with
 * rejection of repeats, which stays O(count) because at most half the indices are ever taken (and the
 * attempts are capped, so a swarm crowded with one user's peers cannot make it spin); very large ones in
 * short runs of neighbouring slots (sampleRuns).
 */
export function samplePeers(table: PeerTable, from: number, to: number, count: number, exclude: number, out: Picks, excludeUser = 0): void {
  const size = to - from;
  const available = size - (exclude >= from && exclude < to ? 1 : 0);
  if (count <= 0 || available <= 0) return;
  if (available <= count * 2) {
    const pool: number[] = [];
    for (let i = from; i < to; i++) if (i !== exclude && (excludeUser === 0 || table.userOf(i) !== excludeUser)) pool.push(i);
    const take = Math.min(count, pool.length);
    for (let i = 0; i < take; i++) {
      const j = i + Math.floor(Math.random() * (pool.length - i));
      const chosen = pool[j]!;
      pool[j] = pool[i]!;
      out.push(chosen);
    }
    return;
  }
  if (size >= Math.max(count, RUN_LENGTH) * RUNS_FROM) {
    sampleRuns(table, from, size, count, exclude, out, excludeUser);
    return;
  }
  // Without a user to skip every attempt succeeds at least half the time: the cap (which bounds the set
  // of taken indices too) is then all but never reached.
  const maxAttempts = count * (excludeUser === 0 ? 6 : 4) + 16;
  const taken = scratch.reset(maxAttempts);
  let found = 0;
  for (let attempts = maxAttempts; found < count && attempts > 0; attempts--) {
    const index = from + Math.floor(Math.random() * size);
    if (index === exclude || !taken.add(index)) continue;
    if (excludeUser !== 0 && table.userOf(index) === excludeUser) continue;
    out.push(index);
    found++;
  }
}

/**
 * Peers per run of sampleRuns (numwant 50, the usual ask, takes two runs); a range is sampled in runs
 * when it holds at least RUNS_FROM times the count and the run length. MEASURED with bench/scaling.ts
 * (pinned to one CPU, a loaded machine; announce cost into a swarm of 1M ÷ a swarm of 10, numwant 50,
 * medians of three runs of five rounds): independent slots 2.81 / 2.70 / 2.81, runs of 16 (four per
 * answer) 1.74 / 1.61 / 1.77, of 20 (three) 1.72 / 1.69 / 1.77, of 25 (two) 1.55 / 1.59 / 1.56. Each
 * run costs a TLB and cache miss in a multi-MB array; three and four runs cost about the same here.
 */
export const RUN_LENGTH = 25;
export const RUNS_FROM = 16;

/**
 * Samples `count` peers of a range far larger than the count as runs of up to RUN_LENGTH consecutive
 * slots, each starting at a uniformly random slot and wrapping from the range's end to its start.
 * Why: in a swarm of 1M, 50 independent slots made the answer wait on some 50 cache and TLB misses
 * across the table's multi-MB arrays (measured: docs/performance.md, "Hand-written hot paths"), where a
 * run's addresses (and peer ids) lie together, and copy as one span (packAddresses).
 * What it keeps of a uniform sample: every slot is about equally likely to be in an answer (a slot is
 * covered by RUN_LENGTH starts, wrapping included, whatever its position), so no peer is favoured or
 * forgotten; the runs start independently, so an answer mixes several places of the swarm, and the next
 * announce gets other runs. What it gives up: neighbouring slots tend to be answered together. Slots are
 * in arrival order, reshuffled by every leave (the last peer of a range fills the hole) and every change
 * of kind, so neighbours are peers that joined about the same time or took each other's place; each
 * announcer gets runs of its own at random, so the peers it is told of still spread over the whole swarm.
 * (The redis driver answers from one random window of its sorted sets, wrapping around, for the same reason.)
 * Runs never overlap, so no slot can come twice: the range is cut into buckets of RUN_LENGTH slots (the
 * last one possibly shorter), a run touches at most three consecutive buckets from the one it starts in,
 * and a run is drawn again when it starts within two buckets of an accepted run's start (rare: the
 * range holds at least RUNS_FROM runs' worth of buckets per run wanted). `exclude` and the excluded
 * user's peers are skipped; the runs drawn are capped as in samplePeers, so the work stays O(count)
 * when one user crowds the swarm.
 */
function sampleRuns(table: PeerTable, from: number, size: number, count: number, exclude: number, out: Picks, excludeUser: number): void {
  const buckets = Math.ceil(size / RUN_LENGTH);
  const maxRuns = Math.ceil(count / RUN_LENGTH) * (excludeUser === 0 ? 4 : 8) + 8;
  const starts = scratch.reset(maxRuns);
  let found = 0;
  for (let runs = maxRuns; found < count && runs > 0; runs--) {
    const offset = Math.floor(Math.random() * size);
    const bucket = Math.floor(offset / RUN_LENGTH);
    if (nearTaken(starts, bucket, buckets)) continue;
    starts.add(bucket);
    let index = from + offset;
    const end = from + size;
    const whole = Math.min(RUN_LENGTH, count - found);
    // The common case in one step: a run short of the range's end, without the announcer or a user to skip.
    if (excludeUser === 0 && index + whole <= end && (exclude < index || exclude >= index + whole)) {
      out.pushRun(index, whole);
      found += whole;
      continue;
    }
    for (let k = 0; k < RUN_LENGTH && found < count; k++) {
      if (index !== exclude && (excludeUser === 0 || table.userOf(index) !== excludeUser)) {
        out.push(index);
        found++;
      }
      if (++index === end) index = from;
    }
  }
}

/** Whether a bucket within two of `bucket` (circularly, of `buckets`) has a run already. */
function nearTaken(starts: TakenSet, bucket: number, buckets: number): boolean {
  for (let d = -2; d <= 2; d++) {
    let b = bucket + d;
    if (b < 0) b += buckets;
    else if (b >= buckets) b -= buckets;
    if (starts.has(b)) return true;
  }
  return false;
}

/**
 * The indices one sampling has drawn: a small open-addressing set in typed arrays that are reused from
 * call to call (sampling runs to completion, never interleaved), so drawing allocates nothing. Each
 * entry carries the number of the reset that wrote it, so emptying the set is one increment rather than
 * a fill of its table on every announce.
 */
class TakenSet {
  private entries = new Int32Array(256);
  private stamps = new Int32Array(256);
  private stamp = 0;
  private mask = 0;

  /** Empties the set, sized for up to `members` members at a load of at most a half. */
  reset(members: number): this {
    let size = 256;
    while (size < members * 2) size *= 2;
    if (this.entries.length < size) {
      this.entries = new Int32Array(size);
      this.stamps = new Int32Array(size);
      this.stamp = 0;
    }
    if (this.stamp === 0x7fffffff) {
      this.stamps.fill(0);
      this.stamp = 0;
    }
    this.stamp++;
    this.mask = size - 1;
    return this;
  }

  /** Adds `index`; false if it was there. */
  add(index: number): boolean {
    const { entries, stamps, stamp, mask } = this;
    for (let i = (Math.imul(index, 0x9e3779b1) >>> 16) & mask; ; i = (i + 1) & mask) {
      if (stamps[i] !== stamp) {
        stamps[i] = stamp;
        entries[i] = index;
        return true;
      }
      if (entries[i] === index) return false;
    }
  }

  has(index: number): boolean {
    const { entries, stamps, stamp, mask } = this;
    for (let i = (Math.imul(index, 0x9e3779b1) >>> 16) & mask; ; i = (i + 1) & mask) {
      if (stamps[i] !== stamp) return false;
      if (entries[i] === index) return true;
    }
  }
}

const scratch = new TakenSet();

/**
 * Appends to `out`, up to `count` in all, the candidates whose address shares `bits` leading bits with
 * `own`, then the others, each group in the order drawn; returns how many it appended.
 */
export function sameSubnetFirst(candidates: Picks, own: Buffer, bits: number, count: number, out: Picks): number {
  const table = candidates.table!;
  const start = out.length;
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < candidates.length && out.length - start < count; i++) {
      const slot = candidates.slots[i]!;
      const near = samePrefix(table.bytes, table.addrOffset + slot * table.addrSize, own, 0, bits);
      if (near === (pass === 0)) out.push(slot);
    }
  }
  return out.length - start;
}
