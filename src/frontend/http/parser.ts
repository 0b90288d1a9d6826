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

/** Decimal forms the query may use; anything else reads as NaN, which the shared checks refuse. */
const PORT_TEXT = /^\d{1,5}$/;
const COUNT_TEXT = /^\d{1,16}$/;
const NUMWANT_TEXT = /^\d{1,9}$/;

function decimal(text: string, form: RegExp): number {
  return form.test(text) ? Number(text) : NaN;
}

function decodeText(query: string, start: number, end: number, name: string): string {
  if (query.indexOf('%', start) === -1 || query.indexOf('%', start) >= end) return query.slice(start, end);
  const bytes = percentDecode(query, start, end);
  if (!bytes) throw new ClientError(`malformed percent-encoding in ${name}`);
  return bytes.toString('latin1');
}

function decodeId(query: string, start: number, end: number, name: 'info_hash' | 'peer_id', length: number): Buffer {
  const bytes = percentDecode(query, start, end);
  if (!bytes) throw new ClientError(`malformed percent-encoding in ${name}`);
  checkLength(name, bytes, length);
  return bytes;
}

/** Calls `visit(key, valueStart, valueEnd)` for every `key=value` pair of the query. */
function forEachPair(query: string, visit: (key: string, start: number, end: number) => void): void {
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end === -1) end = query.length;
    if (end > start) {
      const eq = query.indexOf('=', start);
      if (eq === -1 || eq > end) visit(query.slice(start, end), end, end);
      else visit(query.slice(start, eq), eq + 1, end);
    }
    start = end + 1;
  }
}

export function parseAnnounce(query: string): ParsedAnnounce {
  let infoHash: Buffer | undefined;
  let peerId: Buffer | undefined;
  let port: string | undefined;
  let uploaded: string | undefined;
  let downloaded: string | undefined;
  let left: string | undefined;
  let event: string | undefined;
  let numwant: string | undefined;
  let compact: string | undefined;
  let noPeerId: string | undefined;
  let ip: string | undefined;
  let ipv4: string | undefined;
  let ipv6: string | undefined;

  forEachPair(query, (key, start, end) => {
    // The first occurrence of a key wins.
    switch (key) {
      case 'info_hash':
        infoHash ??= decodeId(query, start, end, 'info_hash', INFO_HASH_LENGTH);
        break;
      case 'peer_id':
        peerId ??= decodeId(query, start, end, 'peer_id', PEER_ID_LENGTH);
        break;
      case 'port':
        port ??= decodeText(query, start, end, key);
        break;
      case 'uploaded':
        uploaded ??= decodeText(query, start, end, key);
        break;
      case 'downloaded':
        downloaded ??= decodeText(query, start, end, key);
        break;
      case 'left':
        left ??= decodeText(query, start, end, key);
        break;
      case 'event':
        event ??= decodeText(query, start, end, key);
        break;
      case 'numwant':
        numwant ??= decodeText(query, start, end, key);
        break;
      case 'compact':
        compact ??= decodeText(query, start, end, key);
        break;
      case 'no_peer_id':
        noPeerId ??= decodeText(query, start, end, key);
        break;
      case 'ip':
        ip ??= decodeText(query, start, end, key);
        break;
      case 'ipv4':
        ipv4 ??= decodeText(query, start, end, key);
        break;
      case 'ipv6':
        ipv6 ??= decodeText(query, start, end, key);
        break;
    }
  });

  if (!infoHash) throw new ClientError('missing info_hash');
  if (!peerId) throw new ClientError('missing peer_id');
  if (port === undefined) throw new ClientError('missing port');
  if (uploaded === undefined) throw new ClientError('missing uploaded');
  if (downloaded === undefined) throw new ClientError('missing downloaded');
  if (left === undefined) throw new ClientError('missing left');
  const request: ParsedAnnounce = {
    infoHash,
    peerId,
    port: decimal(port, PORT_TEXT),
    uploaded: decimal(uploaded, COUNT_TEXT),
    downloaded: decimal(downloaded, COUNT_TEXT),
    left: decimal(left, COUNT_TEXT),
    event: eventOfName(event),
    // "-1" (and an empty value) is how some clients leave the choice to the tracker.
    numwant: numwant === undefined || numwant === '' || numwant === '-1' ? undefined : decimal(numwant, NUMWANT_TEXT),
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
