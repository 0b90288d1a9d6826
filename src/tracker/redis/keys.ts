/**
 * Key names. Every key of a swarm carries the hash tag of the hex info hash, so that one script call
 * touches one Cluster slot (raw bytes could contain "{" or "}"). Catalogue keys outside a swarm are
 * read only by the management API and by cache misses, never per announce.
 */
function tagOf(prefix: string, infoHash: Buffer): string {
  return `${prefix}{${infoHash.toString('hex')}}:`;
}

/**
 * What every announce touches: seeders v4, leechers v4, seeders v6, leechers v6, the snatch hash,
 * and the torrent's registration and list membership. Scrape reads the first five.
 */
export function swarmKeys(prefix: string, infoHash: Buffer): string[] {
  const tag = tagOf(prefix, infoHash);
  return [tag + 's4', tag + 'l4', tag + 's6', tag + 'l6', tag + 'm', tag + 't'];
}

/** Exact subnet mode: a lexicographic index per peer set, in swarmKeys' order. */
export function indexKeys(prefix: string, infoHash: Buffer): string[] {
  const tag = tagOf(prefix, infoHash);
  return [tag + 'xs4', tag + 'xl4', tag + 'xs6', tag + 'xl6'];
}

/** Private mode: each peer's last reported totals, and their ages. */
export function totalsKeys(prefix: string, infoHash: Buffer): string[] {
  const tag = tagOf(prefix, infoHash);
  return [tag + 'p', tag + 'pa'];
}

/** The torrent's registration and list membership (HASH: id, up, down, fl, allow, deny). */
export function torrentKey(prefix: string, infoHash: Buffer): string {
  return tagOf(prefix, infoHash) + 't';
}

export const catalogueKeys = (prefix: string) => ({
  /** HASH id, up, down, en: the hot-path lookup on a cache miss. */
  user: (passkey: string) => `${prefix}u:${passkey}`,
  /** STRING: the passkey of a user id, for the management API. */
  userId: (id: number) => `${prefix}uid:${id}`,
  /** HASH prefix -> name. */
  clients: `${prefix}clients`,
  /** HASH fl. */
  global: `${prefix}global`,
  /** SET of hex info hashes, for listing only (membership is checked in the torrent hash). */
  list: (list: string) => `${prefix}list:${list}`,
  /** Pub/sub channel of catalogue changes, so every replica drops what it cached. */
  channel: `${prefix}catalogue`,
  /** Counter of catalogue changes; each message carries its number, so a replica sees what it missed. */
  version: `${prefix}catalogue:version`,
});
