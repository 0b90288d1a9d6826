/**
 * The text of a blocklist file, line by line, into a RangeSetBuilder. One line is one of:
 *
 * - a CIDR, IPv4 or IPv6: `192.0.2.0/24`, `2001:db8::/32` (host bits set are ignored);
 * - a single address: `192.0.2.7`, `2001:db8::7`;
 * - a range of two addresses of one family: `192.0.2.0-192.0.2.255` (spaces around `-` allowed);
 * - the PeerGuardian text format (P2P), `name:first-last`: an IPv4 range after the last colon, the name
 *   (which may hold colons) ignored;
 * - the eMule/PeerGuardian DAT format, `first - last , level , name`, addresses often zero-padded
 *   (`001.002.003.004`); as in eMule with its default filter level of 127, a line of level 127 or more
 *   does not block;
 * - a comment (`#` or `//` first) or blank. A `#` also ends the text of a line (after a P2P line's range, too).
 *
 * Anything else is garbage: counted, the first one kept for the warning, skipped. Lines are read in
 * place in the file's bytes (no string per line, not even one for the file), so a list of a million lines
 * costs its file and its ranges.
 */
import type { RangeSetBuilder } from './ranges.js';

/** Longer lines are garbage: no valid line of any format comes near it. */
export const MAX_LINE_LENGTH = 1000;

export interface ParseStats {
  lines: number;
  /** Ranges added (before merging). */
  ranges: number;
  garbage: number;
  /** The first garbage line: its number (from 1) and its start (at most 80 characters). */
  firstGarbage: { line: number; text: string } | null;
}

/**
 * Parses a file's bytes as they are read, chunk by chunk: memory is a chunk and one partial line, never
 * the whole file, and the event loop runs between chunks.
 */
export class ListParser {
  readonly stats: ParseStats = { lines: 0, ranges: 0, garbage: 0, firstGarbage: null };
  /** First and last address of an IPv6 range, four words each. */
  private readonly words = new Uint32Array(8);
  /** The chunk being parsed (with the partial line before it). */
  private text: Buffer = Buffer.alloc(0);
  /** The end of the last chunk: a line not finished yet. */
  private rest: Buffer = Buffer.alloc(0);
  /** Inside a line already counted as too long: its bytes up to the next newline are dropped. */
  private skipping = false;

  constructor(private readonly into: RangeSetBuilder) {}

  /** The next bytes of the file. Throws when the builder is full. */
  feed(chunk: Buffer): void {
    let position = 0;
    if (this.skipping) {
      const newline = chunk.indexOf(10 /* \n */, position);
      if (newline === -1) return;
      this.skipping = false;
      position = newline + 1;
    }
    const text = this.rest.length > 0 ? Buffer.concat([this.rest, chunk.subarray(position)]) : chunk.subarray(position);
    this.text = text;
    let start = 0;
    for (let end = text.indexOf(10, start); end !== -1; end = text.indexOf(10, start)) {
      this.oneLine(start, end);
      start = end + 1;
    }
    if (text.length - start > MAX_LINE_LENGTH) {
      this.oneLine(start, text.length); // counted as garbage now; its remainder is skipped
      this.skipping = true;
      this.rest = Buffer.alloc(0);
    } else {
      // A copy: the chunk itself is not kept alive by its last few bytes.
      this.rest = Buffer.from(text.subarray(start));
    }
    this.text = Buffer.alloc(0);
  }

  /** The end of the file: its last line, if it has no newline. */
  end(): void {
    if (this.rest.length === 0) return;
    this.text = this.rest;
    this.oneLine(0, this.rest.length);
    this.rest = this.text = Buffer.alloc(0);
  }

  private oneLine(start: number, end: number): void {
    // A UTF-8 byte order mark before the first line.
    if (this.stats.lines === 0 && this.text[start] === 0xef && this.text[start + 1] === 0xbb && this.text[start + 2] === 0xbf) start += 3;
    this.stats.lines++;
    if (!this.line(start, end)) {
      this.stats.garbage++;
      this.stats.firstGarbage ??= { line: this.stats.lines, text: this.text.toString('utf8', start, Math.min(end, start + 80)) };
    }
  }

