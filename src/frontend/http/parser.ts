/**
 * Query strings -> requests, binary-safe (see bittorrent/percent.ts). The parser decodes and reports
 * what is missing or malformed in the query; the field checks are the ones every frontend shares
 * (../sanitize.ts). Every problem is a ClientError whose message the client sees as its `failure reason`.
 */
import { parseEndpointIp } from '../../bittorrent/address.js';
import type { AnnounceRequest } from '../../bittorrent/announce.js';
import { INFO_HASH_LENGTH, PEER_ID_LENGTH } from '../../bittorrent/announce.js';
import { ClientError } from '../../bittorrent/errors.js';
import { percentDecode } from '../../bittorrent/percent.js';
import { checkAnnounce, checkLength, eventOfName } from '../sanitize.js';

export { percentDecode };

export type ParsedAnnounce = Omit<AnnounceRequest, 'sourceIp'>;

/** Digits a decimal value may have; any other form reads as NaN, which the shared checks refuse. */
const PORT_DIGITS = 5;
const COUNT_DIGITS = 16;
const NUMWANT_DIGITS = 9;

/** `text` as a number if it is 1 to `maxDigits` decimal digits, else NaN. */
function decimal(text: string, start: number, end: number, maxDigits: number): number {
  if (end - start < 1 || end - start > maxDigits) return NaN;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return NaN;
    // Exact below 2^53; above it the sum rounds to a value at least 2^53, which the checks refuse all the same.
    value = value * 10 + digit;
  }
  return value;
}

function hasPercent(query: string, start: number, end: number): boolean {
  const mark = query.indexOf('%', start);
  return mark !== -1 && mark < end;
}

function decodeText(query: string, start: number, end: number, name: string): string {
  if (!hasPercent(query, start, end)) return query.slice(start, end);
  const bytes = percentDecode(query, start, end);
  if (!bytes) throw new ClientError(`malformed percent-encoding in ${name}`);
  return bytes.toString('latin1');
}

/** A decimal value read where it stands (decoded first only when it holds a `%`): no string per number. */
function decodeDecimal(query: string, start: number, end: number, name: string, maxDigits: number): number {
  if (!hasPercent(query, start, end)) return decimal(query, start, end, maxDigits);
  const text = decodeText(query, start, end, name);
  return decimal(text, 0, text.length, maxDigits);
}

function decodeId(query: string, start: number, end: number, name: 'info_hash' | 'peer_id', length: number): Buffer {
  const bytes = percentDecode(query, start, end);
  if (!bytes) throw new ClientError(`malformed percent-encoding in ${name}`);
  checkLength(name, bytes, length);
  return bytes;
}

/** The keys an announce reads, by their number in ANNOUNCE_KEYS; matched where they stand in the query. */
const ANNOUNCE_KEYS = [
  'info_hash',
  'peer_id',
  'port',
  'uploaded',
  'downloaded',
  'left',
  'event',
  'numwant',
  'compact',
  'no_peer_id',
  'ip',
  'ipv4',
  'ipv6',
] as const;
const enum Key {
  InfoHash,
  PeerId,
  Port,
  Uploaded,
  Downloaded,
  Left,
  Event,
  Numwant,
  Compact,
  NoPeerId,
  Ip,
  Ipv4,
  Ipv6,
  Other,
}

function keyAt(query: string, start: number, end: number): Key {
  const length = end - start;
  for (let key = 0; key < ANNOUNCE_KEYS.length; key++) {
    const name = ANNOUNCE_KEYS[key]!;
    if (name.length === length && query.startsWith(name, start)) return key as Key;
  }
  return Key.Other;
}

/** The end of the `key=value` pair starting at `start`: the next `&` or the end of the query. */
function pairEnd(query: string, start: number): number {
  const end = query.indexOf('&', start);
  return end === -1 ? query.length : end;
}

/** Where the pair [start, end) has its `=`; `end` when it has none (a key without a value). */
function equalsAt(query: string, start: number, end: number): number {
  const eq = query.indexOf('=', start);
  return eq === -1 || eq > end ? end : eq;
}

/**
 * One pass over the pairs, each value decoded where it stands when its key is first seen (the first
 * occurrence of a key wins), so that no key, number or closure becomes an object of its own: this runs
 * for every announce.
 */
