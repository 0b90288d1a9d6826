/**
 * The `memory` tracker driver's store: every swarm in this process. A torrent's peers live packed in one
 * PeerTable per address family (peers.ts: no object per peer); expiry visits the tables in the order of
 * their oldest peer (due-queue.ts), a bounded number of slots at a time; selection is in select.ts,
 * packing the answer in pack.ts, private mode's totals in private-totals.ts.
 */
import type { Family } from '../../bittorrent/address.js';
import type { SwarmCounts } from '../../bittorrent/announce.js';
import { SUBNET_OVERSAMPLING, type Refusal, type SwarmAnnounce, type SwarmResult, type TorrentTerms, type TrackerStore } from '../driver.js';
import { LocalUserLedger } from '../user-ledger.js';
import { MemoryCatalogue } from './catalogue.js';
import { DueQueue } from './due-queue.js';
import { PeerTable } from './peers.js';
import { Picks, sameSubnetFirst, samplePeers } from './select.js';
import { AgeList, SnatchRecord, Torrent } from './swarm.js';
import { packAddresses, packPeerIds } from './pack.js';
import { PrivateTotals } from './private-totals.js';
import { MemoryWebTorrentSwarms } from './webtorrent.js';
import { snapshotSourceOf, type RestoredState, type SnapshotSource } from './snapshot.js';

/** Expired peers removed inline per request: keeps a request's extra work bounded. */
const INLINE_REAP_BUDGET = 64;
/** Peer slots examined inline per request, at most, and only when some table is due. */
const INLINE_EXAMINE_BUDGET = 256;
/** Longest a background reaping slice may hold the event loop. */
const REAP_SLICE_MS = 2;
/**
 * Peers' last-seen times are kept as Uint32 ticks of this many ms since the store started (13 years
 * before they wrap), rounded up: a peer may outlive its TTL by one tick, never expire early.
 */
const TICK_MS = 100;
/**
 * A table is examined again at the earliest this long after an expiry pass over it. Without it, a large
 * swarm with steady churn would be scanned whole over and over: after each pass its oldest survivor is a
 * peer that left just under a TTL ago, due again at once. Well inside the second of reaping lag allowed.
 */
const RESCAN_GAP_MS = 500;
const EMPTY = Buffer.alloc(0);

export interface MemoryStoreOptions {
  peerTtlMs: number;
  reapIntervalMs: number;
  /** How long a snatch count outlives the last announce of its torrent; 0 keeps it forever. */
  torrentTtlMs?: number;
  /** Admission control: most peers this process stores (both families); 0: no limit. */
  maxPeers?: number;
  /** Told (throttled) when new peers are turned away at maxPeers. */
  onFull?: () => void;
  /** WebRTC peers' lifetime; peerTtlMs when unset. */
  webTorrentPeerTtlMs?: number;
  now?: () => number;
  /** Run when the store closes, before it is gone (the snapshot's last write). */
  onClose?: () => Promise<void>;
}

export class MemoryStore implements TrackerStore {
  readonly catalogue = new MemoryCatalogue();
  readonly addresses = new LocalUserLedger();
  readonly leeching = new LocalUserLedger();
  readonly peers = new LocalUserLedger();
  private readonly torrents = new Map<string, Torrent>();
  /** Survives the swarm emptying, like a tracker's completed counter should, for torrent_ttl. */
  private readonly snatches = new Map<string, SnatchRecord>();
  private readonly snatchAges = new AgeList<SnatchRecord>();
  /** Every peer table, the one holding the oldest peer first: expiry looks only at tables due. */
  private readonly expiryQueue = new DueQueue<PeerTable>();
  /** Private mode: last reported totals by torrent, user and peer_id. */
  private readonly totals = new PrivateTotals();
  private readonly now: () => number;
  /** Time zero of the tick clock. */
  private readonly epoch: number;
  private readonly reapTimer: NodeJS.Timeout;
  private reaping = false;
  /** Scratch space of announce(), which runs to completion without yielding: reused by every call. */
  private readonly picked4 = new Picks();
  private readonly picked6 = new Picks();
  private readonly candidates = new Picks();
  private peerCount = 0;
  readonly webtorrent: MemoryWebTorrentSwarms;