  /** One line; false when it is garbage. */
  private line(start: number, end: number): boolean {
    const s = this.text;
    if (end - start > MAX_LINE_LENGTH) return false;
    [start, end] = trim(s, start, end);
    if (start === end) return true;
    const first = s[start]!;
    if (first === HASH || (first === SLASH && s[start + 1]! === SLASH)) return true;
    // P2P first: its names may hold commas (and colons, hence the last one).
    const colon = findLast(s, COLON, start, end);
    if (colon !== -1 && this.p2p(colon + 1, end)) return true;
    const hash = find(s, HASH, start, end);
    if (hash !== -1) [start, end] = trim(s, start, hash);
    const comma = find(s, COMMA, start, end);
    if (comma !== -1) return this.dat(start, comma, end);
    const slash = find(s, SLASH, start, end);
    if (slash !== -1) return this.cidr(start, slash, end);
    const dash = find(s, DASH, start, end);
    if (dash !== -1) return this.range(start, dash, end);
    return this.range(start, end, end, true);
  }

  /** `first - last , level , name`. */
  private dat(start: number, comma: number, end: number): boolean {
    const s = this.text;
    const dash = find(s, DASH, start, comma);
    if (dash === -1) return false;
    let levelEnd = find(s, COMMA, comma + 1, end);
    if (levelEnd === -1) levelEnd = end;
    const [a, b] = trim(s, comma + 1, levelEnd);
    const text = s.toString('latin1', a, b);
    const level = b > a && b - a <= 3 && /^\d+$/.test(text) ? Number(text) : NaN;
    if (Number.isNaN(level)) return false;
    if (level >= 127) return true;
    return this.range(start, dash, comma);
  }

  /** The part after a P2P line's last colon, when it is an IPv4 range; false (not this format) otherwise. */
  private p2p(start: number, end: number): boolean {
    const s = this.text;
    const dash = find(s, DASH, start, end);
    if (dash === -1) return false;
    const hash = find(s, HASH, start, end);
    if (hash !== -1) [, end] = trim(s, start, hash);
    const first = parse4(s, ...trim(s, start, dash));
    const last = parse4(s, ...trim(s, dash + 1, end));
    if (first < 0 || last < 0 || first > last) return false;
    this.add4(first, last);
    return true;
  }

  private cidr(start: number, slash: number, end: number): boolean {
    const s = this.text;
    const [a, b] = trim(s, slash + 1, end);
    if (b === a || b - a > 3) return false;
    let prefix = 0;
    for (let i = a; i < b; i++) {
      const c = s[i]! - 48;
      if (c < 0 || c > 9) return false;
      prefix = prefix * 10 + c;
    }
    [start, slash] = trim(s, start, slash);
    const v4 = parse4(s, start, slash);
    if (v4 >= 0) {
      if (prefix > 32) return false;
      const hostBits = prefix === 0 ? 0xffffffff : (2 ** (32 - prefix) - 1) >>> 0;
      const first = (v4 & ~hostBits) >>> 0;
      this.add4(first, (first | hostBits) >>> 0);
      return true;
    }
    const w = this.words;
    if (prefix > 128 || !parse6(s, start, slash, w, 0)) return false;
    for (let i = 0; i < 4; i++) {
      // The bits of word i that are host bits.
      const bits = Math.min(32, Math.max(0, (i + 1) * 32 - prefix));
      const hostBits = bits === 32 ? 0xffffffff : (2 ** bits - 1) >>> 0;
      w[i] = (w[i]! & ~hostBits) >>> 0;
      w[4 + i] = (w[i]! | hostBits) >>> 0;
    }
    this.add6();
    return true;
  }

  /** `first-last` (the dash at `dash`), or with `single` one address from start to end. */
  private range(start: number, dash: number, end: number, single = false): boolean {
    const s = this.text;
    const [a, b] = trim(s, start, dash);
    const [c, d] = single ? [a, b] : trim(s, dash + 1, end);
    const first4 = parse4(s, a, b);
    if (first4 >= 0) {
      const last4 = parse4(s, c, d);
      if (last4 < 0 || first4 > last4) return false;
      this.add4(first4, last4);
      return true;
    }
    const w = this.words;
    if (!parse6(s, a, b, w, 0) || !parse6(s, c, d, w, 4)) return false;
    if ((w[0]! - w[4]! || w[1]! - w[5]! || w[2]! - w[6]! || w[3]! - w[7]!) > 0) return false;
    this.add6();
    return true;
  }

