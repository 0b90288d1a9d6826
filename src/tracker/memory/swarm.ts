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

export class PeerSet {
  readonly peers: Peer[] = [];

  get size(): number {
    return this.peers.length;
  }

  add(peer: Peer): void {
    peer.set = this;
    peer.index = this.peers.length;
    this.peers.push(peer);
  }

  remove(peer: Peer): void {
    const last = this.peers.pop()!;
    if (last !== peer) {
      this.peers[peer.index] = last;
      last.index = peer.index;
    }
    peer.set = null;
    peer.index = -1;
  }
}

export class Swarm {
  readonly seeders = new PeerSet();
  readonly leechers = new PeerSet();
  readonly byKey = new Map<string, Peer>();

  constructor(
    readonly torrent: Torrent,
    readonly family: Family,
  ) {}

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
