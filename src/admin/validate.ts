/**
 * Input checks of the management API: bodies through their zod schemas (schemas.ts), path parameters
 * here. A failure is a 400 whose message starts with the field's name, so the caller knows which value
 * to fix. The catalogue validates nothing (see catalogue.ts): this is the only gate between an
 * operator's request and what announces are checked against.
 */
import type { z } from 'zod';
import { percentDecode } from '../bittorrent/percent.js';
import { firstIssue, schemaKeys } from '../common/schema.js';
import { MAX_CLIENT_PREFIX } from '../store/catalogue.js';
import type { JsonObject } from './body.js';
import { badRequest } from './errors.js';
import { HEX_INFO_HASH, PATH_ID } from './schemas.js';

/** RFC 3986 unreserved characters: the ones a path segment carries without percent-encoding. */
const UNRESERVED = /^[A-Za-z0-9._~-]$/;

/** An id in a path: decimal digits only, so that "1e3", "0x10" or "7.0" are refused rather than read. */
export function pathId(field: string, raw: string, max: number): number {
  const value = PATH_ID.test(raw) ? Number(raw) : NaN;
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
  const bytes = segmentBytes(raw);
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

/** Printable ASCII only: a raw space, control or non-ASCII character in a path segment is refused. */
const PRINTABLE_SEGMENT = /^[\x21-\x7e]+$/;

/** Bytes of a percent-encoded path segment; null when empty, malformed, or holding raw non-ASCII. */
function segmentBytes(segment: string): Buffer | null {
  if (!PRINTABLE_SEGMENT.test(segment)) return null;
  const bytes = percentDecode(segment, 0, segment.length);
  return bytes && bytes.length > 0 ? bytes : null;
}

/**
 * A JSON body through its schema (schemas.ts): the parsed body, defaults filled in, or a 400 naming the
 * field. A field the resource does not have is refused first: a misspelt optional field
 * ("upMultiplier") would otherwise silently take its default.
 */
export function parseBody<S extends z.ZodType>(schema: S, body: JsonObject): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const { issue, path, unknownKey } = firstIssue(result.error);
  if (unknownKey !== undefined) badRequest(`${path}: unknown field (known: ${schemaKeys(schema).join(', ')})`);
  badRequest(`${path}: ${issue.message}`);
}

/** A field that repeats the URL (a GET answer sent back as is) must agree with it. */
export function echo(name: string, value: unknown, agrees: (value: unknown) => boolean): void {
  if (value !== undefined && !agrees(value)) badRequest(`${name}: does not match the URL`);
}
