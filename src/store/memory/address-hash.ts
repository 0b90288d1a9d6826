/**
 * A 32-bit hash of a compact address (6 or 18 bytes) for the peer tables' open-addressing index.
 * Seeded at random per process: announcers choose their ports (and, with spoofing on, their addresses),
 * and linear probing with a hash they could predict would let them pile a swarm's peers into one probe
 * run and make every lookup in that swarm scan it.
 */
import { randomBytes } from 'node:crypto';

const SEED = randomBytes(4).readUInt32LE(0);

/** MurmurHash3's mixing of one 32-bit word into the running hash. */
function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Hashes `size` bytes (6 or 18) of `bytes` from `offset`. */
export function hashAddress(bytes: Uint8Array, offset: number, size: number): number {
  let h = SEED;
  let i = offset;
  const words = offset + size - 2;
  for (; i < words; i += 4) h = mix(h, bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
  h = mix(h, bytes[i]! | (bytes[i + 1]! << 8));
  // MurmurHash3's finaliser: every input bit reaches the low bits that the index masks.
  h ^= size;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