  private add4(first: number, last: number): void {
    this.into.add4(first, last);
    this.stats.ranges++;
  }

  /** The IPv6 range in `words`; one inside ::ffff:0:0/96 is the IPv4 range it maps (lookups map the same way). */
  private add6(): void {
    const w = this.words;
    if (mapped(w, 0) && mapped(w, 4)) this.into.add4(w[3]!, w[7]!);
    else this.into.add6(w, 0, w, 4);
    this.stats.ranges++;
  }
}

const HASH = 35;
const SLASH = 47;
const COLON = 58;
const COMMA = 44;
const DASH = 45;

/** The first `c` in s[start, end), or -1; never past the line (indexOf would search on through the whole file). */
function find(s: Buffer, c: number, start: number, end: number): number {
  for (let i = start; i < end; i++) if (s[i]! === c) return i;
  return -1;
}

function findLast(s: Buffer, c: number, start: number, end: number): number {
  for (let i = end - 1; i >= start; i--) if (s[i]! === c) return i;
  return -1;
}

function mapped(w: Uint32Array, at: number): boolean {
  return w[at] === 0 && w[at + 1] === 0 && w[at + 2] === 0xffff;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 13;
}

function trim(s: Buffer, start: number, end: number): [number, number] {
  while (start < end && isSpace(s[start]!)) start++;
  while (end > start && isSpace(s[end - 1]!)) end--;
  return [start, end];
}

/** A dotted quad (decimal octets, zero padding allowed as DAT files write it) as an unsigned number; -1 if not one. */
export function parse4(s: Buffer, start: number, end: number): number {
  let address = 0;
  let octets = 0;
  let octet = 0;
  let digits = 0;
  for (let i = start; i <= end; i++) {
    const c = i < end ? s[i]! : 46;
    if (c === 46) {
      if (digits === 0 || octet > 255 || ++octets > 4) return -1;
      address = address * 256 + octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      octet = octet * 10 + (c - 48);
      digits++;
    } else {
      return -1;
    }
  }
  return octets === 4 ? address : -1;
}

const groups = new Uint16Array(8);

/** An IPv6 address (RFC 4291 text: `::` once, an IPv4 tail allowed) into four words at `out[at]`; false if not one. */
export function parse6(s: Buffer, start: number, end: number, out: Uint32Array, at: number): boolean {
  if (end - start < 2 || end - start > 45) return false;
  let n = 0;
  let gap = -1;
  let i = start;
  if (s[i]! === 58 /* : */) {
    if (s[i + 1]! !== 58) return false;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    if (n === 8) return false;
    let value = 0;
    let j = i;
    for (; j < end && j - i < 5; j++) {
      const digit = hexDigit(s[j]!);
      if (digit < 0) break;
      value = value * 16 + digit;
    }
    if (j < end && s[j]! === 46 /* . */) {
      // The IPv4 tail: the last two groups.
      const v4 = n <= 6 ? parse4(s, i, end) : -1;
      if (v4 < 0) return false;
      groups[n++] = v4 >>> 16;
      groups[n++] = v4 & 0xffff;
      break;
    }
    if (j === i || j - i > 4) return false;
    groups[n++] = value;
    i = j;
    if (i === end) break;
    if (s[i]! !== 58) return false;
    i++;
    if (i < end && s[i]! === 58) {
      if (gap !== -1) return false;
      gap = n;
      i++;
    } else if (i === end) {
      return false;
    }
  }
  if (gap === -1 ? n !== 8 : n > 7) return false;
  const fill = 8 - n;
  for (let g = 0, k = 0; g < 8; g++) {
    const group = gap !== -1 && g >= gap && g < gap + fill ? 0 : groups[k++]!;
    if (g % 2 === 0) out[at + g / 2] = group * 65536;
    else out[at + (g - 1) / 2] = out[at + (g - 1) / 2]! + group;
  }
  return true;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
