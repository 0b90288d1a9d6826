/**
 * The tracker's policy, shared by every frontend: which addresses a peer registers, how many peers it
 * gets, the intervals it is told, and what goes to the backend. Storage is the driver's business.
 */
import { randomBytes } from 'node:crypto';
import { compactPeer, formatIp } from '../bittorrent/address.js';
import type { AnnounceEvent, AnnounceRequest, AnnounceResult, ScrapeRequest, ScrapeResult } from '../bittorrent/announce.js';
import { ClientError } from '../bittorrent/errors.js';
import type { AccountingRecord, Backend } from '../backend/driver.js';
import type { Config } from '../config/config.js';
import type { AddressLimits } from './address-ledger.js';
import type { User } from './catalogue.js';
import type { Refusal, SwarmAccess, SwarmAnnounce, SwarmResult, TrackerStore } from './driver.js';

export interface TrackerPolicy {
  announceInterval: number;
  minAnnounceInterval: number;
  intervalJitter: number;
  defaultNumwant: number;
  maxNumwant: number;
  maxScrapeInfoHashes: number;
  allowFullScrape: boolean;
  allowIpSpoofing: boolean;
  respectAf: boolean;
  /** Prefix lengths for same-subnet-first ordering; 0 when grouping is off. */
  subnet4: number;
  subnet6: number;
  /** Passkeys, registered torrents and accounting. */
  private: boolean;
  approvedClientsOnly: boolean;
  approvedTorrentsOnly: boolean;
  /** Private mode: most peers per user and torrent (0: none); the config's `private` section. */
  peersPerTorrent?: number;
  /** Private mode: return a user's own other peers to it (private.own_peers). */
  ownPeers?: boolean;
  /** Private mode: distinct addresses per user over a window (private.addresses_per_user, ...). */
  addressLimits?: AddressLimits;
}

/** The policy a configuration asks for (boot() builds the Tracker with it; tests and benchmarks start from it). */
export function trackerPolicy(config: Config): TrackerPolicy {
  return {
    announceInterval: config.announce_interval,
    minAnnounceInterval: config.min_announce_interval,
    intervalJitter: config.interval_jitter,
    defaultNumwant: config.default_numwant,
    maxNumwant: config.max_numwant,
    maxScrapeInfoHashes: config.max_scrape_infohashes,
    allowFullScrape: config.allow_full_scrape,
    allowIpSpoofing: config.allow_ip_spoofing,
    respectAf: config.respect_af,
    subnet4: config.preferred_subnet ? config.preferred_ipv4_subnet : 0,
    subnet6: config.preferred_subnet ? config.preferred_ipv6_subnet : 0,
    private: config.private_enabled,
    approvedClientsOnly: config.approved_clients_only,
    approvedTorrentsOnly: config.approved_torrents_only,
    peersPerTorrent: config.private.peers_per_torrent,
    ownPeers: config.private.own_peers,
    addressLimits: {
      windowSeconds: config.private.address_window,
      limit: config.private.addresses_per_user,
      enforce: config.private.enforce_address_limit,
    },
  };
}

export const REFUSALS: Record<Refusal, string> = {
  denied: 'this torrent is not allowed on this tracker',
  not_allowed: 'this torrent is not on the allow list of this tracker',
  unregistered: 'unregistered torrent',
  peer_limit: 'your account already runs the most peers allowed on this torrent (private.peers_per_torrent): stop one of them first',
};

/** Most swarms a full scrape lists: the answer must stay a sane size. */
const FULL_SCRAPE_LIMIT = 10_000;

/**
 * Bytes credited for `raw` bytes at `multiplier`, rounded down; the tiny epsilon keeps a product such
 * as 100 * 1.15 (114.99999999999999 in binary floating point) from losing its last byte.
 */
function credited(raw: number, multiplier: number): number {
  return Math.floor(raw * multiplier + 1e-6);
}

/**
 * How many peers an announce gets, for every frontend: none on `stopped`; otherwise what the client
 * asked for (undefined: default_numwant), at most max_numwant and at most `transportCap`, what the
 * transport carries in one answer (UDP: one datagram; Infinity when it has no such limit). The
 * default and the maximum are the tracker's policy, so the rule lives here, where every frontend's
 * request passes, and a frontend only states its own cap (AnnounceRequest.maxPeers).
 */
