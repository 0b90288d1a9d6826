/**
 * In-process swarm structures. Every operation is O(1) or O(numwant):
 * - a PeerSet is a dense array plus each peer's own index into it, so removal swaps with the last
 *   element and random sampling picks indices without copying the set;
 * - every live peer sits on one list ordered by last announce (refresh moves it to the tail), so
 *   expiry pops from the head and never scans a swarm.
 */
import type { Family } from '../../bittorrent/address.js';

/** One peer: its place in a set and in the age list. Its address and id live packed in its PeerSet. */
export class Peer {
  lastSeen = 0;
  /** Private mode: the user this peer announces for (0 in public mode). */
  userId = 0;
  index = -1;
  set: PeerSet | null = null;
  prev: Peer | null = null;
  next: Peer | null = null;

  constructor(
    /** The compact address as a latin1 string: the swarm's map key. */
    readonly key: string,
    readonly swarm: Swarm,
  ) {}
}

export const PEER_ID_LENGTH = 20;

/**
 * The peers of one kind (seeders or leechers) of one swarm. Their compact addresses and peer ids are
 * kept packed side by side in `addrs` and `ids`, index-aligned with `peers`: answering an announce
 * copies bytes from one buffer instead of chasing objects, and a peer costs the collector one small
 * object instead of three.
 */
export class PeerSet {
  readonly peers: Peer[] = [];
  addrs: Buffer;
  ids: Buffer;
  private capacity = 4;

  constructor(readonly addrSize: number) {
    this.addrs = Buffer.allocUnsafe(addrSize * this.capacity);
    this.ids = Buffer.allocUnsafe(PEER_ID_LENGTH * this.capacity);
  }

  get size(): number {
    return this.peers.length;
  }

  add(peer: Peer, addr: Buffer, peerId: Buffer): void {
    const index = this.peers.length;
    if (index === this.capacity) this.resize(this.capacity * 2);
    peer.set = this;
    peer.index = index;
    this.peers.push(peer);
    addr.copy(this.addrs, index * this.addrSize);
    peerId.copy(this.ids, index * PEER_ID_LENGTH);
  }

  setPeerId(peer: Peer, peerId: Buffer): void {
    peerId.copy(this.ids, peer.index * PEER_ID_LENGTH);
  }

  remove(peer: Peer): void {
    const last = this.peers.pop()!;
    const count = this.peers.length;
    if (last !== peer) {
      const index = peer.index;
      this.peers[index] = last;
      last.index = index;
      this.addrs.copy(this.addrs, index * this.addrSize, count * this.addrSize, (count + 1) * this.addrSize);
      this.ids.copy(this.ids, index * PEER_ID_LENGTH, count * PEER_ID_LENGTH, (count + 1) * PEER_ID_LENGTH);
    }
    peer.set = null;
    peer.index = -1;
    // Give memory back when a big swarm has shrunk to a quarter.
    if (this.capacity > 256 && count * 4 < this.capacity) this.resize(this.capacity / 2);
  }

  private resize(capacity: number): void {
    const count = this.peers.length;
    const addrs = Buffer.allocUnsafe(capacity * this.addrSize);
    this.addrs.copy(addrs, 0, 0, count * this.addrSize);
    const ids = Buffer.allocUnsafe(capacity * PEER_ID_LENGTH);
    this.ids.copy(ids, 0, 0, count * PEER_ID_LENGTH);
    this.addrs = addrs;
    this.ids = ids;
    this.capacity = capacity;
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

/** A torrent's snatch count, which outlives its swarms (until `torrent_ttl` without announces). */
export class SnatchRecord {
  count = 0;
  touched = 0;
  prev: SnatchRecord | null = null;
  next: SnatchRecord | null = null;

  constructor(readonly key: string) {}
}

/** Private mode: the totals a peer reported last, per (torrent, user, peer_id); expire with peers. */
export class TotalsRecord {
  uploaded = 0;
  downloaded = 0;
  touched = 0;
  /** What the announce that stored these answered, so that the same announce again answers the same. */
  announceId = '';
  previous: { uploaded: number; downloaded: number } | null = null;
  snatched = false;
  prev: TotalsRecord | null = null;
  next: TotalsRecord | null = null;

  constructor(readonly key: string) {}
}

interface Aged<T> {
  prev: T | null;
  next: T | null;
}

/** Doubly linked list, least recently touched first. */
export class AgeList<T extends Aged<T>> {
  head: T | null = null;
  tail: T | null = null;

  append(peer: T): void {
    peer.prev = this.tail;
    peer.next = null;
    if (this.tail) this.tail.next = peer;
    else this.head = peer;
    this.tail = peer;
  }

  unlink(peer: T): void {
    if (peer.prev) peer.prev.next = peer.next;
    else this.head = peer.next;
    if (peer.next) peer.next.prev = peer.prev;
    else this.tail = peer.prev;
    peer.prev = peer.next = null;
  }

  moveToTail(peer: T): void {
    if (this.tail === peer) return;
    this.unlink(peer);
    this.append(peer);
  }
}
