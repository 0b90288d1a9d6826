/**
 * The memory driver's WebRTC swarms (webtorrent-driver.ts): browser peers by peer_id, apart from the packed
 * compact swarms. There is one replica, so every route leads here and `send` finds no one else.
 *
 * Each swarm keeps its peers in a Map in the order they last announced (a refresh moves a peer to the
 * end), so expiry is a walk from the front that stops at the first live peer: O(expired), never a scan
 * of the live ones. Seeders and leechers are also kept in arrays with each peer's position, so a random
 * pick is O(1) and a removal a swap with the last.
 */
import type { SwarmCounts } from '../../bittorrent/announce.js';
import type { SwarmAccess, TorrentTerms } from '../driver.js';
import type { BinaryId, WebTorrentAnnounce, WebTorrentPeer, WebTorrentResult, WebTorrentSignal, WebTorrentSwarms } from '../webtorrent-driver.js';
import type { MemoryCatalogue } from './catalogue.js';
import type { TotalsSwap, TotalsSwapper } from './swarm.js';

/** The one replica name of an in-process store. */
export const LOCAL_REPLICA = 'local';
const NO_PEERS: WebTorrentPeer[] = [];
const OPEN: SwarmAccess = { requireRegistered: false, requireAllowed: false };

interface WebTorrentPeerEntry {
  id: string;
  seen: number;
  seeder: boolean;
  /** Position in its swarm's seeders or leechers array. */
  index: number;
}

class WebTorrentSwarm {
  /** Every peer, least recently announced first. */
  readonly byAge = new Map<string, WebTorrentPeerEntry>();
  readonly seeders: WebTorrentPeerEntry[] = [];
  readonly leechers: WebTorrentPeerEntry[] = [];
  downloaded = 0;

  add(entry: WebTorrentPeerEntry): void {
    const list = entry.seeder ? this.seeders : this.leechers;
    entry.index = list.length;
    list.push(entry);
    this.byAge.set(entry.id, entry);
  }

  remove(entry: WebTorrentPeerEntry): void {
    const list = entry.seeder ? this.seeders : this.leechers;
    const last = list.pop()!;
    if (last !== entry) {
      list[entry.index] = last;
      last.index = entry.index;
    }
    this.byAge.delete(entry.id);
  }

  expire(staleBefore: number): void {
    for (const entry of this.byAge.values()) {
      if (entry.seen >= staleBefore) break;
      this.remove(entry);
    }
  }
}

/** Up to `count` distinct random entries of `list`, none of them `skip`, appended to `out`. */
function sample(list: WebTorrentPeerEntry[], count: number, skip: WebTorrentPeerEntry | undefined, out: WebTorrentPeer[]): void {
  const available = list.length - (skip && list[skip.index] === skip ? 1 : 0);
  if (count <= 0 || available <= 0) return;
  if (available <= count) {
    for (const entry of list) if (entry !== skip) out.push({ peerId: entry.id, replica: LOCAL_REPLICA });
    return;
  }
  // count is small (at most the offers of one announce): rejection sampling over distinct positions.
  const chosen = new Set<number>();
  while (chosen.size < count) {
    const i = Math.floor(Math.random() * list.length);
    if (list[i] === skip || chosen.has(i)) continue;
    chosen.add(i);
    out.push({ peerId: list[i]!.id, replica: LOCAL_REPLICA });
  }
}