  constructor(private readonly options: MemoryStoreOptions) {
    this.now = options.now ?? Date.now;
    this.webtorrent = new MemoryWebTorrentSwarms(
      this.catalogue,
      options.webTorrentPeerTtlMs ?? options.peerTtlMs,
      this.now,
      (torrentKey, userId, peerId, event, access, now) => this.totals.swap(torrentKey, userId, peerId, event, access, this.tickOf(now)),
    );
    // A peer TTL before now: a snapshot's peers (restore) are then seen at ticks of their own, never before 0.
    this.epoch = this.now() - options.peerTtlMs;
    this.reapTimer = setInterval(() => this.reapInBackground(), options.reapIntervalMs);
    this.reapTimer.unref();
  }

  get counters(): { torrents: number; peers: number; snatchCounts: number; totals: number } {
    return { torrents: this.torrents.size, peers: this.peerCount, snatchCounts: this.snatches.size, totals: this.totals.size };
  }

  /** What a snapshot keeps (snapshot.ts): peers, snatch counts, private totals; WebRTC peers die with their sockets. */
  snapshotSource(): SnapshotSource {
    const counts = { peers: this.peerCount, tables: this.expiryQueue.size, snatches: this.snatches.size };
    return snapshotSourceOf(this.torrents.values(), this.snatchAges, this.totals, (tick) => this.epoch + tick * TICK_MS, counts);
  }

  /** The store's tick of a Unix time (ms), for a snapshot's peers. */
  tickAt(time: number): number {
    return this.tickOf(time);
  }

  /** Loads a decoded snapshot (snapshot.ts) into this store, empty until now. */
  restore(state: RestoredState): void {
    for (const table of state.tables) {
      let torrent = this.torrents.get(table.torrentKey);
      if (!torrent) this.torrents.set(table.torrentKey, (torrent = new Torrent(table.torrentKey)));
      if (table.addrSize === 6 ? torrent.v4 : torrent.v6) continue;
      if (table.addrSize === 6) torrent.v4 = table;
      else torrent.v6 = table;
      this.expiryQueue.push(table);
      this.peerCount += table.count;
    }
    for (const snatch of state.snatches) {
      if (this.snatches.has(snatch.key)) continue;
      this.snatches.set(snatch.key, snatch);
      this.snatchAges.append(snatch);
    }
    this.totals.restore(state.totals, state.countingUserPeers);
  }

  async stats(): Promise<{ swarms: number; peers: number }> {
    return { swarms: this.torrents.size, peers: this.peerCount };
  }

