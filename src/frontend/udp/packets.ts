/**
 * BEP 15 packets (all integers big-endian) and BEP 41 URL data. Parsing never throws: a packet is
 * either understood or described as a problem for the server to answer or ignore.
 */
import type { AnnounceEvent } from '../../bittorrent/announce.js';

export const PROTOCOL_ID = 0x41727101980n;
export const ACTION_CONNECT = 0;
export const ACTION_ANNOUNCE = 1;
export const ACTION_SCRAPE = 2;
export const ACTION_ERROR = 3;
export const ANNOUNCE_LENGTH = 98;
/** Where an announce's event (u32) is. */
export const EVENT_OFFSET = 80;
export const SCRAPE_HEADER_LENGTH = 16;
export const MIN_PACKET_LENGTH = 16;

const EVENTS: AnnounceEvent[] = ['none', 'completed', 'started', 'stopped'];

export interface UdpAnnounce {
  infoHash: Buffer;
  peerId: Buffer;
  downloaded: number;
  left: number;
  uploaded: number;
  event: AnnounceEvent | null;
  /** 0 = the sender's address. */
  ip: number;
  key: number;
  /** -1 = the tracker's default. */
  numwant: number;
  port: number;
  /** BEP 41 URL data (path and query), "" when none. */
  urlData: string;
}

/**
 * u64 counters as numbers: -1 for what a number cannot hold exactly (negative, or beyond 2^53, which
 * no real transfer reaches), so that the server refuses it as HTTP does instead of accounting garbage.
 */
function readCount(packet: Buffer, offset: number): number {
  // As two u32 halves, without a BigInt: negative (the sign bit) or at least 2^53 is a high half of 2^21 or more.
  const high = packet.readUInt32BE(offset);
  return high >= 0x200000 ? -1 : high * 0x100000000 + packet.readUInt32BE(offset + 4);
}

export function parseAnnounce(packet: Buffer): UdpAnnounce {
  return {
    // Views of the packet, not copies: Node gives every datagram a buffer of its own, never reused.
    infoHash: packet.subarray(16, 36),
    peerId: packet.subarray(36, 56),
    downloaded: readCount(packet, 56),
    left: readCount(packet, 64),
    uploaded: readCount(packet, 72),
    event: EVENTS[packet.readUInt32BE(EVENT_OFFSET)] ?? null,
    ip: packet.readUInt32BE(84),
    key: packet.readUInt32BE(88),
    numwant: packet.readInt32BE(92),
    port: packet.readUInt16BE(96),
    urlData: parseUrlData(packet, ANNOUNCE_LENGTH),
  };
}

/**
 * BEP 41 options after the fixed part: 0 ends, 1 is a one-byte NOP, 2 is URL data (a length byte and
 * that many bytes; consecutive ones concatenate). An unknown option ends parsing, as does truncation.
 */
export function parseUrlData(packet: Buffer, offset: number): string {
  let url = '';
  let i = offset;
  while (i < packet.length) {
    const type = packet[i]!;
    if (type === 0) break;
    if (type === 1) {
      i++;
      continue;
    }
    if (type !== 2 || i + 1 >= packet.length) break;
    const length = packet[i + 1]!;
    const end = Math.min(packet.length, i + 2 + length);
    url += packet.toString('latin1', i + 2, end);
    i = end;
  }
  return url;
}

/** The passkey of a BEP 41 path such as "/PASSKEY/announce", if any. */
export function passkeyOf(urlData: string): string | undefined {
  const match = /^\/([^/?]+)\/announce(?:\?|$)/.exec(urlData);
  return match ? match[1] : undefined;
}

export function writeConnect(transactionId: number, connectionId: Buffer): Buffer {
  const out = Buffer.allocUnsafe(16);
  out.writeUInt32BE(ACTION_CONNECT, 0);
  out.writeUInt32BE(transactionId, 4);
  connectionId.copy(out, 8);
  return out;
}

export function writeAnnounce(transactionId: number, interval: number, leechers: number, seeders: number, peers: Buffer): Buffer {
  const out = Buffer.allocUnsafe(20 + peers.length);
  out.writeUInt32BE(ACTION_ANNOUNCE, 0);
  out.writeUInt32BE(transactionId, 4);
  out.writeUInt32BE(interval, 8);
  out.writeUInt32BE(Math.min(leechers, 0xffffffff), 12);
  out.writeUInt32BE(Math.min(seeders, 0xffffffff), 16);
  peers.copy(out, 20);
  return out;
}

export function writeScrape(transactionId: number, counts: Array<{ complete: number; downloaded: number; incomplete: number }>): Buffer {
  const out = Buffer.allocUnsafe(8 + counts.length * 12);
  out.writeUInt32BE(ACTION_SCRAPE, 0);
  out.writeUInt32BE(transactionId, 4);
  counts.forEach((c, i) => {
    out.writeUInt32BE(Math.min(c.complete, 0xffffffff), 8 + i * 12);
    out.writeUInt32BE(Math.min(c.downloaded, 0xffffffff), 12 + i * 12);
    out.writeUInt32BE(Math.min(c.incomplete, 0xffffffff), 16 + i * 12);
  });
  return out;
}

export function writeError(transactionId: number, message: string): Buffer {
  return Buffer.concat([Buffer.from([0, 0, 0, ACTION_ERROR]), uint32(transactionId), Buffer.from(message, 'utf8')]);
}

function uint32(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(value >>> 0, 0);
  return out;
}
