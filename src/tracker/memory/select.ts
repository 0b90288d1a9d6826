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
 * Appends up to `count` distinct random members of `set` to `out`, skipping index `exclude` (-1: none)
 * and, in private mode, peers of user `excludeUser` (0: none).
 * Small sets (at most twice the count) are shuffled partially; large ones are sampled by index with
 * rejection of repeats, which stays O(count) because at most half the indices are ever taken (and the
 * attempts are capped, so a swarm crowded with one user's peers cannot make it spin).
 */
export function samplePeers(set: PeerSet, count: number, exclude: number, out: Picks, excludeUser = 0): void {
  const size = set.size;
  const available = size - (exclude >= 0 ? 1 : 0);
  if (count <= 0 || available <= 0) return;
  const peers = set.peers;
  if (available <= count * 2) {
    const pool: number[] = [];
    for (let i = 0; i < size; i++) if (i !== exclude && (excludeUser === 0 || peers[i]!.userId !== excludeUser)) pool.push(i);
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
  let found = 0;
  // Without a user to skip every attempt succeeds at least half the time, so no cap is needed there.
  for (let attempts = excludeUser === 0 ? Infinity : count * 4 + 16; found < count && attempts > 0; attempts--) {
    const index = Math.floor(Math.random() * size);
    if (index === exclude || taken.has(index)) continue;
    taken.add(index);
    if (excludeUser !== 0 && peers[index]!.userId === excludeUser) continue;
    out.push(set, index);
    found++;
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