  async announce(a: SwarmAnnounce): Promise<SwarmResult> {
    const now = this.now();
    this.reap(now, INLINE_EXAMINE_BUDGET, INLINE_REAP_BUDGET);
    const key = a.infoHash.toString('latin1');
    let terms: TorrentTerms | undefined;
    // The torrent's key, for its snatches and private totals: a hybrid torrent's two swarms share them.
    let torrentKey = key;
    if (a.access) {
      const verdict = this.catalogue.check(key, a.access);
      if (verdict.refused) return refusedResult(verdict.refused);
      terms = verdict.terms;
      torrentKey = verdict.torrentKey;
    }
    let torrent = this.torrents.get(key);
    if (a.minInterval && a.event === 'none' && torrent) {
      const early = this.tooSoon(torrent, torrentKey, a, now);
      if (early) return early;
    }
    // Admission control: at the limit a peer not stored yet is answered, and nothing is written for it.
    const maxPeers = this.options.maxPeers ?? 0;
    const admitted = maxPeers === 0 || this.peerCount < maxPeers || a.event === 'stopped' || this.knows(torrent, a);
    if (!admitted) this.options.onFull?.();
    const userId = a.access?.userId ?? 0;
    const swapped = userId > 0 && admitted ? this.totals.swap(torrentKey, userId, a.peerId, a.event, a.access!, this.tickOf(now)) : undefined;
    if (swapped === null) return refusedResult('peer_limit');
    const previous = swapped?.previous;

    if (!admitted) return { ...this.answerUnstored(torrent, torrentKey, a), torrent: terms, previous: null, notStored: 'peer_limit' };

    if (a.event === 'stopped') {
      if (torrent) {
        if (a.v4) this.removeByAddress(torrent, 4, a.v4);
        if (a.v6) this.removeByAddress(torrent, 6, a.v6);
        torrent = this.torrents.get(key);
      }
      const stoppedResult: SwarmResult = { ...this.countsOf(torrent, torrentKey), peers4: EMPTY, peers6: EMPTY, torrent: terms, previous, snatched: false };
      if (swapped?.session) stoppedResult.session = swapped.session;
      return stoppedResult;
    }

    if (!torrent) {
      torrent = new Torrent(key);
      this.torrents.set(key, torrent);
    }
    const own4 = a.v4 ? this.upsert(torrent, 4, a.v4, a, now, userId) : undefined;
    const own6 = a.v6 ? this.upsert(torrent, 6, a.v6, a, now, userId) : undefined;
    const wasSeeder = (own4?.wasSeeder ?? false) || (own6?.wasSeeder ?? false);
    // A private peer counts one snatch per torrent, whichever of a hybrid torrent's hashes it completes on.
    const counted = a.event === 'completed' && !wasSeeder && !(swapped?.completedBefore ?? false);
    // A retried announce reports the snatch its first run counted (and counts none of its own).
    const snatched = swapped?.retriedSnatch ?? counted;
    if (counted && swapped?.record) swapped.record.snatched = swapped.record.completed = true;
    let snatch = this.snatches.get(torrentKey);
    if (counted) {
      if (!snatch) {
        snatch = new SnatchRecord(torrentKey);
        this.snatches.set(torrentKey, snatch);
        this.snatchAges.append(snatch);
      }
      snatch.count++;
    }
    if (snatch) {
      snatch.touched = now;
      this.snatchAges.moveToTail(snatch);
    }

    const seeder = a.seeder || a.event === 'completed';
    let budget = a.numwant;
    // Whose peers are left out of the answer: the announcing user's, unless it may have its own.
    const excluded = a.access?.ownPeers ? 0 : userId;
    const picked4 = this.picked4.reset(torrent.v4);
    const picked6 = this.picked6.reset(torrent.v6);
    // The announcer's own families first, then the others with what remains.
    if (own4 && a.want4) budget -= this.select(torrent.v4, own4, seeder, budget, a.subnet4, picked4, excluded);
    if (own6 && a.want6) budget -= this.select(torrent.v6, own6, seeder, budget, a.subnet6, picked6, excluded);
    if (!own4 && a.want4) budget -= this.select(torrent.v4, undefined, seeder, budget, 0, picked4, excluded);
    if (!own6 && a.want6) this.select(torrent.v6, undefined, seeder, budget, 0, picked6, excluded);

    // One literal of one shape (a spread of the counts made a new object and a slower one, on every announce).
    const result: SwarmResult = {
      complete: (torrent.v4?.seeders ?? 0) + (torrent.v6?.seeders ?? 0),
      incomplete: (torrent.v4?.leechers ?? 0) + (torrent.v6?.leechers ?? 0),
      downloaded: snatch?.count ?? 0,
      peers4: packAddresses(picked4, 6),
      peers6: packAddresses(picked6, 18),
      snatched,
    };
    if (userId > 0) {
      result.torrent = terms;
      result.previous = previous;
      // Whether the peer has counted its snatch by now (this announce's included).
      if (swapped?.session) result.session = { ...swapped.session, completed: swapped.record?.completed ?? swapped.session.completed ?? false };
    }
    if (a.withPeerIds) {
      result.peerIds4 = packPeerIds(picked4);
      result.peerIds6 = packPeerIds(picked6);
    }
    return result;
  }

  /**
   * Min interval: the answer to an announce without an event from a peer written less than
   * `a.minInterval` seconds ago (one second of grace) in the same state, or null. Nothing is written;
   * peers are picked as for any announce, read only (the contract: every driver answers so).
   */
  private tooSoon(torrent: Torrent, key: string, a: SwarmAnnounce, now: number): SwarmResult | null {
    const family: Family = a.v4 ? 4 : 6;
    const addr = a.v4 ?? a.v6;
    const table = torrent.table(family);
    if (!addr || !table) return null;
    const slot = table.find(addr);
    if (slot < 0 || slot < table.seeders !== a.seeder) return null;
    const graceTicks = ((a.minInterval! - 1) * 1000) / TICK_MS;
    if (this.tickOf(now) - table.lastSeen(slot) >= graceTicks) return null;
    // Peers of this family as for any announce, read only (the redis driver answers the same).
    const own: Own = { table, slot, addr, wasSeeder: a.seeder };
    const picked = (family === 4 ? this.picked4 : this.picked6).reset(table);
    const excluded = a.access?.ownPeers ? 0 : (a.access?.userId ?? 0);
    if (family === 4 ? a.want4 : a.want6) this.select(table, own, a.seeder, a.numwant, family === 4 ? a.subnet4 : a.subnet6, picked, excluded);
    const packed = packAddresses(picked, family === 4 ? 6 : 18);
    return { ...this.countsOf(torrent, key), peers4: family === 4 ? packed : EMPTY, peers6: family === 6 ? packed : EMPTY, tooSoon: true };
  }

