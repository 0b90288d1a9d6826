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
}

/**
 * Appends up to `count` distinct random peers of slots [from, to) of `table` to `out` (one kind: the
 * seeders' or the leechers' range), skipping slot `exclude` (-1: none) and, in private mode, peers of user
 * `excludeUser` (0: none).
 * Small sets (at most twice the count) are shuffled partially; large ones are sampled by index with
 * rejection of repeats, which stays O(count) because at most half the indices are ever taken (and the
 * attempts are capped, so a swarm crowded with one user's peers cannot make it spin).
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
 * The indices one sampling has drawn: a small open-addressing set in a typed array that is reused from
 * call to call (sampling runs to completion, never interleaved), so drawing allocates nothing.
 */
class TakenSet {
  private entries = new Int32Array(256);
  private mask = 0;

  /** Empties the set, sized for up to `members` members at a load of at most a half. */
  reset(members: number): this {
    let size = 256;
    while (size < members * 2) size *= 2;
    if (this.entries.length < size) this.entries = new Int32Array(size);
    this.entries.fill(0, 0, size);
    this.mask = size - 1;
    return this;
  }

  /** Adds `index`; false if it was there. */
  add(index: number): boolean {
    const entries = this.entries;
    const mask = this.mask;
    for (let i = (Math.imul(index, 0x9e3779b1) >>> 16) & mask; ; i = (i + 1) & mask) {
      const entry = entries[i]!;
      if (entry === 0) {
        entries[i] = index + 1;
        return true;
      }
      if (entry === index + 1) return false;
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
