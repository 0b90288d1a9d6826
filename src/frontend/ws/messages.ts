/**
 * WebTorrent's messages: JSON text frames (no BEP; bittorrent-tracker's server is the reference). This
 * module turns a frame into a checked request, or a ClientError naming the first bad field, and writes
 * the tracker's messages. It changes nothing: a refused frame has no effect beyond its failure reason.
 *
 * info_hash, peer_id, to_peer_id and offer_id are 20-character strings whose code points are the raw
 * bytes (U+0000 to U+00FF): JSON.parse decodes the escapes, and each code point is one byte (latin1).
 */
import { INFO_HASH_LENGTH, PEER_ID_LENGTH, type AnnounceEvent } from '../../bittorrent/announce.js';
import { ClientError } from '../../bittorrent/errors.js';
import { MAX_OFFERS } from '../../tracker/webtorrent.js';
import type { BinaryId } from '../../store/webtorrent-driver.js';
import { checkCount, checkNumwant, eventOfName } from '../sanitize.js';
import { skeletonOf, tokenOf } from './frame-scan.js';

/** An SDP as a JSON string token (quotes and escapes included), UTF-8: checked, and relayed as it is. */
export type SdpToken = Buffer;

export interface WsOffer {
  offerId: BinaryId;
  sdp: SdpToken;
}

export interface WsAnnounce {
  action: 'announce';
  infoHash: BinaryId;
  peerId: BinaryId;
  uploaded: number;
  downloaded: number;
  left: number | undefined;
  event: AnnounceEvent;
  numwant: number | undefined;
  offers: WsOffer[];
}

export interface WsAnswer {
  action: 'answer';
  infoHash: BinaryId;
  peerId: BinaryId;
  toPeerId: BinaryId;
  offerId: BinaryId;
  sdp: SdpToken;
}

export interface WsScrape {
  action: 'scrape';
  infoHashes: BinaryId[];
}

export type WsRequest = WsAnnounce | WsAnswer | WsScrape;

/** A refused frame: the failure reason, and the action and info_hash to echo when the frame had them. */
export class WsClientError extends ClientError {
  constructor(
    message: string,
    readonly action: string | undefined,
    readonly infoHash: string | undefined,
  ) {
    super(message);
  }
}

/** Longest SDP relayed; the frame limit bounds the whole message too. */
export const MAX_SDP_LENGTH = 16384;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A 20-byte id written as 20 code points of at most 255 (kept as that string), or a ClientError. */
export function binaryString(name: string, value: unknown, length = 20): BinaryId {
  if (typeof value !== 'string') throw new ClientError(`invalid ${name}: must be a string of ${length} characters`);
  if (value.length !== length) throw new ClientError(`invalid ${name}: must be ${length} characters, got ${value.length}`);
  for (let i = 0; i < length; i++) {
    if (value.charCodeAt(i) > 255) throw new ClientError(`invalid ${name}: characters must be U+0000 to U+00FF (one byte each)`);
  }
  return value;
}

/** uploaded/downloaded: absent or null is 0 (browsers send null for NaN); otherwise a byte count. */
function counter(name: 'uploaded' | 'downloaded', value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number') throw new ClientError(`invalid ${name}: must be a number`);
  checkCount(name, value);
  return value;
}

/** left: absent or null (the size is not known yet) is a leecher. */
function leftOf(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number') throw new ClientError('invalid left: must be a number');
  checkCount('left', value);
  return value;
}

function numwantOf(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number') throw new ClientError('invalid numwant: must be a non-negative integer');
  checkNumwant(value);
  return value;
}

function eventOf(value: unknown): AnnounceEvent {
  if (value === undefined || value === null) return 'none';
  if (typeof value !== 'string') throw new ClientError('invalid event: must be a string');
  // WebTorrent clients send "update" for a regular announce.
  return value === 'update' ? 'none' : eventOfName(value.length > 32 ? value.slice(0, 32) : value);
}

/**
 * The SDP of a description `{type, sdp}` of the given type: the frame's own token when the frame was
 * read around its SDPs (frame-scan.ts), else written again from the parsed string.
 */
function description(name: 'offer' | 'answer', value: unknown, tokens: Buffer[]): SdpToken {
  if (!isObject(value)) throw new ClientError(`invalid ${name}: must be an object {type, sdp}`);
  if (value.type !== name) throw new ClientError(`invalid ${name}: type must be "${name}"`);
  const token = tokenOf(value.sdp, tokens);
  if (token !== undefined) {
    if (token.length === 2) throw new ClientError(`invalid ${name}: sdp must be a non-empty string`);
    // A token's characters are at most its bytes: only a long one need be decoded to be measured.
    if (token.length - 2 > MAX_SDP_LENGTH && (JSON.parse(token.toString('utf8')) as string).length > MAX_SDP_LENGTH) {
      throw new ClientError(`invalid ${name}: sdp longer than ${MAX_SDP_LENGTH} characters`);
    }
    return token;
  }
  if (typeof value.sdp !== 'string' || value.sdp.length === 0) throw new ClientError(`invalid ${name}: sdp must be a non-empty string`);
  if (value.sdp.length > MAX_SDP_LENGTH) throw new ClientError(`invalid ${name}: sdp longer than ${MAX_SDP_LENGTH} characters`);
  return Buffer.from(JSON.stringify(value.sdp), 'utf8');
}

