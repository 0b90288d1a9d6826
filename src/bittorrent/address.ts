/**
 * IP addresses as raw bytes (4 for IPv4, 16 for IPv6) and the compact peer encodings of BEP 23 and BEP 7:
 * 6 bytes (IPv4 + port) and 18 bytes (IPv6 + port). IPv4-mapped IPv6 addresses are IPv4 everywhere.
 */
import { isIPv6 } from 'node:net';

export type Family = 4 | 6;
export const COMPACT_V4_LENGTH = 6;
export const COMPACT_V6_LENGTH = 18;

/** Parses a textual IP address into 4 or 16 bytes; IPv4-mapped IPv6 becomes 4 bytes. Null when invalid. */
export function parseIp(text: string): Buffer | null {
  const v4 = parseDottedQuad(text);
  if (v4) return v4;
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  if (!isIPv6(text)) return null;
  const bytes = parseIPv6(text);
  return isV4Mapped(bytes) ? bytes.subarray(12) : bytes;
}

/**
 * An IPv4 address in the form node:net's isIPv4 accepts (four decimal octets of at most 255, no leading
 * zeros), checked and read in one pass: every request's source address goes through here.
 */
function parseDottedQuad(text: string): Buffer | null {
  if (text.length < 7 || text.length > 15) return null;
  let address = 0;
  let octets = 0;
  let octet = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46; /* . */
    if (c === 46) {
      if (digits === 0 || octet > 255 || ++octets > 4) return null;
      address = address * 256 + octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && octet === 0) return null; // a leading zero
      octet = octet * 10 + (c - 48);
      digits++;
    } else {
      return null;
    }
  }
  if (octets !== 4) return null;
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(address, 0);
  return out;
}

function parseIPv4(text: string): Buffer {
  const out = Buffer.allocUnsafe(4);
  let octet = 0;
  let index = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      out[index++] = octet;
      octet = 0;
    } else {
      octet = octet * 10 + (c - 48);
    }
  }
  out[index] = octet;
  return out;
}

/** Expects text that node:net already accepted as IPv6. */
function parseIPv6(text: string): Buffer {
  const out = Buffer.alloc(16);
  const gap = text.indexOf('::');
  const head = gap === -1 ? text : text.slice(0, gap);
  const tail = gap === -1 ? '' : text.slice(gap + 2);
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const writeGroups = (groups: string[], start: number): number => {
    let offset = start;
    for (const group of groups) {
      if (group.includes('.')) {
        parseIPv4(group).copy(out, offset);
        offset += 4;
      } else {
        out.writeUInt16BE(parseInt(group, 16), offset);
        offset += 2;
      }
    }
    return offset;
  };
  writeGroups(headGroups, 0);
  const tailBytes = tailGroups.reduce((n, g) => n + (g.includes('.') ? 4 : 2), 0);
  writeGroups(tailGroups, 16 - tailBytes);
  return out;
}

function isV4Mapped(bytes: Buffer): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** An address written as an address or an endpoint: "1.2.3.4", "1.2.3.4:6881", "[2001:db8::1]", "[2001:db8::1]:6881". */
export function parseEndpointIp(text: string): Buffer | null {
  const direct = parseIp(text);
  if (direct) return direct;
  const endpoint = /^\[([^\]]+)\](?::\d+)?$/.exec(text) ?? /^([\d.]+):\d+$/.exec(text);
  return endpoint ? parseIp(endpoint[1]!) : null;
}

/**
 * Formats 4 or 16 address bytes as text (IPv6 in the RFC 5952 short form). One string built in place:
 * it runs for every peer of a non-compact answer and every proxy hop checked.
 */
export function formatIp(ip: Uint8Array): string {
  if (ip.length === 4) return `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]}`;
  // The longest run of zero groups (two or more; the first of equal runs) collapses to "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (ip[2 * i] !== 0 || ip[2 * i + 1] !== 0) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < 8 && ip[2 * j] === 0 && ip[2 * j + 1] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const afterGap = bestStart + bestLength;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::';
      i = afterGap - 1;
      continue;
    }
    if (i > 0 && i !== afterGap) out += ':';
    out += ((ip[2 * i]! << 8) | ip[2 * i + 1]!).toString(16);
  }
  return out;
}

/** The compact peer entry: address bytes followed by the port, big-endian. */
export function compactPeer(ip: Buffer, port: number): Buffer {
  const out = Buffer.allocUnsafe(ip.length + 2);
  ip.copy(out, 0);
  out.writeUInt16BE(port, ip.length);
  return out;
}

/** Splits a packed list of compact peers (6 or 18 bytes each) into { ip, port } pairs. */
export function decodeCompactPeers(packed: Uint8Array, family: Family): Array<{ ip: string; port: number }> {
  const size = family === 4 ? COMPACT_V4_LENGTH : COMPACT_V6_LENGTH;
  const peers: Array<{ ip: string; port: number }> = [];
  for (let offset = 0; offset + size <= packed.length; offset += size) {
    const ip = packed.subarray(offset, offset + size - 2);
    const port = (packed[offset + size - 2]! << 8) | packed[offset + size - 1]!;
    peers.push({ ip: formatIp(ip), port });
  }
  return peers;
}

/** True when the first `bits` bits of two addresses of the same family agree. */
export function samePrefix(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number, bits: number): boolean {
  let i = 0;
  for (; bits >= 8; bits -= 8, i++) if (a[aOffset + i] !== b[bOffset + i]) return false;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (a[aOffset + i]! & mask) === (b[bOffset + i]! & mask);
}