  /** Admission control: whether the announcer is stored already (in either family). */
  private knows(torrent: Torrent | undefined, a: SwarmAnnounce): boolean {
    if (!torrent) return false;
    return (a.v4 !== undefined && (torrent.v4?.find(a.v4) ?? -1) >= 0) || (a.v6 !== undefined && (torrent.v6?.find(a.v6) ?? -1) >= 0);
  }

  /** The answer to a peer turned away at the limit: counts and peers of the swarm as it is, nothing written. */
  private answerUnstored(torrent: Torrent | undefined, key: string, a: SwarmAnnounce): SwarmResult {
    if (!torrent) return { ...this.countsOf(undefined, key), peers4: EMPTY, peers6: EMPTY };
    const seeder = a.seeder || a.event === 'completed';
    const excluded = a.access?.ownPeers ? 0 : (a.access?.userId ?? 0);
    const picked4 = this.picked4.reset(torrent.v4);
    const picked6 = this.picked6.reset(torrent.v6);
    let budget = a.numwant;
    if (a.want4) budget -= this.select(torrent.v4, undefined, seeder, budget, 0, picked4, excluded);
    if (a.want6) this.select(torrent.v6, undefined, seeder, budget, 0, picked6, excluded);
    return { ...this.countsOf(torrent, key), peers4: packAddresses(picked4, 6), peers6: packAddresses(picked6, 18) };
  }

  async scrape(infoHashes: Buffer[]): Promise<SwarmCounts[]> {
    this.reap(this.now(), INLINE_EXAMINE_BUDGET, INLINE_REAP_BUDGET);
    return infoHashes.map((infoHash) => {
      const key = infoHash.toString('latin1');
      return this.countsOf(this.torrents.get(key), this.catalogue.torrentKeyOf(key));
    });
  }

  async scrapeAll(limit: number): Promise<Array<{ infoHash: Buffer; counts: SwarmCounts }>> {
    const files: Array<{ infoHash: Buffer; counts: SwarmCounts }> = [];
    for (const torrent of this.torrents.values()) {
      if (files.length >= limit) break;
      files.push({ infoHash: Buffer.from(torrent.key, 'latin1'), counts: this.countsOf(torrent, this.catalogue.torrentKeyOf(torrent.key)) });
    }
    return files;
  }

  async ready(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    clearInterval(this.reapTimer);
    this.webtorrent.close();
    await this.options.onClose?.();
  }

  private upsert(torrent: Torrent, family: Family, addr: Buffer, a: SwarmAnnounce, now: number, userId: number): Own {
    const tick = this.tickOf(now);
    let table = torrent.table(family);
    if (!table) {
      table = new PeerTable(family === 4 ? 6 : 18, torrent.key, tick);
      if (family === 4) torrent.v4 = table;
      else torrent.v6 = table;
      this.expiryQueue.push(table);
    }
    const seeder = a.seeder || a.event === 'completed';
    let slot = table.find(addr);
    let wasSeeder = false;
    if (slot >= 0) {
      wasSeeder = slot < table.seeders;
      slot = table.setKind(slot, seeder);
      table.refresh(slot, a.peerId, tick, userId);
    } else {
      slot = table.add(addr, a.peerId, seeder, tick, userId);
      this.peerCount++;
    }
    return { table, slot, addr, wasSeeder };
  }

  /** Appends up to `count` peers of `table` for an announcer (`self`, if in this table) to `out`; returns how many. */
  private select(table: PeerTable | null, self: Own | undefined, seeder: boolean, count: number, subnetBits: number, out: Picks, excludedUser: number): number {
    if (!table || count <= 0) return 0;
    const grouping = subnetBits > 0 && self !== undefined;
    const draw = grouping ? count * SUBNET_OVERSAMPLING : count;
    const exclude = self ? self.slot : -1;
    // Without grouping the sample goes straight to `out`, which holds nothing yet from this table.
    const drawn = grouping ? this.candidates.reset(table) : out;
    const start = drawn.length;
    if (!seeder) samplePeers(table, 0, table.seeders, draw, exclude, drawn, excludedUser);
    samplePeers(table, table.seeders, table.count, draw - (drawn.length - start), exclude, drawn, excludedUser);
    return grouping ? sameSubnetFirst(drawn, self.addr, subnetBits, count, out) : drawn.length - start;
  }