function offersOf(value: unknown, tokens: Buffer[]): WsOffer[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ClientError('invalid offers: must be a list');
  if (value.length > MAX_OFFERS) throw new ClientError(`too many offers: at most ${MAX_OFFERS} per announce`);
  const seen = new Set<string>();
  return value.map((item: unknown) => {
    if (!isObject(item)) throw new ClientError('invalid offers: each must be an object {offer, offer_id}');
    const offerId = binaryString('offer_id', item.offer_id);
    if (seen.has(offerId)) throw new ClientError('invalid offers: an offer_id appears twice');
    seen.add(offerId);
    return { offerId, sdp: description('offer', item.offer, tokens) };
  });
}

/** `tokens`: the SDP tokens the frame's markers stand for. */
function announceOf(m: Json, tokens: Buffer[]): WsAnnounce | WsAnswer {
  const infoHash = binaryString('info_hash', m.info_hash, INFO_HASH_LENGTH);
  const peerId = binaryString('peer_id', m.peer_id, PEER_ID_LENGTH);
  if (m.answer !== undefined) {
    return {
      action: 'answer',
      infoHash,
      peerId,
      toPeerId: binaryString('to_peer_id', m.to_peer_id, PEER_ID_LENGTH),
      offerId: binaryString('offer_id', m.offer_id),
      sdp: description('answer', m.answer, tokens),
    };
  }
  return {
    action: 'announce',
    infoHash,
    peerId,
    event: eventOf(m.event),
    numwant: numwantOf(m.numwant),
    uploaded: counter('uploaded', m.uploaded),
    downloaded: counter('downloaded', m.downloaded),
    left: leftOf(m.left),
    offers: offersOf(m.offers, tokens),
  };
}

function scrapeOf(m: Json, maxHashes: number): WsScrape {
  const raw = m.info_hash;
  const list = raw === undefined || raw === null ? [] : Array.isArray(raw) ? raw : [raw];
  if (list.length > maxHashes) throw new ClientError(`too many info_hash values in one scrape (at most ${maxHashes})`);
  return { action: 'scrape', infoHashes: list.map((hash: unknown) => binaryString('info_hash', hash, INFO_HASH_LENGTH)) };
}

/** The echo of a refused frame's info_hash: only a well-formed one (never arbitrary client text). */
function echoHash(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length !== INFO_HASH_LENGTH) return undefined;
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 255) return undefined;
  return value;
}

/**
 * Room for the SDP tokens of the most offers an announce may carry, and one more: a frame with more is
 * refused anyway, after the ordinary parse.
 */
const MAX_TOKENS = MAX_OFFERS + 1;
const NO_TOKENS: Buffer[] = [];

/**
 * A frame (UTF-8, as ws checked it) as a checked request; a WsClientError otherwise. `aroundSdps`
 * false decodes and parses the whole frame: the reference the tests hold the reading around SDPs to.
 */
export function parseMessage(frame: Buffer | string, maxScrapeHashes: number, aroundSdps = true): WsRequest {
  const bytes = typeof frame === 'string' ? Buffer.from(frame, 'utf8') : frame;
  let message: unknown;
  let tokens = NO_TOKENS;
  const skeleton = aroundSdps ? skeletonOf(bytes, MAX_TOKENS) : undefined;
  try {
    if (skeleton !== undefined) {
      message = JSON.parse(skeleton.text);
      tokens = skeleton.tokens;
    } else {
      message = JSON.parse(bytes.toString('utf8'));
    }
  } catch {
    throw new WsClientError('invalid message: not JSON', undefined, undefined);
  }
  if (!isObject(message)) throw new WsClientError('invalid message: must be a JSON object', undefined, undefined);
  const action = message.action;
  try {
    if (action === 'announce') return announceOf(message, tokens);
    if (action === 'scrape') return scrapeOf(message, maxScrapeHashes);
  } catch (error) {
    if (error instanceof ClientError) throw new WsClientError(error.message, String(action), echoHash(message.info_hash));
    throw error;
  }
  throw new WsClientError('invalid action: must be "announce" or "scrape"', undefined, echoHash(message.info_hash));
}

/** The answer to an announce (not to an answer): counts and the interval. */
export function announceReply(infoHash: BinaryId, interval: number, complete: number, incomplete: number): string {
  return `{"action":"announce","interval":${interval},"info_hash":${JSON.stringify(infoHash)},"complete":${complete},"incomplete":${incomplete}}`;
}

/** What an offer or an answer as its receiver reads it starts with, up to its SDP token. */
export const SIGNAL_HEAD = {
  offer: Buffer.from('{"action":"announce","offer":{"type":"offer","sdp":', 'latin1'),
  answer: Buffer.from('{"action":"announce","answer":{"type":"answer","sdp":', 'latin1'),
} as const;

/** What follows the SDP token of an offer or an answer as its receiver reads it. */
export function signalTail(offerId: BinaryId, from: BinaryId, infoHash: BinaryId): string {
  return `},"offer_id":${JSON.stringify(offerId)},"peer_id":${JSON.stringify(from)},"info_hash":${JSON.stringify(infoHash)}}`;
}

export function scrapeReply(infoHashes: BinaryId[], counts: Array<{ complete: number; incomplete: number; downloaded: number }>): string {
  const files: Record<string, { complete: number; incomplete: number; downloaded: number }> = {};
  infoHashes.forEach((hash, i) => {
    const c = counts[i]!;
    files[hash] = { complete: c.complete, incomplete: c.incomplete, downloaded: c.downloaded };
  });
  return JSON.stringify({ action: 'scrape', files });
}

export function failureMessage(reason: string, action: string | undefined, infoHash: string | undefined): string {
  const message: Record<string, string> = { 'failure reason': reason };
  if (action === 'announce' || action === 'scrape') message.action = action;
  if (infoHash !== undefined) message.info_hash = infoHash;
  return JSON.stringify(message);
}
