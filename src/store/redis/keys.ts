/**
 * Key names. Every key of a swarm carries the hash tag of the hex info hash, so that one script call
 * touches one Cluster slot (raw bytes could contain "{" or "}"). Catalogue keys outside a swarm are
 * read only by the management API and by cache misses, never per announce.
 */
function tagOf(prefix: string, infoHash: Buffer): string {
  return `${prefix}{${infoHash.toString('hex')}}:`;
}

/**
 * The suffix of each key of a swarm, after `<prefix>{<hex info hash>}:`. Defined here only: the
 * scripts in lua/ get the keys by position (KEY_<NAME> in their generated constants, scripts.ts), and
 * their headers spell these suffixes out (a test compares them). Changing one breaks rolling upgrades.
 * The WebTorrent commands' keys are WEBTORRENT_KEY_SUFFIX's, below.
 */
export const SWARM_KEY_SUFFIX = {
  /** ZSET member = compact IPv4 address (private mode: + user id), score = last announce (unix s). */
  seeders4: 's4',
  leechers4: 'l4',
  /** The same for IPv6. */
  seeders6: 's6',
  leechers6: 'l6',
  /** HASH d = snatches, x = when its TTL was last set, xt = the torrent_ttl it was set for. */
  snatches: 'm',
  /** HASH the torrent's registration (id, up, down, fl) and list membership (allow, deny). */
  torrent: 't',
  /** Exact subnet mode: ZSETs of the same members as the peer sets, score 0, for ZRANGEBYLEX. */
  seeders4Index: 'xs4',
  leechers4Index: 'xl4',
  seeders6Index: 'xs6',
  leechers6Index: 'xl6',
  /** Private mode: HASH user id .. peer_id -> the peer's last reported totals, and a ZSET of their ages. */
  totals: 'p',
  totalsAges: 'pa',
} as const;
export type SwarmKeyName = keyof typeof SWARM_KEY_SUFFIX;

/**
 * A peer set's packed copy (lua/includes/packed-copy.lua): a STRING of the set's members, named by the
 * set's key followed by one of these, for peer selection to read windows from. Public mode's members are
 * compact addresses; private mode's carry the user id, so each mode has its own copy. Written and read
 * only by the announce script; KEYS does not name them (same hash tag as their set, so the same slot).
 */
export const PACKED_COPY_SUFFIX = { public: 'c', private: 'cu' } as const;

/** What every announce touches, in KEYS order; scrape reads the first five. */
export const SWARM_KEYS = ['seeders4', 'leechers4', 'seeders6', 'leechers6', 'snatches', 'torrent'] as const satisfies readonly SwarmKeyName[];
/** Exact subnet mode: the index of each peer set, in SWARM_KEYS' order, after SWARM_KEYS. */
export const INDEX_KEYS = ['seeders4Index', 'leechers4Index', 'seeders6Index', 'leechers6Index'] as const satisfies readonly SwarmKeyName[];
/** Private mode: the last two keys. */
export const TOTALS_KEYS = ['totals', 'totalsAges'] as const satisfies readonly SwarmKeyName[];

/**
 * The suffix of each key of a swarm's WebTorrent (WebRTC) peers (lua/webtorrent-announce.lua), after the same
 * `<prefix>{<hex info hash>}:`; the torrent's registration is the compact swarm's own key.
 */
export const WEBTORRENT_KEY_SUFFIX = {
  /** ZSET member = peer_id (20 bytes), score = last announce (unix s). */
  seeders: 'ws',
  leechers: 'wl',
  /** HASH peer_id -> name of the replica holding its socket; d = snatches. */
  routes: 'wr',
  torrent: SWARM_KEY_SUFFIX.torrent,
} as const;
export type WebTorrentKeyName = keyof typeof WEBTORRENT_KEY_SUFFIX;
/** What a WebTorrent announce touches, in KEYS order (private mode: TOTALS_KEYS after them); scrape reads the first three. */
export const WEBTORRENT_KEYS = ['seeders', 'leechers', 'routes', 'torrent'] as const satisfies readonly WebTorrentKeyName[];

/** A swarm's WebTorrent keys, in WEBTORRENT_KEYS' order. */
export function webTorrentKeys(prefix: string, infoHash: Buffer): string[] {
  const tag = tagOf(prefix, infoHash);
  return WEBTORRENT_KEYS.map((name) => tag + WEBTORRENT_KEY_SUFFIX[name]);
}