export function parseAnnounce(query: string): ParsedAnnounce {
  let infoHash: Buffer | undefined;
  let peerId: Buffer | undefined;
  let port: number | undefined;
  let uploaded: number | undefined;
  let downloaded: number | undefined;
  let left: number | undefined;
  let event: string | undefined;
  let numwant: number | undefined;
  let numwantSeen = false;
  let compact: string | undefined;
  let noPeerId: string | undefined;
  let ip: string | undefined;
  let ipv4: string | undefined;
  let ipv6: string | undefined;

  for (let start = 0; start <= query.length;) {
    const end = pairEnd(query, start);
    if (end > start) {
      const eq = equalsAt(query, start, end);
      const from = eq === end ? end : eq + 1;
      switch (keyAt(query, start, eq)) {
        case Key.InfoHash:
          infoHash ??= decodeId(query, from, end, 'info_hash', INFO_HASH_LENGTH);
          break;
        case Key.PeerId:
          peerId ??= decodeId(query, from, end, 'peer_id', PEER_ID_LENGTH);
          break;
        case Key.Port:
          port ??= decodeDecimal(query, from, end, 'port', PORT_DIGITS);
          break;
        case Key.Uploaded:
          uploaded ??= decodeDecimal(query, from, end, 'uploaded', COUNT_DIGITS);
          break;
        case Key.Downloaded:
          downloaded ??= decodeDecimal(query, from, end, 'downloaded', COUNT_DIGITS);
          break;
        case Key.Left:
          left ??= decodeDecimal(query, from, end, 'left', COUNT_DIGITS);
          break;
        case Key.Event:
          event ??= decodeText(query, from, end, 'event');
          break;
        case Key.Numwant:
          if (!numwantSeen) {
            numwantSeen = true;
            // "-1" (and an empty value) is how some clients leave the choice to the tracker.
            const text = decodeText(query, from, end, 'numwant');
            numwant = text === '' || text === '-1' ? undefined : decimal(text, 0, text.length, NUMWANT_DIGITS);
          }
          break;
        case Key.Compact:
          compact ??= decodeText(query, from, end, 'compact');
          break;
        case Key.NoPeerId:
          noPeerId ??= decodeText(query, from, end, 'no_peer_id');
          break;
        case Key.Ip:
          ip ??= decodeText(query, from, end, 'ip');
          break;
        case Key.Ipv4:
          ipv4 ??= decodeText(query, from, end, 'ipv4');
          break;
        case Key.Ipv6:
          ipv6 ??= decodeText(query, from, end, 'ipv6');
          break;
      }
    }
    start = end + 1;
  }

  if (!infoHash) throw new ClientError('missing info_hash');
  if (!peerId) throw new ClientError('missing peer_id');
  if (port === undefined) throw new ClientError('missing port');
  if (uploaded === undefined) throw new ClientError('missing uploaded');
  if (downloaded === undefined) throw new ClientError('missing downloaded');
  if (left === undefined) throw new ClientError('missing left');
  const request: ParsedAnnounce = {
    infoHash,
    peerId,
    port,
    uploaded,
    downloaded,
    left,
    event: eventOfName(event),
    numwant,
    compact: compact !== '0',
    noPeerId: noPeerId === '1',
    // BEP 7 values may be an address or an endpoint ("1.2.3.4:6881", "[::1]:6881"); the port is not used.
    claimedIp: (ip !== undefined && parseEndpointIp(ip)) || undefined,
    claimedIpv4: (ipv4 !== undefined && parseEndpointIp(ipv4)) || undefined,
    claimedIpv6: (ipv6 !== undefined && parseEndpointIp(ipv6)) || undefined,
  };
  checkAnnounce(request);
  return request;
}

/** Calls `visit(key, valueStart, valueEnd)` for every `key=value` pair of the query. */
function forEachPair(query: string, visit: (key: string, start: number, end: number) => void): void {
  for (let start = 0; start <= query.length;) {
    const end = pairEnd(query, start);
    if (end > start) {
      const eq = equalsAt(query, start, end);
      visit(query.slice(start, eq), eq === end ? end : eq + 1, end);
    }
    start = end + 1;
  }
}

/** The info_hash values of a scrape, in order, duplicates dropped; refuses more than `max` before decoding them. */
export function parseScrape(query: string, max: number): Buffer[] {
  const hashes: Buffer[] = [];
  const seen = new Set<string>();
  let count = 0;
  forEachPair(query, (key, start, end) => {
    if (key !== 'info_hash') return;
    if (++count > max) throw new ClientError(`too many info_hash values in one scrape (at most ${max})`);
    const hash = decodeId(query, start, end, 'info_hash', INFO_HASH_LENGTH);
    const id = hash.toString('latin1');
    if (seen.has(id)) return;
    seen.add(id);
    hashes.push(hash);
  });
  return hashes;
}