export function peersWanted(asked: number | undefined, event: AnnounceEvent, policy: TrackerPolicy, transportCap: number): number {
  return event === 'stopped' ? 0 : Math.min(asked ?? policy.defaultNumwant, policy.maxNumwant, transportCap);
}

/** `ip` when it has `length` bytes (4: IPv4, 16: IPv6), else `otherwise`. */
function familyIp(ip: Buffer | undefined, length: number, otherwise: Buffer | undefined): Buffer | undefined {
  return ip?.length === length ? ip : otherwise;
}

export class Tracker {
  /** Accounting record ids: this process's random prefix and a counter, unique without coordination. */
  private readonly recordPrefix = randomBytes(8).toString('hex');
  private recordCount = 0;
  /** The access rules of an announce without a user: the same for every one, so made once. */
  private readonly openAccess: SwarmAccess;

  constructor(
    readonly store: TrackerStore,
    private readonly backend: Backend | null,
    readonly policy: TrackerPolicy,
  ) {
    this.openAccess = { requireRegistered: policy.private, requireAllowed: policy.approvedTorrentsOnly };
  }

  async announce(req: AnnounceRequest): Promise<AnnounceResult> {
    const policy = this.policy;
    const catalogue = this.store.catalogue;
    if (policy.approvedClientsOnly && !catalogue.approvedClient(req.peerId)) {
      throw new ClientError("your client is not approved on this tracker; see the site's list of allowed clients");
    }
    const user = policy.private ? await this.userOf(req.passkey) : null;
    const access: SwarmAccess = user
      ? {
          requireRegistered: policy.private,
          requireAllowed: policy.approvedTorrentsOnly,
          userId: user.id,
          uploaded: req.uploaded,
          downloaded: req.downloaded,
          announceId: `${this.recordPrefix}-${(this.recordCount++).toString(36)}`,
          peerLimit: policy.peersPerTorrent || undefined,
          ownPeers: policy.ownPeers || undefined,
        }
      : this.openAccess;
    // The compact addresses the announcer registers: its source address, plus BEP 7 claims if allowed.
    let ip4 = familyIp(req.sourceIp, 4, undefined);
    let ip6 = familyIp(req.sourceIp, 16, undefined);
    if (policy.allowIpSpoofing) {
      for (const claimed of [req.claimedIp, req.claimedIpv4, req.claimedIpv6]) {
        ip4 = familyIp(claimed, 4, ip4);
        ip6 = familyIp(claimed, 16, ip6);
      }
    }
    const v4 = ip4 && compactPeer(ip4, req.port);
    const v6 = ip6 && compactPeer(ip6, req.port);
    if (user && policy.addressLimits && this.store.addresses) {
      const verdict = this.store.addresses.note(user.id, formatIp(req.sourceIp), policy.addressLimits);
      if (verdict.refused) {
        throw new ClientError(
          `your account announced from ${policy.addressLimits.limit} addresses already in the last ${policy.addressLimits.windowSeconds} s, the most allowed`,
        );
      }
    }
    const numwant = peersWanted(req.numwant, req.event, policy, req.maxPeers ?? Infinity);
    const swarmAnnounce: SwarmAnnounce = {
      infoHash: req.infoHash,
      peerId: req.peerId,
      v4,
      v6,
      seeder: req.left === 0,
      event: req.event,
      numwant,
      want4: req.peerFamily ? req.peerFamily === 4 : !policy.respectAf || v4 !== undefined,
      want6: req.peerFamily ? req.peerFamily === 6 : !policy.respectAf || v6 !== undefined,
      subnet4: policy.subnet4,
      subnet6: policy.subnet6,
      withPeerIds: !req.compact && !req.noPeerId,
      access,
    };
    const swarm = await this.store.announce(swarmAnnounce);
    const interval = policy.announceInterval + Math.floor(Math.random() * (policy.intervalJitter + 1));
    if (swarm.refused === 'peer_limit') {
      throw new ClientError(`your account already runs ${policy.peersPerTorrent} peers on this torrent, the most allowed: stop one of them first`);
    }
    if (swarm.refused) throw new ClientError(REFUSALS[swarm.refused]);
    if (user && this.backend) {
      const waiting = this.backend.record(this.accounting(req, user, swarm, access.announceId!, v4, v6, interval));
      if (waiting) await waiting;
    }
    return {
      interval,
      minInterval: policy.minAnnounceInterval,
      complete: swarm.complete,
      incomplete: swarm.incomplete,
      downloaded: swarm.downloaded,
      peers4: swarm.peers4,
      peers6: swarm.peers6,
      peerIds4: swarm.peerIds4,
      peerIds6: swarm.peerIds6,
    };
  }

