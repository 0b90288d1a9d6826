/**
 * The contract between the store (TypeScript) and the scripts in lua/: the announce's packed header,
 * its flags and event codes, the ARGV and reply positions, and the numbers both sides must agree on.
 * Both take them from here: the store packs and reads with them, and scripts.ts writes their values
 * into each script where the script names them (FLAG_SEEDER, REPLY_SNATCHED, ...), so the two cannot
 * drift. Key positions come from keys.ts.
 */

/** Bits of the header's flags byte (Lua: FLAG_SEEDER, FLAG_WANT4, ...). */
import { SUBNET_OVERSAMPLING } from '../driver.js';
export const ANNOUNCE_FLAGS = {
  /** left = 0, or event completed */
  seeder: 1,
  /** return IPv4 peers */
  want4: 2,
  /** return IPv6 peers */
  want6: 4,
  /** only registered torrents */
  requireRegistered: 8,
  /** only allow-listed torrents */
  requireAllowed: 16,
  /** same-subnet-first through the lexicographic indexes (subnet_index) */
  exactSubnets: 32,
  /** private mode: the announcing user's own other peers may be returned (private.own_peers) */
  ownPeers: 64,
  /** admission control, degraded mode (Redis out of memory): store no peer the swarm does not hold yet */
  existingOnly: 128,
} as const;

/** The header's event byte (Lua: EVENT_NONE, EVENT_COMPLETED, ...). */
export const ANNOUNCE_EVENTS = { none: 0, completed: 1, started: 2, stopped: 3 } as const;

/**
 * ARGV[1] of announce, one binary string: its fields in order, with their struct codes (B: uint8,
 * H: uint16, I: uint32, all big-endian). The script unpacks them into Lua locals of these very names
 * (a generated line), so the order cannot drift.
 */
export const ANNOUNCE_HEADER = [
  ['flags', 'B'],
  ['event', 'B'],
  /** peers wanted */
  ['numwant', 'H'],
  /** prefix lengths for same-subnet-first ordering, 0: none */
  ['subnet4Bits', 'B'],
  ['subnet6Bits', 'B'],
  /** seconds a peer lives after its last announce */
  ['peerTtl', 'I'],
  /** torrent_ttl: seconds the snatch hash outlives the last announce (at least), 0: for ever */
  ['snatchTtl', 'I'],
  /** seed of math.random */
  ['seed', 'I'],
  /** min interval: seconds within which an announce without an event is too soon, 0: no check */
  ['minInterval', 'I'],
  /** admission control: most peers of one family's swarm, 0: no limit */
  ['maxSwarmPeers', 'I'],
] as const;
export type AnnounceHeaderField = (typeof ANNOUNCE_HEADER)[number][0];

const STRUCT_SIZE = { B: 1, H: 2, I: 4 } as const;
/** The struct format of ANNOUNCE_HEADER, as struct.unpack takes it: ">BBHBBIII". */
export const ANNOUNCE_HEADER_FORMAT = '>' + ANNOUNCE_HEADER.map(([, code]) => code).join('');
export const ANNOUNCE_HEADER_SIZE = ANNOUNCE_HEADER.reduce((size, [, code]) => size + STRUCT_SIZE[code], 0);
const HEADER_FIELDS = (() => {
  let offset = 0;
  return ANNOUNCE_HEADER.map(([, code]) => {
    const field = { code, offset };
    offset += STRUCT_SIZE[code];
    return field;
  });
})();

/** Each field's name, offset, byte size and largest value, in ANNOUNCE_HEADER's order (packAnnounceHeader's table). */
const HEADER_LAYOUT = ANNOUNCE_HEADER.map(([name], i) => {
  const size = STRUCT_SIZE[ANNOUNCE_HEADER[i]![1]];
  return { name, offset: HEADER_FIELDS[i]!.offset, size, max: 2 ** (8 * size) - 1 };
});

/**
 * The header of one announce, packed as the script unpacks it; values in ANNOUNCE_HEADER's order.
 * Bytes written by hand rather than with Buffer.writeUInt8/16/32BE (one header per announce)
 * (measured: docs/performance.md, "Hand-written hot paths"); the same range check and the same truncation of a fraction as those methods, so the same
 * bytes and the same errors.
 */
export function packAnnounceHeader(values: Record<AnnounceHeaderField, number>): Buffer {
  const header = Buffer.allocUnsafe(ANNOUNCE_HEADER_SIZE);
  for (let i = 0; i < HEADER_LAYOUT.length; i++) {
    const { name, offset, size, max } = HEADER_LAYOUT[i]!;
    const value = +values[name];
    if (value > max || value < 0) throw new RangeError(`announce header: ${name} out of range (0 to ${max}): ${value}`);
    // Typed-array stores truncate as the Buffer methods do (value >>> 8 per byte, low byte last).
    let rest = value;
    for (let at = offset + size - 1; at > offset; at--) {
      header[at] = rest;
      rest = rest >>> 8;
    }
    header[offset] = rest;
  }
  return header;
}

