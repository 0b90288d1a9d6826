/** Random peer selection in O(wanted), never O(swarm). */
import { samePrefix } from '../../bittorrent/address.js';
import type { PeerTable } from './peers.js';

/** Chosen peers as (table, slot) pairs in parallel arrays: no object per peer. */
export class Picks {
  readonly tables: PeerTable[] = [];
  readonly slots: number[] = [];

  get length(): number {
    return this.slots.length;
  }

  push(table: PeerTable, slot: number): void {
    this.tables.push(table);
    this.slots.push(slot);
  }

  truncate(length: number): void {
    if (this.slots.length <= length) return;
    this.tables.length = length;
    this.slots.length = length;
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
      out.push(table, chosen);
    }
    return;
  }
  const taken = new Set<number>();
  let found = 0;
  // Without a user to skip every attempt succeeds at least half the time, so no cap is needed there.
  for (let attempts = excludeUser === 0 ? Infinity : count * 4 + 16; found < count && attempts > 0; attempts--) {
    const index = from + Math.floor(Math.random() * size);
    if (index === exclude || taken.has(index)) continue;
    taken.add(index);
    if (excludeUser !== 0 && table.userOf(index) === excludeUser) continue;
    out.push(table, index);
    found++;
  }
}

/** Stable partition: picks whose address shares `bits` leading bits with `own` first. */
export function sameSubnetFirst(picks: Picks, own: Buffer, bits: number): Picks {
  const near = new Picks();
  const far = new Picks();
  for (let i = 0; i < picks.length; i++) {
    const table = picks.tables[i]!;
    const slot = picks.slots[i]!;
    (samePrefix(table.bytes, table.addrOffset + slot * table.addrSize, own, 0, bits) ? near : far).push(table, slot);
  }
  for (let i = 0; i < far.length; i++) near.push(far.tables[i]!, far.slots[i]!);
  return near;
}
