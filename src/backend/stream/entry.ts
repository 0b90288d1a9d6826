/**
 * An accounting record as the flat field list of one Redis Stream entry, and back. Shared by the
 * redis-stream backend driver (producer) and the reference consumer, so the two cannot drift apart. Numbers are
 * written as decimal integers; binary values as hex.
 */
import type { AnnounceEvent } from '../../bittorrent/announce.js';
import { FREELEECH_RULES, TOKEN_ENDS, type AccountingRecord, type AccountingSession, type FreeleechRule, type TokenEnd } from '../driver.js';

const EVENTS: readonly AnnounceEvent[] = ['none', 'started', 'completed', 'stopped'];

export function toFields(r: AccountingRecord): string[] {
  const fields = [
    'id',
    r.id,
    'user',
    String(r.userId),
    'torrent',
    String(r.torrentId),
    'info_hash',
    r.infoHash.toString('hex'),
    'peer_id',
    r.peerId.toString('hex'),
    'event',
    r.event,
    'raw_up',
    String(r.rawUploaded),
    'raw_down',
    String(r.rawDownloaded),
    'up',
    String(r.uploaded),
    'down',
    String(r.downloaded),
    'left',
    String(r.left),
    'snatched',
    r.snatched ? '1' : '0',
    'time',
    String(r.time),
  ];
  // Only for a WebTorrent peer's record: a consumer that does not know the field ignores it.
  if (r.transport) fields.push('transport', r.transport);
  // The session and the multipliers (a consumer that does not know them credits the deltas above), each
  // one field: fewer arguments for every XADD to encode and every read to decode.
  if (r.session) fields.push('session', sessionText(r.session));
  if (r.upMultiplier !== undefined) fields.push('mul', `${r.upMultiplier}:${r.downMultiplier ?? 1}`);
  if (r.freeleech) fields.push('freeleech', r.freeleech);
  if (r.tokenEnd) fields.push('token_end', r.tokenEnd);
  // Absent while unknown: a consumer keeps the peer's latest known value.
  if (r.connectable !== undefined) fields.push('connectable', r.connectable ? '1' : '0');
  // The peer's fields (active_peers, seed time) go together, when the record has them.
  if (r.port === undefined) return fields;
  fields.push(
    'ip4',
    r.ipv4 ?? '',
    'ip6',
    r.ipv6 ?? '',
    'port',
    String(r.port ?? 0),
    'total_up',
    String(r.reportedUploaded ?? 0),
    'total_down',
    String(r.reportedDownloaded ?? 0),
    'interval',
    String(r.interval ?? 0),
  );
  return fields;
}

/**
 * A session as one field, "epoch#seq#baseUp:baseDown#open#completed" (open and completed 1 or 0): the
 * format the redis driver's script stores and replies it in (lua/includes/totals.lua).
 */
export function sessionText(s: AccountingSession): string {
  return `${s.epoch}#${s.seq}#${s.baseUploaded}:${s.baseDownloaded}#${s.open ? 1 : 0}#${s.completed ? 1 : 0}`;
}

/** An address as the tracker wrote it (node's text form), or "" for none; at most an IPv6 text's length. */
function address(fields: Map<string, string>, name: string): string {
  const text = fields.get(name) ?? '';
  if (text.length > 45 || !/^[0-9a-fA-F.:]*$/.test(text)) throw new Error(`stream entry: field ${name} is not an address`);
  return text;
}

function integer(fields: Map<string, string>, name: string): number {
  const text = fields.get(name);
  const value = text === undefined ? NaN : Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`stream entry: field ${name} is not a non-negative integer (${JSON.stringify(text)})`);
  return value;
}

/** A multiplier as the tracker wrote it: a finite, non-negative decimal, at most MAX_MULTIPLIER. */
function multiplier(text: string, name: string): number {
  const value = text === '' ? NaN : Number(text);
  if (!Number.isFinite(value) || value < 0 || value > MAX_MULTIPLIER)
    throw new Error(`stream entry: field ${name} is not a multiplier (${JSON.stringify(text)})`);
  return value;
}

/** Larger than any site's multiplier, small enough that a credited total stays a safe integer for long. */
const MAX_MULTIPLIER = 1000;

function hex(fields: Map<string, string>, name: string, bytes: number): Buffer {
  const text = fields.get(name) ?? '';
  if (!new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(text)) throw new Error(`stream entry: field ${name} is not ${bytes} bytes of hex`);
  return Buffer.from(text, 'hex');
}

/** A non-negative integer's decimal text (no sign, no exponent, no fraction), within the safe integers. */
function decimal(text: string, what: string): number {
  const value = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) throw new Error(`stream entry: ${what} is not a non-negative integer (${JSON.stringify(text)})`);
  return value;
}