/** Announce's ARGV, in order (Lua: ARGV_HEADER, ARGV_ADDRESS4, ...); all but the first three in private mode only. */
export const ANNOUNCE_ARGV = [
  /** the packed header (ANNOUNCE_HEADER) */
  'header',
  /** the announcer's compact addresses, or "" */
  'address4',
  'address6',
  /** private mode: the user id (USER_ID_SIZE bytes, big-endian) */
  'userId',
  /** private mode: the peer_id */
  'peerId',
  /** private mode: the totals reported now, "uploaded:downloaded" */
  'totals',
  /** private mode: this announce's accounting record id (a retry finds it stored) */
  'recordId',
  /**
   * private mode: "" for the announced hash's own keys; the hex of a hybrid torrent's v2 hash when the
   * keys are its torrent's slot (lua/includes/hybrid.lua)
   */
  'servedAs',
  /** private mode: most peers a user may run on one torrent, decimal, "0": no limit */
  'peerLimit',
] as const;
/** How many of ANNOUNCE_ARGV a public announce passes. */
export const PUBLIC_ANNOUNCE_ARGV = 3;

/**
 * Announce's reply, in order (Lua: REPLY_COMPLETE, ... for its positions). A refusal stops at
 * `refusal`, a public answer at `snatched`: every element costs a conversion on both ends.
 */
export const ANNOUNCE_REPLY = [
  'complete',
  'incomplete',
  'downloaded',
  /** packed entries: the compact address, in private mode followed by the user id */
  'peers4',
  'peers6',
  /**
   * "" or denied / not_allowed / unregistered / peer_limit (then nothing was changed), or, in private
   * mode only, v2 (followed by the torrent's hex info hash) / moved: call again with other keys (hybrid.lua);
   * too_soon (min interval: nothing was changed, the counts are set, the reply stops here); or
   * not_stored on a full answer (admission control: the announcer was not stored)
   */
  'refusal',
  /** 0/1 */
  'snatched',
  /** "uploaded:downloaded" as last reported ("" when unknown), "#", the session "epoch#seq#baseUp:baseDown#open" */
  'previousTotals',
  /** the torrent's registration, "" when unregistered */
  'torrentId',
  'upMultiplier',
  'downMultiplier',
  'freeleech',
] as const;
export type AnnounceReplyField = (typeof ANNOUNCE_REPLY)[number];
/** Each reply element's 0-based index, for the store. */
export const REPLY = Object.fromEntries(ANNOUNCE_REPLY.map((name, i) => [name, i])) as Record<AnnounceReplyField, number>;
export const REFUSAL_REPLY_LENGTH = REPLY.refusal + 1;
/** After the refusal "v2": the hex info hash of the torrent whose v2 hash was announced. */
export const REPLY_V2_TORRENT = REPLY.refusal + 1;
export const PUBLIC_REPLY_LENGTH = REPLY.snatched + 1;

/**
 * lua/announce-batch.lua's reply: each announce's answer after the other's, its head opening with
 * its kind (Lua: BATCH_REPLY_ERROR, ...): an error, or the number of elements of the single script's
 * reply it stands for (a refusal or too soon, a public answer, the refusal "v2" and its torrent, a
 * private answer). Decoded by announce-batch.ts.
 */
export const BATCH_REPLY = { error: 0, refusal: 6, public: 7, v2: 8, private: 12 } as const;

/** Bytes of a compact address (Lua: ADDRESS4_SIZE, ADDRESS6_SIZE). */
export const ADDRESS4_SIZE = 6;
export const ADDRESS6_SIZE = 18;
/** Bytes of a user id after the address in private mode (Lua: USER_ID_SIZE). */
export const USER_ID_SIZE = 4;

/** Same-subnet-first without the indexes (Lua: SUBNET_OVERSAMPLING): the contract's one value. */
export { SUBNET_OVERSAMPLING };

/** A TypeScript name as a Lua constant's: seeders4Index -> SEEDERS4_INDEX. */
export function luaName(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/**
 * The constants above as the scripts name them, and their values; scripts.ts puts each value where a
 * command names it.
 */
export function luaConstants(): Record<string, number | string> {
  const constants: Record<string, number | string> = {};
  const upper = luaName;
  for (const [name, bit] of Object.entries(ANNOUNCE_FLAGS)) constants[`FLAG_${upper(name)}`] = bit;
  for (const [name, code] of Object.entries(ANNOUNCE_EVENTS)) constants[`EVENT_${upper(name)}`] = code;
  ANNOUNCE_ARGV.forEach((name, i) => (constants[`ARGV_${upper(name)}`] = i + 1));
  ANNOUNCE_REPLY.forEach((name, i) => (constants[`REPLY_${upper(name)}`] = i + 1));
  constants.ADDRESS4_SIZE = ADDRESS4_SIZE;
  constants.ADDRESS6_SIZE = ADDRESS6_SIZE;
  constants.USER_ID_SIZE = USER_ID_SIZE;
  constants.SUBNET_OVERSAMPLING = SUBNET_OVERSAMPLING;
  for (const [name, kind] of Object.entries(BATCH_REPLY)) constants[`BATCH_REPLY_${upper(name)}`] = kind;
  return constants;
}
