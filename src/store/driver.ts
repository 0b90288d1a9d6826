/**
 * The tracker driver contract: where swarms live. A driver is registered by name (see registry.ts) and
 * opened once per process with the `tracker.params` of the configuration.
 *
 * Obligations of every driver (the conformance suite in src/testing/, published as `shoal/testing`, checks each one):
 * - `announce` is atomic and, for a networked store, one round trip. It registers or refreshes the
 *   announcer in the swarm of each family it has an address for, and applies the event:
 *   `stopped` removes the peer and returns no peers; `completed` makes it a seeder and counts one snatch
 *   unless it already was a seeder; `seeder` (left = 0) makes it a seeder without counting a snatch.
 * - IPv4 and IPv6 swarms are separate: a peer is identified by its compact address (ip, port) within
 *   one family, and peers of one family are only ever returned in that family's packed list.
 * - Selection: never the announcer itself; a seeder receives leechers only; a leecher receives seeders
 *   first, then leechers; a random sample, never "the first N"; with a subnet prefix set, peers sharing
 *   the announcer's prefix come first. The cost is O(numwant), whatever the size of the swarm.
 * - Peers the store has not seen for `ctx.peerTtl` seconds are expired and neither counted nor
 *   returned (allowing a reaping lag of about a second); empty swarms do not hold memory; snatch
 *   counts survive the swarm emptying.
 * - Counts (`complete`, `incomplete`) are taken after the announce is applied and add up both families.
 * - `scrape` is read-only and counts live peers only.
 * - Errors (store unreachable, timeouts) reject the promise quickly; the driver never hangs a request.
 * - Access (`access`): before anything changes, an announce for a hash on the deny list is refused
 *   ('denied'); with `requireAllowed`, one not on the allow list ('not_allowed'); with `requireRegistered`,
 *   one not registered in the catalogue ('unregistered'). A refused announce changes nothing.
 * - Private mode (`access.userId`): the peer's previous reported totals, kept per (user, torrent,
 *   peer_id), are returned and replaced by the new ones in the same atomic step (removed on `stopped`,
 *   expired with the peer), with the peer's accounting session as `nextSession` (session.ts) numbers it; peers of the same user are not returned to each other (unless
 *   `access.ownPeers`; never the announcer itself); `snatched` says
 *   whether this announce counted a snatch. A retried call with the same `announceId` answers as the
 *   first one did.
 * - Hybrid torrents (private mode): a torrent registered with `infoHashV2` is announced on either hash
 *   under its terms; the two swarms stay apart, but the totals are kept per (user, torrent, peer_id), so
 *   the second announce of a pair finds the first one's totals, even when both run at once; a peer
 *   counts one snatch per torrent; a scrape of the v2 hash shows its swarm and the torrent's snatches.
 * - Per-user peer limit (`access.peerLimit`, private mode): checked before anything changes.
 * - Min interval (`minInterval` > 0): an announce without an event from a peer the store wrote less
 *   than `minInterval` seconds ago (one second of grace for the store's clock) changes nothing and
 *   answers `tooSoon` with the counts and peers of the announcer's family (IPv4 first), picked as for any
 *   announce, read only. A change of seeder
 *   state is written whatever the time.
 * - Admission (a driver's own limit, or a store out of memory): a peer the store does not know yet may
 *   be answered without being stored (`notStored`): counts and peers as usual, nothing written for it.
 *   Peers already stored keep being refreshed; `stopped` always passes.
 * - `addBudgetCounts`, optional: a store shared by several processes adds request counts to shared
 *   counters and returns the totals; a process alone needs none (its own counts are exact).
 */
import type { Logger } from 'pino';
import type { AnnounceEvent, SwarmCounts } from '../bittorrent/announce.js';
import type { UserLedger } from './user-ledger.js';
import type { AccountingSession } from './session.js';
import type { Catalogue } from './catalogue.js';
import type { WebTorrentSwarms } from './webtorrent-driver.js';
import type { SharedState } from './shared.js';

export type { SharedState } from './shared.js';

/**
 * Same-subnet-first without an exact index: a driver draws this many candidates per peer wanted and puts
 * the near ones first. One value for every built-in driver (the redis driver's Lua gets it from here too),
 * so that the same setting selects alike whichever driver runs.
 */
export const SUBNET_OVERSAMPLING = 4;

export interface DriverContext {
  /** Seconds after which a peer that has not announced is gone. */
  peerTtl: number;
  /** Seconds after which a WebRTC (WebSocket) peer that has not announced is gone; peerTtl when unset. */
  webTorrentPeerTtl?: number;
  logger: Logger;
}

export interface SwarmAnnounce {
  infoHash: Buffer;
  peerId: Buffer;
  /** The announcer's 6-byte compact address in the IPv4 swarm, if it has one. */
  v4?: Buffer;
  /** The announcer's 18-byte compact address in the IPv6 swarm, if it has one. */
  v6?: Buffer;
  /** left = 0 */
  seeder: boolean;
  event: AnnounceEvent;
  /** Total peers wanted across families; 0 returns none. */
  numwant: number;
  /**
   * Families whose peers the announcer wants. Its own families are filled first; the others (only
   * when the tracker does not respect address families) take what remains of numwant.
   */
  want4: boolean;
  want6: boolean;
  /** Prefix lengths for same-subnet-first ordering; 0 turns grouping off. */
  subnet4: number;
  subnet6: number;
  /** Return 20-byte peer ids aligned with the packed peers (non-compact responses). */
  withPeerIds: boolean;
  access?: SwarmAccess;
  /** Seconds within which an announce without an event is too soon (0 or undefined: no check). */
  minInterval?: number;
}

