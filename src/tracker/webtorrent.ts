/**
 * The tracker's policy for WebTorrent announces and scrapes: the same rules as the compact announce
 * (approved clients, private passkeys, per-user limits, the allow/deny lists and registration, the
 * scrape limit), then the driver's WebRTC swarms. In private mode the announce is credited as a compact
 * one is (Tracker.credit: the same deltas, multipliers, snatches and record). The WebSocket frontend
 * relays offers to the peers picked here.
 */
import type { AnnounceEvent, SwarmCounts } from '../bittorrent/announce.js';
import { ClientError } from '../bittorrent/errors.js';
import { UNKNOWN_LEFT } from '../backend/driver.js';
import { formatIp } from '../bittorrent/address.js';
import type { Tracker } from './tracker.js';
import type { BinaryId, WebTorrentPeer, WebTorrentSwarms } from '../store/webtorrent-driver.js';

/** Most offers one announce may carry, as every WebTorrent tracker has it: the peers it may be sent to. */
export const MAX_OFFERS = 10;

export interface WebTorrentAnnounceRequest {
  infoHash: BinaryId;
  peerId: BinaryId;
  /** The totals the client reports (checked byte counts); a socket's close reports its last ones again. */
  uploaded: number;
  downloaded: number;
  /** Undefined before the client knows the torrent's size (a leecher). */
  left: number | undefined;
  event: AnnounceEvent;
  /** Offers the announce carries (0 to MAX_OFFERS): each goes to one peer at most. */
  offers: number;
  /** Undefined: as many peers as offers. */
  numwant: number | undefined;
  passkey?: string;
  /**
   * The client's address (after trusted proxies) as hex of its 4 or 16 bytes, as the frontend keys its
   * sockets: private mode counts it per user and writes it into the accounting record. Decoded only then.
   */
  clientAddress?: string;
  /** The same address as its 4 or 16 bytes: what the request budgets count. */
  sourceIp?: Buffer;
  /** The User-Agent of the socket's upgrade request, when it sent one. */
  userAgent?: string;
}

export interface WebTorrentAnnounceResult extends SwarmCounts {
  interval: number;
  /** The peers to relay the offers to, in the order of the offers. */
  peers: WebTorrentPeer[];
}

export class WebTorrentTracker {
  constructor(
    private readonly tracker: Tracker,
    readonly swarms: WebTorrentSwarms,
    /** Seconds between announces a WebTorrent client is asked to keep. */
    public interval: number,
  ) {}

  async announce(req: WebTorrentAnnounceRequest): Promise<WebTorrentAnnounceResult> {
    const tracker = this.tracker;
    const policy = tracker.policy;
    // The budgets HTTP and UDP announces spend, shared with them. A stop (a socket's close among them)
    // only ends a peer: never refused, so a client over budget still leaves the swarms it was in.
    if (req.event !== 'stopped') tracker.spendBudget('webtorrent', 'announce', req.sourceIp);
    tracker.checkClient(Buffer.from(req.peerId, 'latin1'));
    if (req.event !== 'stopped') tracker.checkUserAgent(req.userAgent);
    const user = policy.private ? await tracker.userOf(req.passkey) : null;
    if (user) tracker.mayLeech(user, req.left, req.event);
    const slot = user ? tracker.takeSlot(user, Buffer.from(req.infoHash, 'latin1'), req.left, req.event) : undefined;
    const ip = user && req.clientAddress ? Buffer.from(req.clientAddress, 'hex') : undefined;
    // A stop (a socket's close among them) is never refused for the address count: it only ends a peer.
    if (user && ip && req.event !== 'stopped') tracker.noteAddress(user, ip);
    const access = user
      ? tracker.privateAccess(user, req.uploaded, req.downloaded)
      : { requireRegistered: policy.private, requireAllowed: policy.approvedTorrentsOnly };
    const numwant = req.event === 'stopped' ? 0 : Math.min(req.offers, req.numwant ?? MAX_OFFERS, MAX_OFFERS);
    const result = await this.swarms.announce({
      infoHash: req.infoHash,
      peerId: req.peerId,
      seeder: req.left === 0,
      event: req.event,
      numwant,
      access,
    });
    if (user) tracker.settleSlot(user, Buffer.from(req.infoHash, 'latin1'), slot, result.refused !== undefined);
    if (result.refused) throw await tracker.refusalOf(result.refused, Buffer.from(req.infoHash, 'latin1'));
    if (user) {
      const waiting = tracker.credit(
        {
          infoHash: Buffer.from(req.infoHash, 'latin1'),
          peerId: Buffer.from(req.peerId, 'latin1'),
          event: req.event,
          uploaded: req.uploaded,
          downloaded: req.downloaded,
          left: req.left ?? UNKNOWN_LEFT,
          ipv4: ip?.length === 4 ? formatIp(ip) : '',
          ipv6: ip?.length === 16 ? formatIp(ip) : '',
          port: 0,
          interval: this.interval,
          transport: 'webtorrent',
        },
        user,
        access.announceId!,
        result,
      );
      if (waiting) await waiting;
    }
    return { interval: this.interval, complete: result.complete, incomplete: result.incomplete, downloaded: result.downloaded, peers: result.peers };
  }

  async scrape(req: { infoHashes: BinaryId[]; passkey?: string; sourceIp?: Buffer }): Promise<SwarmCounts[]> {
    const policy = this.tracker.policy;
    this.tracker.spendBudget('webtorrent', 'scrape', req.sourceIp);
    if (policy.private) await this.tracker.userOf(req.passkey);
    if (req.infoHashes.length === 0) throw new ClientError('full scrape is not allowed: name at least one info_hash');
    if (req.infoHashes.length > policy.maxScrapeInfoHashes) {
      throw new ClientError(`too many info_hash values in one scrape (at most ${policy.maxScrapeInfoHashes})`);
    }
    return this.swarms.scrape(req.infoHashes);
  }
}
