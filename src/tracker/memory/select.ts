/** Random peer selection in O(wanted), never O(swarm). */
import { samePrefix } from '../../bittorrent/address.js';
import type { Peer, PeerSet } from './swarm.js';

/**
 * Appends up to `count` distinct random peers of `set` to `out`, skipping `exclude`.
 * Small sets (at most twice the count) are taken whole; large ones are sampled by index with
 * rejection of repeats, which stays O(count) because at most half the indices are ever taken.
 */
export function samplePeers(set: PeerSet, count: number, exclude: Peer | undefined, out: Peer[]): void {
  const peers = set.peers;
  const available = peers.length - (exclude && exclude.set === set ? 1 : 0);
  if (count <= 0 || available <= 0) return;
  if (available <= count * 2) {
    const start = out.length;
    for (const peer of peers) if (peer !== exclude) out.push(peer);
    shuffleTail(out, start);
    out.length = Math.min(out.length, start + count);
    return;
  }
  const taken = new Set<number>();
  while (taken.size < count) {
    const index = Math.floor(Math.random() * peers.length);
    if (taken.has(index)) continue;
    const peer = peers[index]!;
    if (peer === exclude) continue;
    taken.add(index);
    out.push(peer);
  }
}

function shuffleTail(list: Peer[], start: number): void {
  for (let i = list.length - 1; i > start; i--) {
    const j = start + Math.floor(Math.random() * (i - start + 1));
    const swap = list[i]!;
    list[i] = list[j]!;
    list[j] = swap;
  }
}

/** Stable partition: peers whose address shares `bits` leading bits with `own` first. */
export function sameSubnetFirst(candidates: Peer[], own: Buffer, bits: number): Peer[] {
  const near: Peer[] = [];
  const far: Peer[] = [];
  for (const peer of candidates) (samePrefix(peer.addr, 0, own, 0, bits) ? near : far).push(peer);
  return near.concat(far);
}
