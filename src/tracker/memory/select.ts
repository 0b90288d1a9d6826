/** Random peer selection in O(wanted), never O(swarm). */
import { samePrefix } from '../../bittorrent/address.js';
import type { PeerSet } from './swarm.js';

/** Chosen peers as (set, index) pairs in parallel arrays: no object per peer. */
export class Picks {
  readonly sets: PeerSet[] = [];
  readonly indices: number[] = [];

  get length(): number {
    return this.indices.length;
  }

  push(set: PeerSet, index: number): void {
    this.sets.push(set);
    this.indices.push(index);
  }

  truncate(length: number): void {
    if (this.indices.length <= length) return;
    this.sets.length = length;
    this.indices.length = length;
  }
}

/**
 * Appends up to `count` distinct random members of `set` to `out`, skipping index `exclude` (-1: none).
 * Small sets (at most twice the count) are shuffled partially; large ones are sampled by index with
 * rejection of repeats, which stays O(count) because at most half the indices are ever taken.
 */
export function samplePeers(set: PeerSet, count: number, exclude: number, out: Picks): void {
  const size = set.size;
  const available = size - (exclude >= 0 ? 1 : 0);
  if (count <= 0 || available <= 0) return;
  if (available <= count * 2) {
    const pool: number[] = [];
    for (let i = 0; i < size; i++) if (i !== exclude) pool.push(i);
    const take = Math.min(count, pool.length);
    for (let i = 0; i < take; i++) {
      const j = i + Math.floor(Math.random() * (pool.length - i));
      const chosen = pool[j]!;
      pool[j] = pool[i]!;
      out.push(set, chosen);
    }
    return;
  }
  const taken = new Set<number>();
  while (taken.size < count) {
    const index = Math.floor(Math.random() * size);
    if (index === exclude || taken.has(index)) continue;
    taken.add(index);
    out.push(set, index);
  }
}

/** Stable partition: picks whose address shares `bits` leading bits with `own` first. */
export function sameSubnetFirst(picks: Picks, own: Buffer, bits: number): Picks {
  const near = new Picks();
  const far = new Picks();
  for (let i = 0; i < picks.length; i++) {
    const set = picks.sets[i]!;
    const index = picks.indices[i]!;
    (samePrefix(set.addrs, index * set.addrSize, own, 0, bits) ? near : far).push(set, index);
  }
  for (let i = 0; i < far.length; i++) near.push(far.sets[i]!, far.indices[i]!);
  return near;
}
