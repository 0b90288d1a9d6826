/**
 * The blocklists in the tracker's policy. A client's own address is checked by its frontend, before any
 * work; here, with blocklist.peers, two more things: an announce that would register a blocked address
 * (a BEP 7 claim) is refused, and peers a driver hands back are filtered, for those that entered a swarm
 * before their address was blocked, or through a replica whose list was older.
 */
import { blockedError, type BlockProtocol, type Blocklists } from '../blocklist/lists.js';

/** Refuses an announce that would register a blocked address (`protocol` for the refusal metric). */
export function checkRegistered(lists: Blocklists, protocol: BlockProtocol, v4: Buffer | undefined, v6: Buffer | undefined): void {
  for (const compact of [v4, v6]) {
    if (!compact) continue;
    const list = lists.refuses(compact.subarray(0, compact.length - 2), protocol);
    if (list !== null) throw blockedError(list);
  }
}

/**
 * Packed compact peers (`size` bytes each: 6 or 18) without the blocked ones, and their aligned 20-byte
 * peer ids when there are any; the same buffers when none is blocked (the usual case: nothing copied).
 */
export function withoutBlocked(lists: Blocklists, peers: Buffer, ids: Buffer | undefined, size: number): [Buffer, Buffer | undefined] {
  let kept: number[] | null = null;
  const count = peers.length / size;
  for (let i = 0; i < count; i++) {
    const list = lists.match(peers, i * size, size - 2);
    if (list === null) {
      kept?.push(i);
      continue;
    }
    lists.observer?.withheld(list);
    if (!kept) {
      kept = [];
      for (let j = 0; j < i; j++) kept.push(j);
    }
  }
  if (!kept) return [peers, ids];
  const outPeers = Buffer.allocUnsafe(kept.length * size);
  const outIds = ids && Buffer.allocUnsafe(kept.length * 20);
  kept.forEach((i, n) => {
    peers.copy(outPeers, n * size, i * size, (i + 1) * size);
    ids?.copy(outIds!, n * 20, i * 20, (i + 1) * 20);
  });
  return [outPeers, outIds];
}