export class MemoryWebTorrentSwarms implements WebTorrentSwarms {
  readonly replica = LOCAL_REPLICA;
  private readonly swarms = new Map<string, WebTorrentSwarm>();
  private handler: ((signal: WebTorrentSignal) => void) | null = null;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly catalogue: MemoryCatalogue,
    private readonly peerTtlMs: number,
    private readonly now: () => number = Date.now,
    /** Private mode: the store's totals (one set per user, torrent and peer_id, shared with the compact swarms). */
    private readonly swapTotals?: TotalsSwapper,
  ) {
    // Swarms nobody announces to any more are dropped by this pass; touched ones expire on touch too.
    this.sweeper = setInterval(() => this.sweep(), Math.min(1000, peerTtlMs));
    this.sweeper.unref();
  }

  get counters(): { swarms: number; peers: number } {
    let peers = 0;
    for (const swarm of this.swarms.values()) peers += swarm.byAge.size;
    return { swarms: this.swarms.size, peers };
  }

  async announce(a: WebTorrentAnnounce): Promise<WebTorrentResult> {
    const key = a.infoHash;
    const access = a.access;
    // The deny list applies whatever the access asks. Checked without the user: a v2 hash is no
    // torrent of its own here (WebTorrent announces v1 hashes), so it stays unregistered.
    const verdict = this.catalogue.check(key, access ? { requireRegistered: access.requireRegistered, requireAllowed: access.requireAllowed } : OPEN);
    if (verdict.refused) return { complete: 0, incomplete: 0, downloaded: 0, peers: NO_PEERS, refused: verdict.refused };
    const now = this.now();
    let swarm = this.swarms.get(key);
    swarm?.expire(now - this.peerTtlMs);
    const id = a.peerId;
    const old = swarm?.byAge.get(id);
    const userId = access?.userId ?? 0;
    // Private mode: the totals first, as the refusal of a user at its peer limit must change nothing.
    const swapped = userId > 0 && this.swapTotals ? this.swapTotals(key, userId, Buffer.from(id, 'latin1'), a.event, access!, now) : undefined;
    if (swapped === null) return { complete: 0, incomplete: 0, downloaded: 0, peers: NO_PEERS, refused: 'peer_limit' };
    if (a.event === 'stopped') {
      if (swarm && old) swarm.remove(old);
      if (swarm) this.dropIfEmpty(key, swarm);
      return this.privateResult({ ...countsOf(swarm), peers: NO_PEERS }, swapped, verdict.terms, false);
    }
    if (!swarm) {
      swarm = new WebTorrentSwarm();
      this.swarms.set(key, swarm);
    }
    const wasSeeder = old?.seeder ?? false;
    const seeder = a.seeder || a.event === 'completed';
    if (old) swarm.remove(old);
    const entry: WebTorrentPeerEntry = { id, seen: now, seeder, index: 0 };
    swarm.add(entry);
    // A private peer counts one snatch per torrent, whether it completed here or in a compact swarm.
    const counted = a.event === 'completed' && !wasSeeder && !(swapped?.completedBefore ?? false) && swapped?.retriedSnatch === undefined;
    if (counted) swarm.downloaded++;
    if (counted && swapped?.record) swapped.record.snatched = swapped.record.completed = true;
    const peers: WebTorrentPeer[] = [];
    // A seeder offers to leechers only; a leecher to seeders first, then leechers.
    if (!seeder) sample(swarm.seeders, a.numwant, entry, peers);
    sample(swarm.leechers, a.numwant - peers.length, entry, peers);
    return this.privateResult({ ...countsOf(swarm), peers }, swapped, verdict.terms, swapped?.retriedSnatch ?? counted);
  }

  /** The answer, with what private mode adds: the torrent's terms, the previous totals, the snatch. */
  private privateResult(result: WebTorrentResult, swapped: TotalsSwap | undefined, terms: TorrentTerms | undefined, snatched: boolean): WebTorrentResult {
    result.snatched = snatched;
    if (swapped) {
      result.previous = swapped.previous;
      if (swapped.session) result.session = { ...swapped.session, completed: swapped.record?.completed ?? swapped.session.completed ?? false };
      result.torrent = terms;
    }
    return result;
  }

  async scrape(infoHashes: BinaryId[]): Promise<SwarmCounts[]> {
    const staleBefore = this.now() - this.peerTtlMs;
    return infoHashes.map((infoHash) => {
      const swarm = this.swarms.get(infoHash);
      swarm?.expire(staleBefore);
      return countsOf(swarm);
    });
  }

  /** One process, one replica: there is no other to send to. */
  async send(replica: string, signal: WebTorrentSignal): Promise<boolean> {
    if (replica !== LOCAL_REPLICA || !this.handler) return false;
    this.handler(signal);
    return true;
  }

  async onSignal(handler: (signal: WebTorrentSignal) => void): Promise<void> {
    this.handler = handler;
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const staleBefore = this.now() - this.peerTtlMs;
    for (const [key, swarm] of this.swarms) {
      swarm.expire(staleBefore);
      this.dropIfEmpty(key, swarm);
    }
  }

  /** An empty swarm holds no memory (its snatch count goes with it, as the redis driver's does). */
  private dropIfEmpty(key: string, swarm: WebTorrentSwarm): void {
    if (swarm.byAge.size === 0) this.swarms.delete(key);
  }
}

function countsOf(swarm: WebTorrentSwarm | undefined): SwarmCounts {
  return swarm
    ? { complete: swarm.seeders.length, incomplete: swarm.leechers.length, downloaded: swarm.downloaded }
    : { complete: 0, incomplete: 0, downloaded: 0 };
}
