/**
 * What every frontend (HTTP, UDP, and the WebSocket one to come) does to a request besides parsing it:
 * the checks on a decoded announce, with one wording per problem whatever the transport; what a
 * failure becomes for the client; and the request metric. Parsers stay with their transport (query
 * strings and percent-encoding, fixed packet offsets); they decode, and this module judges what they
 * produce. How many peers an answer carries is the tracker's policy: `peersWanted` in
 * tracker/tracker.ts, given the transport's own cap as AnnounceRequest.maxPeers.
 *
 * This is the hot path: plain functions over arguments, nothing allocated unless a request is refused.
 */
import type { Family } from '../bittorrent/address.js';
import { INFO_HASH_LENGTH, PEER_ID_LENGTH, type AnnounceEvent } from '../bittorrent/announce.js';
import { ClientError } from '../bittorrent/errors.js';
import type { Action, Outcome, Protocol, TrackerMetrics } from '../metrics/metrics.js';

/** What a client is told when the failure is the tracker's, not its own; the cause goes to the log. */
export const UNAVAILABLE = 'tracker is temporarily unavailable, try again later';

/** Largest numwant a client may ask for: what BEP 15's signed 32-bit field holds. */
export const MAX_NUMWANT = 0x7fffffff;

/** The announce fields every transport decodes; numbers a parser could not read are NaN (or any out-of-range value). */
export interface DecodedAnnounce {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  port: number;
  uploaded: number;
  downloaded: number;
  left: number;
  /** Undefined when the client did not ask (the tracker's default applies). */
  numwant: number | undefined;
}

/** info_hash or peer_id (or a scrape's info_hash) of the wrong length. */
export function checkLength(name: 'info_hash' | 'peer_id', bytes: Uint8Array, length: number): void {
  if (bytes.length !== length) throw new ClientError(`invalid ${name}: must be ${length} bytes, got ${bytes.length}`);
}

export function checkPort(port: number): void {
  if (!(port >= 1 && port <= 65535 && Number.isInteger(port))) throw new ClientError('invalid port: must be 1-65535');
}

/** uploaded, downloaded and left: byte counts a number holds exactly. */
export function checkCount(name: 'uploaded' | 'downloaded' | 'left', value: number): void {
  if (!(value >= 0 && value <= Number.MAX_SAFE_INTEGER && Number.isInteger(value))) throw new ClientError(`invalid ${name}: must be from 0 to 2^53-1`);
}

/** A numwant the client asked for; undefined (the default) passes. */
export function checkNumwant(numwant: number | undefined): void {
  if (numwant !== undefined && !(numwant >= 0 && numwant <= MAX_NUMWANT && Number.isInteger(numwant))) {
    throw new ClientError('invalid numwant: must be a non-negative integer');
  }
}

/** The refusal of an event the tracker does not know, naming what was sent (a name quoted, a BEP 15 code as is). */
export function unknownEvent(sent: string | number): ClientError {
  return new ClientError(`unknown event ${typeof sent === 'string' ? JSON.stringify(sent) : sent}`);
}

/**
 * An event by name, as HTTP (BEP 3) and WebTorrent send it; absent, empty, `empty` and `paused` are
 * `none`. (A switch, not a table: a table would also hold `constructor` and the rest of Object's.)
 */
export function eventOfName(name: string | undefined): AnnounceEvent {
  switch (name) {
    case undefined:
    case '':
    case 'empty':
    case 'paused':
      return 'none';
    case 'started':
      return 'started';
    case 'completed':
      return 'completed';
    case 'stopped':
      return 'stopped';
    default:
      throw unknownEvent(name);
  }
}

/** Every field check, in this order: info_hash, peer_id, port, numwant, uploaded, downloaded, left. */
export function checkAnnounce(a: DecodedAnnounce): void {
  checkLength('info_hash', a.infoHash, INFO_HASH_LENGTH);
  checkLength('peer_id', a.peerId, PEER_ID_LENGTH);
  checkPort(a.port);
  checkNumwant(a.numwant);
  checkCount('uploaded', a.uploaded);
  checkCount('downloaded', a.downloaded);
  checkCount('left', a.left);
}

/** The metric outcome of a failed request: the client's fault or the tracker's. */
export function failureOutcome(error: unknown): Outcome {
  return error instanceof ClientError ? 'client_error' : 'server_error';
}

/**
 * What a failed request tells the client (HTTP as its `failure reason`, UDP in an error packet): a
 * ClientError's own message; anything else goes to `logError` (throttledErrorLog) and the client
 * learns only that the tracker is unavailable.
 */
export function failureReason(error: unknown, logError: (error: unknown) => void): string {
  if (error instanceof ClientError) return error.message;
  logError(error);
  return UNAVAILABLE;
}

/**
 * The family of a stream socket's remote address as Node writes it (IPv4-mapped IPv6 is IPv4), without
 * parsing it. UDP has the address as bytes already and takes their length.
 */
export function socketFamily(address: string | undefined): Family {
  return address !== undefined && address.includes(':') && !address.startsWith('::ffff:') ? 6 : 4;
}

/** Counts one answered request and its time since `started` (a performance.now() value). */
export function countRequest(metrics: TrackerMetrics | undefined, protocol: Protocol, action: Action, family: Family, outcome: Outcome, started: number): void {
  if (metrics) metrics.request(protocol, action, family, outcome, (performance.now() - started) / 1000);
}
