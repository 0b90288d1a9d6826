/**
 * The backend driver contract: where a private site's accounting goes. The tracker hands it one record
 * per private announce; the driver batches them for the site's slower database.
 *
 * Obligations: `record` never waits on that database. It returns nothing while the driver has room, and
 * a promise only when its bounded buffer is full and its overflow policy is to make the announce wait.
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
   * "webrtc" for a WebTorrent peer's announce over a WebSocket (its addresses are the socket's, its
   * port 0, and `left` is UNKNOWN_LEFT while it does not know the torrent's size); absent for HTTP and
   * UDP, and in records of older versions.
   */
  transport?: 'webrtc';
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
