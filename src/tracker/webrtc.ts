/**
 * The tracker's policy for WebTorrent announces and scrapes: the same rules as the compact announce
 * (approved clients, private passkeys, the allow/deny lists and registration, the scrape limit), then
 * the driver's WebRTC swarms. The WebSocket frontend relays offers to the peers picked here.
 */
import type { AnnounceEvent, SwarmCounts } from '../bittorrent/announce.js';
import { ClientError } from '../bittorrent/errors.js';
import { REFUSALS, type Tracker } from './tracker.js';
import type { BinaryId, RtcPeer, RtcSwarms } from './webrtc-driver.js';

/** Most offers one announce may carry, as every WebTorrent tracker has it: the peers it may be sent to. */
export const MAX_OFFERS = 10;

export interface RtcAnnounceRequest {
  infoHash: BinaryId;
  peerId: BinaryId;
  /** Undefined before the client knows the torrent's size (a leecher). */
  left: number | undefined;
  event: AnnounceEvent;
  /** Offers the announce carries (0 to MAX_OFFERS): each goes to one peer at most. */
  offers: number;
  /** Undefined: as many peers as offers. */
  numwant: number | undefined;
  passkey?: string;
}

export interface RtcAnnounceResult extends SwarmCounts {
  interval: number;
  /** The peers to relay the offers to, in the order of the offers. */
  peers: RtcPeer[];
}

export class WebRtcTracker {
  constructor(
    private readonly tracker: Tracker,
    readonly swarms: RtcSwarms,
    /** Seconds between announces a WebTorrent client is asked to keep. */
    readonly interval: number,
  ) {}

  async announce(req: RtcAnnounceRequest): Promise<RtcAnnounceResult> {
    const policy = this.tracker.policy;
    if (policy.approvedClientsOnly && !this.tracker.store.catalogue.approvedClient(Buffer.from(req.peerId, 'latin1'))) {
      throw new ClientError("your client is not approved on this tracker; see the site's list of allowed clients");
    }
    if (policy.private) await this.tracker.userOf(req.passkey);
    const numwant = req.event === 'stopped' ? 0 : Math.min(req.offers, req.numwant ?? MAX_OFFERS, MAX_OFFERS);
    const result = await this.swarms.announce({
      infoHash: req.infoHash,
      peerId: req.peerId,
      seeder: req.left === 0,
      event: req.event,
      numwant,
      access: { requireRegistered: policy.private, requireAllowed: policy.approvedTorrentsOnly },
    });
    if (result.refused) throw new ClientError(REFUSALS[result.refused]);
    return { interval: this.interval, complete: result.complete, incomplete: result.incomplete, downloaded: result.downloaded, peers: result.peers };
  }

  async scrape(req: { infoHashes: BinaryId[]; passkey?: string }): Promise<SwarmCounts[]> {
    const policy = this.tracker.policy;
    if (policy.private) await this.tracker.userOf(req.passkey);
    if (req.infoHashes.length === 0) throw new ClientError('full scrape is not allowed: name at least one info_hash');
    if (req.infoHashes.length > policy.maxScrapeInfoHashes) {
      throw new ClientError(`too many info_hash values in one scrape (at most ${policy.maxScrapeInfoHashes})`);
    }
    return this.swarms.scrape(req.infoHashes);
  }
}