  async scrape(req: ScrapeRequest): Promise<ScrapeResult> {
    const minRequestInterval = this.policy.minAnnounceInterval;
    if (this.policy.private) await this.userOf(req.passkey);
    if (req.infoHashes.length === 0) {
      if (!this.policy.allowFullScrape || !this.store.scrapeAll) throw new ClientError('full scrape is not allowed: name at least one info_hash');
      return { files: await this.store.scrapeAll(FULL_SCRAPE_LIMIT), minRequestInterval };
    }
    if (req.infoHashes.length > this.policy.maxScrapeInfoHashes) {
      throw new ClientError(`too many info_hash values in one scrape (at most ${this.policy.maxScrapeInfoHashes})`);
    }
    const counts = await this.store.scrape(req.infoHashes);
    return { files: req.infoHashes.map((infoHash, i) => ({ infoHash, counts: counts[i]! })), minRequestInterval };
  }

  /** Private mode: the enabled user holding this passkey, or a failure reason. */
  async userOf(passkey: string | undefined): Promise<User> {
    if (!passkey) throw new ClientError('this is a private tracker: use the announce URL with your passkey (/PASSKEY/announce)');
    if (passkey.length > 128) throw new ClientError('unknown passkey');
    const user = await this.store.catalogue.userByPasskey(passkey);
    if (!user) throw new ClientError('unknown passkey');
    if (!user.enabled) throw new ClientError('your account is disabled on this tracker');
    return user;
  }

  /**
   * What this announce moved since the peer's previous one. A counter below its previous value (the
   * client restarted) counts from zero. A peer the tracker does not know counts from zero only on
   * `started`: otherwise its totals may include bytes credited before the tracker forgot it (a peer that
   * slept past peer_ttl, a Redis restart), and its first announce only sets the baseline.
   */
  private accounting(
    req: AnnounceRequest,
    user: User,
    swarm: SwarmResult,
    id: string,
    v4: Buffer | undefined,
    v6: Buffer | undefined,
    interval: number,
  ): AccountingRecord {
    const previous = swarm.previous ?? (req.event === 'started' ? { uploaded: 0, downloaded: 0 } : { uploaded: req.uploaded, downloaded: req.downloaded });
    const rawUploaded = req.uploaded >= previous.uploaded ? req.uploaded - previous.uploaded : req.uploaded;
    const rawDownloaded = req.downloaded >= previous.downloaded ? req.downloaded - previous.downloaded : req.downloaded;
    const terms = swarm.torrent;
    const freeleech = (terms?.freeleech ?? false) || this.store.catalogue.globalFreeleech();
    return {
      id,
      userId: user.id,
      torrentId: terms?.id ?? 0,
      infoHash: req.infoHash,
      peerId: req.peerId,
      event: req.event,
      rawUploaded,
      rawDownloaded,
      uploaded: credited(rawUploaded, user.upMultiplier * (terms?.upMultiplier ?? 1)),
      downloaded: freeleech ? 0 : credited(rawDownloaded, user.downMultiplier * (terms?.downMultiplier ?? 1)),
      left: req.left,
      snatched: swarm.snatched ?? false,
      time: Date.now(),
      ipv4: v4 ? formatIp(v4.subarray(0, 4)) : '',
      ipv6: v6 ? formatIp(v6.subarray(0, 16)) : '',
      port: req.port,
      reportedUploaded: req.uploaded,
      reportedDownloaded: req.downloaded,
      interval,
    };
  }
}
