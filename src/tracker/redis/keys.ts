/**
 * Key names. Every key of a swarm carries the hash tag of the hex info hash, so that one script call
 * touches one Cluster slot (raw bytes could contain "{" or "}").
 */
export const KEYS_PER_SWARM = 5;

export function swarmKeys(prefix: string, infoHash: Buffer): string[] {
  const tag = `${prefix}{${infoHash.toString('hex')}}:`;
  return [tag + 's4', tag + 'l4', tag + 's6', tag + 'l6', tag + 'm'];
}
