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
  // The session and the multipliers (a consumer that does not know them credits the deltas above).
  if (r.session) {
    const s = r.session;
    fields.push('epoch', s.epoch, 'seq', String(s.seq), 'base_up', String(s.baseUploaded), 'base_down', String(s.baseDownloaded), 'open', s.open ? '1' : '0');
    if (s.completed) fields.push('completed', '1');
  }
  if (r.upMultiplier !== undefined) fields.push('mul_up', String(r.upMultiplier), 'mul_down', String(r.downMultiplier ?? 1));
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
function multiplier(fields: Map<string, string>, name: string): number {
  const text = fields.get(name);
  const value = text === undefined || text === '' ? NaN : Number(text);
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

function session(fields: Map<string, string>): AccountingSession {
  const epoch = fields.get('epoch') ?? '';
  if (epoch === '' || epoch.length > 64) throw new Error('stream entry: empty or overlong epoch');
  const seq = integer(fields, 'seq');
  if (seq < 1) throw new Error('stream entry: field seq is below 1');
  const open = fields.get('open');
  if (open !== '0' && open !== '1') throw new Error(`stream entry: field open is not 0 or 1 (${JSON.stringify(open)})`);
  const session: AccountingSession = { epoch, seq, baseUploaded: integer(fields, 'base_up'), baseDownloaded: integer(fields, 'base_down'), open: open === '1' };
  if (fields.get('completed') === '1') session.completed = true;
  return session;
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
    ...(fields.get('transport') === 'webrtc' ? { transport: 'webrtc' as const } : {}),
    // Records of older versions have no session and no multipliers.
    ...(fields.has('epoch') ? { session: session(fields) } : {}),
    ...(fields.has('freeleech') ? { freeleech: freeleechRule(fields.get('freeleech')!) } : {}),
    ...(fields.has('token_end') ? { tokenEnd: tokenEnd(fields.get('token_end')!) } : {}),
    ...(fields.has('connectable') ? { connectable: connectable(fields.get('connectable')!) } : {}),
    ...(fields.has('mul_up') ? { upMultiplier: multiplier(fields, 'mul_up'), downMultiplier: multiplier(fields, 'mul_down') } : {}),
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