export interface SwarmAccess {
  /** Private mode: only torrents registered in the catalogue. */
  requireRegistered: boolean;
  /** Only info hashes on the allow list. (The deny list is always checked.) */
  requireAllowed: boolean;
  /** Private mode: the announcer's user and the totals it reports now. */
  userId?: number;
  uploaded?: number;
  downloaded?: number;
  /**
   * Private mode: this announce's accounting record id. The same call made again (a retry after a
   * lost reply) must answer as the first did: the same previous totals and snatch, nothing swapped twice.
   */
  announceId?: string;
  /**
   * Private mode: most peers (distinct peer_ids) one user may run on one torrent, a hybrid torrent's two
   * swarms together; a new peer beyond it is refused ('peer_limit'), a known one always passes. 0 or
   * absent: no limit.
   */
  peerLimit?: number;
  /** Private mode: return the user's own other peers too (by default they are left out). */
  ownPeers?: boolean;
}

export type Refusal = 'denied' | 'not_allowed' | 'unregistered' | 'peer_limit';

/** Why a peer was answered but not stored: the process's peer limit, the swarm's, or a store out of memory. */
export type NotStored = 'peer_limit' | 'swarm_limit' | 'out_of_memory';

/** One shared request counter (addBudgetCounts): an opaque printable key and what to add to it. */
export interface BudgetCount {
  key: string;
  delta: number;
}

export interface TorrentTerms {
  id: number;
  upMultiplier: number;
  downMultiplier: number;
  freeleech: boolean;
}

export interface SwarmResult extends SwarmCounts {
  peers4: Buffer;
  peers6: Buffer;
  peerIds4?: Buffer;
  peerIds6?: Buffer;
  /** Set when access rules refused the announce; nothing was changed and the rest is empty. */
  refused?: Refusal;
  /** Private mode: the registered torrent's terms. */
  torrent?: TorrentTerms;
  /** Private mode: the totals this peer reported last time, or null for a peer unknown until now. */
  previous?: { uploaded: number; downloaded: number } | null;
  /** Private mode: the peer's accounting session after this announce (session.ts), as the atomic step numbered it. */
  session?: AccountingSession;
  /** This announce counted a snatch (completed, and not already a seeder). */
  snatched?: boolean;
  /** Min interval: the announce came too soon and changed nothing (the counts are set; peers may be empty). */
  tooSoon?: boolean;
  /** Admission: the announcer was answered but not stored, and why. */
  notStored?: NotStored;
}

export interface TrackerStore {
  readonly catalogue: Catalogue;
  /**
   * Private mode: distinct addresses per user over a window (optional; the tracker counts none
   * without it). Shared by every replica of a shared store, about a second late.
   */
  readonly addresses?: UserLedger;
  /**
   * Private mode: the torrents each user is downloading (download slots; member = the torrent's info
   * hash in hex), kept for peer_ttl since their last announce (optional; no slots are enforced without
   * it). Shared like `addresses`.
   */
  readonly leeching?: UserLedger;
  /**
   * Private mode with connectable_check: the (ip:port) each user announces from (member = "IP:PORT"),
   * kept for peer_ttl, for GET /users/:id/peers (optional). Shared like `addresses`.
   */
  readonly peers?: UserLedger;
  /**
   * Private mode: connectability results shared by the replicas of a shared store (optional: a store in
   * one process leaves it out, and the process's own cache is all there is). Never on the announce path.
   */
  readonly connectable?: ConnectableResults;
  /** WebTorrent's swarms of browser peers and their signalling (webtorrent-driver.ts); optional. */
  readonly webtorrent?: WebTorrentSwarms;
  announce(request: SwarmAnnounce): Promise<SwarmResult>;
  /** Counts for each hash, in the order given; unknown hashes count zero. */
  scrape(infoHashes: Buffer[]): Promise<SwarmCounts[]>;
  /** Every live swarm, for a full scrape. Optional: a distributed store need not offer it. */
  scrapeAll?(limit: number): Promise<Array<{ infoHash: Buffer; counts: SwarmCounts }>>;
  /**
   * Counts the store keeps of its own workings, by name, monotonic since it opened (for example which
   * path its announces took), exported as `tracker_driver_events_total{driver, event}` at each scrape.
   * Optional; read only by metrics, never on the request path.
   */
  events?(): Record<string, number>;
  /** Swarm and peer totals for metrics, if the store keeps them at no cost (never by a scan). */
  stats?(): Promise<{ swarms: number; peers: number }>;
  /**
   * Adds `delta` to each shared counter and returns each total after the addition, in order. Counters
   * live `ttlSeconds` from their first addition. Optional: only a store shared by several processes
   * needs it (request budgets: src/tracker/budget.ts); never called on the request path.
   */
  addBudgetCounts?(counts: BudgetCount[], ttlSeconds: number): Promise<number[]>;
  /** True when the store can serve requests (for /readyz). */
  ready(): Promise<boolean>;
  close(): Promise<void>;
  /** What the replicas of a shared store agree on through it (shared.ts); a store in one process leaves it out. */
  shared?: SharedState;
}

/**
 * Connectability results by (ip, port) key, shared by the replicas (src/tracker/connectability.ts): a
 * result holds for its ttl; a claim, held a short while, lets one replica check while the others wait.
 */
export interface ConnectableResults {
  /** The stored result, or null when none (or only a claim). */
  get(key: string): Promise<boolean | null>;
  /** Claims the check of `key` for `seconds`: true when no other replica holds a claim or a result. */
  claim(key: string, seconds: number): Promise<boolean>;
  set(key: string, connectable: boolean, ttlSeconds: number): Promise<void>;
}

export interface TrackerDriver {
  open(params: Record<string, unknown>, ctx: DriverContext): Promise<TrackerStore>;
}