function keysOf(prefix: string, infoHash: Buffer, names: readonly SwarmKeyName[]): string[] {
  const tag = tagOf(prefix, infoHash);
  return names.map((name) => tag + SWARM_KEY_SUFFIX[name]);
}

/**
 * What every announce touches: seeders v4, leechers v4, seeders v6, leechers v6, the snatch hash,
 * and the torrent's registration and list membership. Scrape reads the first five.
 */
export function swarmKeys(prefix: string, infoHash: Buffer): string[] {
  return keysOf(prefix, infoHash, SWARM_KEYS);
}

/** Exact subnet mode: a lexicographic index per peer set, in swarmKeys' order. */
export function indexKeys(prefix: string, infoHash: Buffer): string[] {
  return keysOf(prefix, infoHash, INDEX_KEYS);
}

/** Private mode: each peer's last reported totals, and their ages. */
export function totalsKeys(prefix: string, infoHash: Buffer): string[] {
  return keysOf(prefix, infoHash, TOTALS_KEYS);
}

/**
 * The keys of a swarm, in SWARM_KEYS' order then the indexes' if `exact`, of the hash `announced` under
 * the torrent registered as `torrentHash`. A hybrid torrent's v2 swarm lives in its torrent's hash slot
 * (tag: the torrent's info hash), so that one script swaps the one set of private totals both swarms
 * share: its peer sets are `<prefix>{<torrent hex>}:<announced hex>:<suffix>`; the snatch hash, the
 * registration and the totals are the torrent's own. For the torrent's own hash these are swarmKeys.
 */
export function swarmKeysUnder(prefix: string, torrentHash: Buffer, announced: Buffer, exact: boolean): string[] {
  const tag = tagOf(prefix, torrentHash);
  const own = announced.equals(torrentHash) ? tag : `${tag}${announced.toString('hex')}:`;
  const peerSet = (name: SwarmKeyName): string => own + SWARM_KEY_SUFFIX[name];
  const keys = SWARM_KEYS.map((name) => (name === 'snatches' || name === 'torrent' ? tag + SWARM_KEY_SUFFIX[name] : peerSet(name)));
  if (exact) keys.push(...INDEX_KEYS.map(peerSet));
  return keys;
}

/** The torrent's registration and list membership (HASH: id, up, down, fl, allow, deny). */
export function torrentKey(prefix: string, infoHash: Buffer): string {
  return tagOf(prefix, infoHash) + SWARM_KEY_SUFFIX.torrent;
}

export const catalogueKeys = (prefix: string) => ({
  /** HASH id, up, down, en, cl (can_leech), fu (freeleech_until), ds (download_slots): the hot-path lookup on a cache miss. */
  user: (passkey: string) => `${prefix}u:${passkey}`,
  /** HASH torrent id -> "UNTIL HEX": a user's freeleech tokens (read with the user on a cache miss). */
  tokens: (id: number) => `${prefix}tokens:${id}`,
  /** STRING: the passkey of a user id, for the management API. */
  userId: (id: number) => `${prefix}uid:${id}`,
  /** HASH prefix -> name: approved client prefixes. */
  clients: `${prefix}clients`,
  /** HASH prefix -> name: denied client prefixes. */
  deniedClients: `${prefix}clients:deny`,
  /** STRING with a TTL: why the torrent under this hex hash was deleted (DELETE /torrents with a reason). */
  deletion: (hex: string) => `${prefix}deleted:${hex}`,
  /** HASH fl. */
  global: `${prefix}global`,
  /** SET of hex info hashes, for listing only (membership is checked in the torrent hash). */
  list: (list: string) => `${prefix}list:${list}`,
  /** ZSET of user ids (score = id): the API's paging and a sync's replace. */
  users: `${prefix}users`,
  /** ZSET of registered torrents' hex info hashes (score 0, lexical order): the same for torrents. */
  torrents: `${prefix}torrents`,
  /** STRING with a TTL: an open bulk sync; SET beside it (`:seen`): the ids or hashes put under it. */
  sync: (kind: string, id: string) => `${prefix}sync:${kind}:${id}`,
  syncSeen: (kind: string, id: string) => `${prefix}sync:${kind}:${id}:seen`,
  /** Pub/sub channel of catalogue changes, so every replica drops what it cached. */
  channel: `${prefix}catalogue`,
  /** Counter of catalogue changes; each message carries its number, so a replica sees what it missed. */
  version: `${prefix}catalogue:version`,
});
