/**
 * The tracker's policy, shared by every frontend: which addresses a peer registers, how many peers it
 * gets, the intervals it is told, and what goes to the backend. Storage is the driver's business.
 */
import { compactPeer } from '../bittorrent/address.js';
import type { AnnounceRequest, AnnounceResult, ScrapeRequest, ScrapeResult } from '../bittorrent/announce.js';
import { ClientError } from '../bittorrent/errors.js';
import type { Backend } from '../backend/driver.js';
import type { SwarmAnnounce, TrackerStore } from './driver.js';

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
}

/** Most swarms a full scrape lists: the answer must stay a sane size. */
const FULL_SCRAPE_LIMIT = 10_000;

export class Tracker {
  constructor(
    readonly store: TrackerStore,
    private readonly backend: Backend | null,
    readonly policy: TrackerPolicy,
  ) {}

  async announce(req: AnnounceRequest): Promise<AnnounceResult> {
    const policy = this.policy;
    const { v4, v6 } = this.addresses(req);
    const numwant = req.event === 'stopped' ? 0 : Math.min(req.numwant ?? policy.defaultNumwant, policy.maxNumwant);
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
    };
    const swarm = await this.store.announce(swarmAnnounce);
    this.backend?.record({
      infoHash: req.infoHash,
      peerId: req.peerId,
      event: req.event,
      uploaded: req.uploaded,
      downloaded: req.downloaded,
      left: req.left,
      time: Date.now(),
    });
    return {
      interval: policy.announceInterval + Math.floor(Math.random() * (policy.intervalJitter + 1)),
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

  /** The compact addresses the announcer registers: its source address, plus BEP 7 claims if allowed. */
  private addresses(req: AnnounceRequest): { v4?: Buffer; v6?: Buffer } {
    let ip4: Buffer | undefined;
    let ip6: Buffer | undefined;
    const take = (ip: Buffer | undefined): void => {
      if (ip?.length === 4) ip4 = ip;
      else if (ip?.length === 16) ip6 = ip;
    };
    take(req.sourceIp);
    if (this.policy.allowIpSpoofing) {
      take(req.claimedIp);
      take(req.claimedIpv4);
      take(req.claimedIpv6);
    }
    return {
      v4: ip4 && compactPeer(ip4, req.port),
      v6: ip6 && compactPeer(ip6, req.port),
    };
  }
}
