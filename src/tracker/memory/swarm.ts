/**
 * In-process swarm structures. Every operation is O(1) or O(numwant):
 * - a PeerSet is a dense array plus each peer's own index into it, so removal swaps with the last
 *   element and random sampling picks indices without copying the set;
 * - every live peer sits on one list ordered by last announce (refresh moves it to the tail), so
 *   expiry pops from the head and never scans a swarm.
 */
import type { Family } from '../../bittorrent/address.js';

export class Peer {
  lastSeen = 0;
  index = -1;
  set: PeerSet | null = null;
  prev: Peer | null = null;
  next: Peer | null = null;

  constructor(
    readonly key: string,
    readonly addr: Buffer,
    public peerId: Buffer,
    readonly swarm: Swarm,
  ) {}
}

/**
 * The peers of one kind (seeders or leechers) of one swarm. Their compact addresses are also kept
 * packed side by side in `addrs`, index-aligned with `peers`, so that answering an announce copies
 * bytes from one buffer instead of chasing a peer object and its address per peer.
 */
export class PeerSet {
  readonly peers: Peer[] = [];
  addrs: Buffer;

  constructor(readonly addrSize: number) {
    this.addrs = Buffer.allocUnsafe(addrSize * 4);
  }

  get size(): number {
    return this.peers.length;
  }

  add(peer: Peer): void {
    const index = this.peers.length;
    const size = this.addrSize;
    if ((index + 1) * size > this.addrs.length) this.resize(this.addrs.length * 2);
    peer.set = this;
    peer.index = index;
    this.peers.push(peer);
    peer.addr.copy(this.addrs, index * size);
  }

  remove(peer: Peer): void {
    const last = this.peers.pop()!;
    const size = this.addrSize;
    if (last !== peer) {
      this.peers[peer.index] = last;
      last.index = peer.index;
      this.addrs.copy(this.addrs, peer.index * size, this.peers.length * size, (this.peers.length + 1) * size);
    }
    peer.set = null;
    peer.index = -1;
    // Give memory back when a big swarm has shrunk to a quarter.
    if (this.addrs.length > size * 256 && this.peers.length * size * 4 < this.addrs.length) this.resize(this.addrs.length / 2);
  }

  private resize(bytes: number): void {
    const next = Buffer.allocUnsafe(bytes);
    this.addrs.copy(next, 0, 0, this.peers.length * this.addrSize);
    this.addrs = next;
  }
}

export class Swarm {
  readonly seeders: PeerSet;
  readonly leechers: PeerSet;
  readonly byKey = new Map<string, Peer>();

  constructor(
    readonly torrent: Torrent,
    readonly family: Family,
  ) {
    const addrSize = family === 4 ? 6 : 18;
    this.seeders = new PeerSet(addrSize);
    this.leechers = new PeerSet(addrSize);
  }

  get size(): number {
    return this.byKey.size;
  }
}

export class Torrent {
  v4: Swarm | null = null;
  v6: Swarm | null = null;

  constructor(
    readonly key: string,
    readonly infoHash: Buffer,
  ) {}

  swarm(family: Family): Swarm | null {
    return family === 4 ? this.v4 : this.v6;
  }
}

/** Doubly linked list of peers, oldest announce first. */
export class AgeList {
  head: Peer | null = null;
  tail: Peer | null = null;

  append(peer: Peer): void {
    peer.prev = this.tail;
    peer.next = null;
    if (this.tail) this.tail.next = peer;
    else this.head = peer;
    this.tail = peer;
  }

  unlink(peer: Peer): void {
    if (peer.prev) peer.prev.next = peer.next;
    else this.head = peer.next;
    if (peer.next) peer.next.prev = peer.prev;
    else this.tail = peer.prev;
    peer.prev = peer.next = null;
  }

  moveToTail(peer: Peer): void {
    if (this.tail === peer) return;
    this.unlink(peer);
    this.append(peer);
  }
}
