/**
 * Key names. Every key of a swarm carries the hash tag of the hex info hash, so that one script call
 * touches one Cluster slot (raw bytes could contain "{" or "}").
 */
export const KEYS_PER_SWARM = 5;
/** Exact subnet mode adds a lexicographic index per peer set. */
export const KEYS_PER_SWARM_INDEXED = 9;

/** seeders v4, leechers v4, seeders v6, leechers v6, torrent hash */
export function swarmKeys(prefix: string, infoHash: Buffer): string[] {
  const tag = `${prefix}{${infoHash.toString('hex')}}:`;
  return [tag + 's4', tag + 'l4', tag + 's6', tag + 'l6', tag + 'm'];
}

/** swarmKeys, then the indexes of the four peer sets. */
export function indexedSwarmKeys(prefix: string, infoHash: Buffer): string[] {
  const tag = `${prefix}{${infoHash.toString('hex')}}:`;
  return [tag + 's4', tag + 'l4', tag + 's6', tag + 'l6', tag + 'm', tag + 'xs4', tag + 'xl4', tag + 'xs6', tag + 'xl6'];
}
