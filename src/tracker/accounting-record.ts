/**
 * Private mode's accounting record of one announce: the delta since the peer's previous totals, the
 * multipliers and the freeleech rule that applied (Tracker.credit hands it to the backend driver).
 */
import type { AnnounceEvent } from '../bittorrent/announce.js';
import { creditedBytes, type AccountingRecord, type AccountingSession, type FreeleechRule, type TokenEnd } from '../backend/driver.js';
import type { User } from '../store/catalogue.js';
import type { TorrentTerms } from '../store/driver.js';

/** What an announce reported, as the accounting needs it (CreditedAnnounce: the compact's or the WebRTC's). */
export interface CreditedAnnounce {
  infoHash: Buffer;
  peerId: Buffer;
  event: AnnounceEvent;
  /** The totals the peer reports now. */
  uploaded: number;
  downloaded: number;
  left: number;
  /** The addresses it registered or announced from, as text ("" for none), and its port (0: none). */
  ipv4: string;
  ipv6: string;
  port: number;
  /** Seconds until the next announce it was told. */
  interval: number;
  /** Private mode: whether the peer's (ip, port) was found connectable; undefined while unknown (connectability.ts). */
  connectable?: boolean;
  /** Set for a WebTorrent peer; absent for HTTP and UDP. */
  transport?: 'webtorrent';
}

/** What the store's atomic step answered, as the accounting needs it (SwarmResult and WebTorrentResult both have it). */
export interface StoreOutcome {
  previous?: { uploaded: number; downloaded: number } | null;
  session?: AccountingSession;
  torrent?: TorrentTerms;
  snatched?: boolean;
}

/**
 * What this announce moved since the peer's previous one. A counter below its previous value (the
 * client restarted) counts from zero. A peer the tracker does not know counts from zero only on
 * `started`: otherwise its totals may include bytes credited before the tracker forgot it (a peer that
 * slept past peer_ttl, a Redis restart), and its first announce only sets the baseline.
 */
export function accountingRecord(a: CreditedAnnounce, user: User, id: string, outcome: StoreOutcome, globalFreeleech: boolean): AccountingRecord {
  const previous = outcome.previous ?? (a.event === 'started' ? { uploaded: 0, downloaded: 0 } : { uploaded: a.uploaded, downloaded: a.downloaded });
  const rawUploaded = a.uploaded >= previous.uploaded ? a.uploaded - previous.uploaded : a.uploaded;
  const rawDownloaded = a.downloaded >= previous.downloaded ? a.downloaded - previous.downloaded : a.downloaded;
  const terms = outcome.torrent;
  const time = Date.now();
  const token = terms && user.tokens?.get(terms.id);
  const tokenHolds = token !== undefined && (token.until === 0 || token.until * 1000 > time);
  const freeleech = freeleechRule(globalFreeleech, terms, user, time) ?? (tokenHolds ? 'token' : undefined);
  const upMultiplier = user.upMultiplier * (terms?.upMultiplier ?? 1);
  const downMultiplier = freeleech ? 0 : user.downMultiplier * (terms?.downMultiplier ?? 1);
  const record: AccountingRecord = {
    id,
    userId: user.id,
    torrentId: terms?.id ?? 0,
    infoHash: a.infoHash,
    peerId: a.peerId,
    event: a.event,
    rawUploaded,
    rawDownloaded,
    uploaded: creditedBytes(rawUploaded, upMultiplier),
    downloaded: creditedBytes(rawDownloaded, downMultiplier),
    left: a.left,
    snatched: outcome.snatched ?? false,
    time,
    ipv4: a.ipv4,
    ipv6: a.ipv6,
    port: a.port,
    reportedUploaded: a.uploaded,
    reportedDownloaded: a.downloaded,
    interval: a.interval,
    upMultiplier,
    downMultiplier,
  };
  if (outcome.session) record.session = outcome.session;
  if (a.transport) record.transport = a.transport;
  if (a.connectable !== undefined) record.connectable = a.connectable;
  if (freeleech) record.freeleech = freeleech;
  if (token) {
    const end = tokenEnd(tokenHolds, outcome.snatched ?? false);
    if (end) record.tokenEnd = end;
  }
  return record;
}

/**
 * Whether a token this announce found ends with it: completing the torrent uses it up (the completing
 * announce's download was still free); past its `until` it has expired.
 */
function tokenEnd(holds: boolean, snatched: boolean): TokenEnd | undefined {
  if (!holds) return 'expired';
  return snatched ? 'completed' : undefined;
}

/** The rule that makes this download free, the broadest first; undefined when none does. */
function freeleechRule(globalFreeleech: boolean, terms: TorrentTerms | undefined, user: User, time: number): FreeleechRule | undefined {
  if (globalFreeleech) return 'global';
  if (terms?.freeleech) return 'torrent';
  if (user.freeleechUntil !== undefined && user.freeleechUntil * 1000 > time) return 'personal';
  return undefined;
}
