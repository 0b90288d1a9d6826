/**
 * The backend driver contract: where a private site's accounting goes. The tracker hands it one record
 * per private announce; the driver batches them for the site's slower database.
 *
 * Obligations: `record` never waits on that database. It returns nothing while the driver has room, and
 * a promise only when its bounded buffer is full and its overflow policy is to make the announce wait, or
 * for a record of an event (`started`, `completed`, `stopped`), which no later record of its session
 * covers: the announce may wait, for a bounded time, until such a record is safe from a crash of this
 * process.
 * `flush` writes out everything accepted so far (the tracker calls it on SIGTERM).
 */
import type { Logger } from 'pino';
import type { AnnounceEvent } from '../bittorrent/announce.js';
import type { BackendMetrics } from '../metrics/metrics.js';

/** One private announce's accounting: what the peer moved since its previous announce. */
export interface AccountingRecord {
  /** Unique across processes and time: a consumer applies each id at most once. */
  id: string;
  userId: number;
  torrentId: number;
  infoHash: Buffer;
  peerId: Buffer;
  event: AnnounceEvent;
  /** Bytes since the previous announce, as reported (a counter that went backwards counts from zero). */
  rawUploaded: number;
  rawDownloaded: number;
  /** The same after user and torrent multipliers and freeleech: what the site credits. */
  uploaded: number;
  downloaded: number;
  left: number;
  /** This announce completed the torrent for this peer (counted once). */
  snatched: boolean;
  /** Unix milliseconds. */
  time: number;
  /**
   * What a site shows of its users' active peers and needs for seed time (the reference consumer's
   * active_peers and seed_time): the addresses the peer registered ("" for none), its port, the totals
   * it reported, and the seconds until the next announce it was told (`interval`). Absent in records
   * of older versions.
   */
  ipv4?: string;
  ipv6?: string;
  port?: number;
  reportedUploaded?: number;
  reportedDownloaded?: number;
  interval?: number;
  /**
   * "webtorrent" for a WebTorrent peer's announce over a WebSocket (its addresses are the socket's, its
   * port 0, and `left` is UNKNOWN_LEFT while it does not know the torrent's size); absent for HTTP and
   * UDP, and in records of older versions.
   */
  transport?: 'webtorrent';
  /**
   * The peer's accounting session as the tracker's atomic step numbered it (src/store/session.ts),
   * with the reported totals above: a consumer keeps a high-water mark per session epoch and credits
   * what the totals passed it by, so a lost, repeated or late record changes nothing in the end.
   * Absent in records of older versions (credit their deltas).
   */
  session?: AccountingSession;
  /** The multipliers this record's credit used (freeleech: down 0), for what a consumer credits past the delta. */
  upMultiplier?: number;
  downMultiplier?: number;
  /** Which rule made the download free (down multiplier 0), for sites to show; absent when none did. */
  freeleech?: FreeleechRule;
  /**
   * The user's freeleech token on this torrent ended with this announce: "completed" (it completed the
   * torrent; this announce's download was still free) or "expired" (its `until` had passed; not free).
   * The tracker then deletes the token. Absent otherwise.
   */
  tokenEnd?: TokenEnd;
  /**
   * Whether the peer's announced (ip, port) accepted a connection (and a handshake, if configured) at its
   * latest check (private.connectable_check); absent while unknown, when checks are off, and in records
   * of older versions.
   */
  connectable?: boolean;
}

/** What made a download free: the global switch, the torrent's flag, the user's personal freeleech, or a freeleech token. */
export type FreeleechRule = 'global' | 'torrent' | 'personal' | 'token';
export const FREELEECH_RULES: readonly FreeleechRule[] = ['global', 'torrent', 'personal', 'token'];

/** Why a freeleech token ended. */
export type TokenEnd = 'completed' | 'expired';
export const TOKEN_ENDS: readonly TokenEnd[] = ['completed', 'expired'];

/** A private peer's run of cumulative counters, as the tracker's atomic step numbers it (src/store/session.ts). */
export interface AccountingSession {
  /** The record id of the announce that opened this run of the counters: unique, never reused. */
  epoch: string;
  /** This announce's place in the epoch, 1 for the announce that opened it. */
  seq: number;
  /** What the epoch's counters count from: 0 after `started` or a reset; for an open epoch, the counters it opened with. */
  baseUploaded: number;
  baseDownloaded: number;
  /**
   * Opened by an announce, not `started`, of a peer the tracker did not know (it expired, or the store
   * lost it): a consumer that knows the session's counters continues from them instead of from base.
   */
  open: boolean;
  /**
   * The peer has counted its snatch of the torrent by this announce (on this one or before): a consumer
   * counts a session's snatch once, from whichever of its records comes first, so a lost `completed`
   * record costs no snatch. Absent (false) from a store that does not say.
   */
  completed?: boolean;
}

/**
 * Bytes credited for `raw` bytes at `multiplier`, rounded down; the tiny epsilon keeps a product such
 * as 100 * 1.15 (114.99999999999999 in binary floating point) from losing its last byte. The tracker and
 * the reference consumer both credit with it.
 */
export function creditedBytes(raw: number, multiplier: number): number {
  return Math.floor(raw * multiplier + 1e-6);
}

/** `left` of a WebTorrent peer that does not know the torrent's size yet (it sent none): 2^53-1, a leecher. */
export const UNKNOWN_LEFT = Number.MAX_SAFE_INTEGER;

export interface Backend {
  record(entry: AccountingRecord): void | Promise<void>;
  /** Writes out what is buffered; called on shutdown. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface BackendContext {
  logger: Logger;
  /** Where the driver reports its queue depth, flushes, failures and drops. */
  metrics?: BackendMetrics;
}

export interface BackendDriver {
  /** True when the tracker should build records at all; a driver that drops them says false. */
  readonly wantsRecords: boolean;
  open(params: Record<string, unknown>, ctx: BackendContext): Promise<Backend>;
}
