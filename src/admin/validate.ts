/**
 * Input checks of the management API. A failure is a 400 whose message starts with the field's name,
 * so the caller knows which value to fix. The catalogue validates nothing (see catalogue.ts): this is
 * the only gate between an operator's request and what announces are checked against.
 */
import { MAX_CLIENT_PREFIX } from '../tracker/catalogue.js';
import type { JsonObject } from './body.js';
import { badRequest } from './errors.js';

export const MAX_USER_ID = 2 ** 32 - 1;
export const MAX_TORRENT_ID = Number.MAX_SAFE_INTEGER;
export const MAX_MULTIPLIER = 100;
export const MAX_CLIENT_NAME = 100;
/** Gazelle hands out 32 alphanumerics; the tracker refuses anything longer than 128 unread. */
const PASSKEY = /^[A-Za-z0-9_-]{1,128}$/;
const HEX_INFO_HASH = /^[0-9a-fA-F]{40}$/;
/** RFC 3986 unreserved characters: the ones a path segment carries without percent-encoding. */
const UNRESERVED = /^[A-Za-z0-9._~-]$/;

/** An id in a path: decimal digits only, so that "1e3", "0x10" or "7.0" are refused rather than read. */
export function pathId(field: string, raw: string, max: number): number {
  const value = /^[0-9]{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= 1 && value <= max)) badRequest(`${field}: must be an integer from 1 to ${max}`);
  return value;
}

export function pathInfoHash(raw: string): Buffer {
  if (!HEX_INFO_HASH.test(raw)) badRequest('info_hash: must be 40 hexadecimal characters');
  return Buffer.from(raw, 'hex');
}

/**
 * A client prefix from its raw path segment, still percent-encoded: peer_id prefixes are bytes, and
 * some clients put non-text bytes right after their tag. The result holds one character per byte
 * (latin1), which is how the catalogue compares prefixes with peer_ids.
 */
export function pathClientPrefix(raw: string): string {
  const bytes = percentDecode(raw);
  if (!bytes || bytes.length > MAX_CLIENT_PREFIX) badRequest(`prefix: must be 1 to ${MAX_CLIENT_PREFIX} bytes, percent-encoded where needed`);
  return bytes.toString('latin1');
}

/** How a prefix is shown: as it goes in the URL, so a listed prefix can be pasted into DELETE /clients/. */
export function encodeClientPrefix(prefix: string): string {
  let out = '';
  for (const byte of Buffer.from(prefix, 'latin1')) {
    const char = String.fromCharCode(byte);
    out += UNRESERVED.test(char) ? char : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Bytes of a percent-encoded path segment; null when empty, malformed, or holding raw non-ASCII. */
function percentDecode(segment: string): Buffer | null {
  const bytes: number[] = [];
  for (let i = 0; i < segment.length; i++) {
    const code = segment.charCodeAt(i);
    if (code === 0x25) {
      const hex = segment.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (code > 0x20 && code < 0x7f) {
      bytes.push(code);
    } else {
      return null;
    }
  }
  return bytes.length > 0 ? Buffer.from(bytes) : null;
}

/** A JSON body's fields, read one by one; fields the resource does not have are refused up front. */
export class Fields {
  constructor(
    private readonly body: JsonObject,
    known: readonly string[],
  ) {
    // A misspelt optional field ("upMultiplier") would otherwise silently take its default.
    for (const name of Object.keys(body)) {
      if (!known.includes(name)) badRequest(`${name}: unknown field (known: ${known.join(', ')})`);
    }
  }

  /** A field that repeats the URL (a GET answer sent back as is) must agree with it. */
  echo(name: string, agrees: (value: unknown) => boolean): void {
    if (this.body[name] !== undefined && !agrees(this.body[name])) badRequest(`${name}: does not match the URL`);
  }

  integer(name: string, min: number, max: number): number {
    const value = this.get(name);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      badRequest(`${name}: must be an integer from ${min} to ${max}`);
    }
    return value;
  }

  number(name: string, min: number, max: number, fallback: number): number {
    const value = this.get(name, fallback);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      badRequest(`${name}: must be a number from ${min} to ${max}`);
    }
    return value;
  }

  boolean(name: string, fallback?: boolean): boolean {
    const value = this.get(name, fallback);
    if (typeof value !== 'boolean') badRequest(`${name}: must be true or false`);
    return value;
  }

  passkey(name: string): string {
    const value = this.get(name);
    if (typeof value !== 'string' || !PASSKEY.test(value)) badRequest(`${name}: must be 1 to 128 characters of A-Z, a-z, 0-9, _ and -`);
    return value;
  }

  text(name: string, maxLength: number): string {
    const value = this.get(name);
    if (typeof value !== 'string' || value.trim() === '' || value.length > maxLength) {
      badRequest(`${name}: must be a non-empty string of at most ${maxLength} characters`);
    }
    return value;
  }

  /** The field's value; an absent field takes `fallback`, or is an error when there is none. */
  private get(name: string, fallback?: unknown): unknown {
    const value = Object.hasOwn(this.body, name) ? this.body[name] : fallback;
    if (value === undefined) badRequest(`${name}: required`);
    return value;
  }
}
