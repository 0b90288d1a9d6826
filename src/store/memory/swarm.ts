/**
 * In-process torrent records. A torrent's peers live in one PeerTable per address family (peers.ts);
 * what is kept here is per torrent (snatch counts) or per private peer (previous totals), on age lists
 * ordered by last touch, so that expiry pops from the head and never scans.
 */
import type { AccountingSession } from '../session.js';
import type { Family } from '../../bittorrent/address.js';
import type { AnnounceEvent } from '../../bittorrent/announce.js';
import type { SwarmAccess } from '../driver.js';
import type { PeerTable } from './peers.js';

export class Torrent {
  v4: PeerTable | null = null;
  v6: PeerTable | null = null;

  /** The info hash as latin1: the key of the store's maps (its Buffer is made again for a full scrape). */
  constructor(readonly key: string) {}

  table(family: Family): PeerTable | null {
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

/**
 * Private mode: the totals a peer reported last, per (torrent, user, peer_id); expire with peers. One
 * object per private peer, kept small: plain fields rather than an object for the previous totals, and
 * the touch time in the store's ticks (a small integer, where milliseconds would be a boxed double).
 */
export class TotalsRecord {
  uploaded = 0;
  downloaded = 0;
  touched = 0;
  /** What the announce that stored these answered, so that the same announce again answers the same. */
  announceId = '';
  /** The totals before these; -1 when the peer was unknown until then. */
  previousUploaded = -1;
  previousDownloaded = 0;
  snatched = false;
  /** This peer has counted its snatch of the torrent (on either hash of a hybrid one): it counts no other. */
  completed = false;
  /** The accounting session after the announce that stored these (src/store/session.ts). */
  session: AccountingSession | null = null;
  prev: TotalsRecord | null = null;
  next: TotalsRecord | null = null;

  constructor(readonly key: string) {}

  previous(): { uploaded: number; downloaded: number } | null {
    return this.previousUploaded < 0 ? null : { uploaded: this.previousUploaded, downloaded: this.previousDownloaded };
  }
}

/** What a swap of a private peer's totals answers (MemoryStore.swapTotals). */
export interface TotalsSwap {
  previous: { uploaded: number; downloaded: number } | null;
  /** A retry of an announce already applied: the snatch its first run counted. */
  retriedSnatch?: boolean;
  /** The stored record, unless stopped or retried: the caller marks a snatch on it. */
  record?: TotalsRecord;
  /** The peer counted its snatch of the torrent before. */
  completedBefore?: boolean;
  /** The peer's accounting session after this announce (a retry: the first run's). */
  session?: AccountingSession;
}

/**
 * Swaps a private peer's totals in the store's one map, keyed by the torrent, the user and the peer_id
 * (whichever swarm, compact or WebRTC, it announces in); null: refused by the per-user peer limit.
 */
export type TotalsSwapper = (torrentKey: string, userId: number, peerId: Buffer, event: AnnounceEvent, access: SwarmAccess, now: number) => TotalsSwap | null;

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

  /** Oldest first. */
  *[Symbol.iterator](): Iterator<T> {
    for (let item = this.head; item; item = item.next) yield item;
  }

  moveToTail(peer: T): void {
    if (this.tail === peer) return;
    this.unlink(peer);
    this.append(peer);
  }
}