/** The `session` field (sessionText's format); the epoch is the record id that opened it: no '#' in it. */
function session(text: string): AccountingSession {
  const parts = text.split('#');
  if (parts.length !== 5) throw new Error(`stream entry: field session is not epoch#seq#base#open#completed (${JSON.stringify(text)})`);
  const [epoch, seqText, base, open, completed] = parts as [string, string, string, string, string];
  if (epoch === '' || epoch.length > 64) throw new Error('stream entry: empty or overlong epoch');
  const seq = decimal(seqText, 'the session seq');
  if (seq < 1) throw new Error('stream entry: the session seq is below 1');
  const colon = base.indexOf(':');
  if (colon < 0) throw new Error(`stream entry: the session base is not up:down (${JSON.stringify(base)})`);
  if ((open !== '0' && open !== '1') || (completed !== '0' && completed !== '1'))
    throw new Error(`stream entry: the session's open or completed is not 0 or 1 (${JSON.stringify(text)})`);
  const result: AccountingSession = {
    epoch,
    seq,
    baseUploaded: decimal(base.slice(0, colon), 'the session base up'),
    baseDownloaded: decimal(base.slice(colon + 1), 'the session base down'),
    open: open === '1',
  };
  if (completed === '1') result.completed = true;
  return result;
}

/** The `mul` field, "up:down", each a multiplier. */
function multipliers(text: string): { upMultiplier: number; downMultiplier: number } {
  const colon = text.indexOf(':');
  if (colon < 0) throw new Error(`stream entry: field mul is not up:down (${JSON.stringify(text)})`);
  return { upMultiplier: multiplier(text.slice(0, colon), 'mul up'), downMultiplier: multiplier(text.slice(colon + 1), 'mul down') };
}

function freeleechRule(text: string): FreeleechRule {
  if (!(FREELEECH_RULES as readonly string[]).includes(text)) throw new Error(`stream entry: unknown freeleech rule ${JSON.stringify(text)}`);
  return text as FreeleechRule;
}

function connectable(text: string): boolean {
  if (text !== '0' && text !== '1') throw new Error(`stream entry: field connectable is not 0 or 1 (${JSON.stringify(text)})`);
  return text === '1';
}

function tokenEnd(text: string): TokenEnd {
  if (!(TOKEN_ENDS as readonly string[]).includes(text)) throw new Error(`stream entry: unknown token end ${JSON.stringify(text)}`);
  return text as TokenEnd;
}

/** Throws on a malformed entry: the consumer sets such entries aside instead of guessing. */
export function fromFields(list: string[]): AccountingRecord {
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < list.length; i += 2) fields.set(list[i]!, list[i + 1]!);
  const id = fields.get('id');
  if (!id || id.length > 64) throw new Error('stream entry: missing or overlong id');
  const event = fields.get('event') as AnnounceEvent;
  if (!EVENTS.includes(event)) throw new Error(`stream entry: unknown event ${JSON.stringify(event)}`);
  return {
    id,
    userId: integer(fields, 'user'),
    torrentId: integer(fields, 'torrent'),
    infoHash: hex(fields, 'info_hash', 20),
    peerId: hex(fields, 'peer_id', 20),
    event,
    rawUploaded: integer(fields, 'raw_up'),
    rawDownloaded: integer(fields, 'raw_down'),
    uploaded: integer(fields, 'up'),
    downloaded: integer(fields, 'down'),
    left: integer(fields, 'left'),
    snatched: fields.get('snatched') === '1',
    time: integer(fields, 'time'),
    ...(fields.get('transport') === 'webtorrent' ? { transport: 'webtorrent' as const } : {}),
    // Records of older versions have no session and no multipliers.
    ...(fields.has('session') ? { session: session(fields.get('session')!) } : {}),
    ...(fields.has('freeleech') ? { freeleech: freeleechRule(fields.get('freeleech')!) } : {}),
    ...(fields.has('token_end') ? { tokenEnd: tokenEnd(fields.get('token_end')!) } : {}),
    ...(fields.has('connectable') ? { connectable: connectable(fields.get('connectable')!) } : {}),
    ...(fields.has('mul') ? multipliers(fields.get('mul')!) : {}),
    // Records of older versions have none of the peer's fields.
    ...(fields.has('port')
      ? {
          ipv4: address(fields, 'ip4'),
          ipv6: address(fields, 'ip6'),
          port: integer(fields, 'port'),
          reportedUploaded: integer(fields, 'total_up'),
          reportedDownloaded: integer(fields, 'total_down'),
          interval: integer(fields, 'interval'),
        }
      : {}),
  };
}