  private removeByAddress(torrent: Torrent, family: Family, addr: Buffer): void {
    const table = torrent.table(family);
    if (!table) return;
    const slot = table.find(addr);
    if (slot < 0) return;
    table.remove(slot);
    this.peerCount--;
    if (table.count === 0) this.dropTable(table);
  }

  /** Forgets an emptied table, and its torrent once it has none left. */
  private dropTable(table: PeerTable): void {
    this.expiryQueue.remove(table);
    table.release();
    const torrent = this.torrents.get(table.torrentKey);
    if (!torrent) return;
    if (torrent.v4 === table) torrent.v4 = null;
    else if (torrent.v6 === table) torrent.v6 = null;
    if (!torrent.v4 && !torrent.v6) this.torrents.delete(torrent.key);
  }

  private tickOf(now: number): number {
    return Math.max(0, Math.ceil((now - this.epoch) / TICK_MS));
  }

  /** The counts of a swarm; `torrentKey` is whose snatches (a hybrid torrent's v2 swarm shows its torrent's). */
  private countsOf(torrent: Torrent | undefined, torrentKey: string): SwarmCounts {
    const v4 = torrent?.v4;
    const v6 = torrent?.v6;
    return {
      complete: (v4?.seeders ?? 0) + (v6?.seeders ?? 0),
      incomplete: (v4?.leechers ?? 0) + (v6?.leechers ?? 0),
      downloaded: this.snatches.get(torrentKey)?.count ?? 0,
    };
  }

  /**
   * Removes up to `budget` expired peers, totals and snatch counts, examining at most `examine` peer slots;
   * returns true when none are left to expire. Only tables whose oldest peer may have expired are looked
   * at, and each is scanned from where the last call stopped, so a call costs at most its budgets.
   */
  private reap(now: number, examine: number, budget: number): boolean {
    const cutoffTick = (now - this.epoch - this.options.peerTtlMs) / TICK_MS;
    const tick = this.tickOf(now);
    for (let table = this.expiryQueue.peek(); table && table.due < cutoffTick; table = this.expiryQueue.peek()) {
      if (examine <= 0 || budget <= 0) return false;
      const before = table.count;
      examine -= table.expire(cutoffTick, tick, examine, budget);
      budget -= before - table.count;
      this.peerCount -= before - table.count;
      if (table.count === 0) this.dropTable(table);
      else if (table.scanning) return false;
      else {
        table.due = Math.max(table.due, cutoffTick + RESCAN_GAP_MS / TICK_MS);
        this.expiryQueue.update(table);
      }
    }
    budget = this.totals.expire(cutoffTick, budget);
    if (budget < 0) return false;
    const torrentTtlMs = this.options.torrentTtlMs ?? 0;
    if (torrentTtlMs > 0) {
      let snatch = this.snatchAges.head;
      while (snatch && snatch.touched < now - torrentTtlMs) {
        if (budget-- <= 0) return false;
        this.snatchAges.unlink(snatch);
        this.snatches.delete(snatch.key);
        snatch = this.snatchAges.head;
      }
    }
    return true;
  }

  /** Expires in slices of a few milliseconds, yielding to requests in between. */
  private reapInBackground(): void {
    if (this.reaping) return;
    this.reaping = true;
    const slice = (): void => {
      const started = performance.now();
      let done = false;
      while (!done && performance.now() - started < REAP_SLICE_MS) done = this.reap(this.now(), 4096, 512);
      if (done) this.reaping = false;
      else setImmediate(slice);
    };
    slice();
  }
}

/** The announcer's own entry in the table of one family. */
interface Own {
  table: PeerTable;
  slot: number;
  addr: Buffer;
  wasSeeder: boolean;
}

function refusedResult(refused: Refusal): SwarmResult {
  return { complete: 0, incomplete: 0, downloaded: 0, peers4: EMPTY, peers6: EMPTY, refused };
}
