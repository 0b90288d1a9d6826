/** Small helpers shared by the Redis cost benchmarks. */

/** Compact IPv4 address of the i-th simulated peer of a swarm (10.0.x.x, distinct ports). */
export function peerAddr(i: number): Buffer {
  const b = Buffer.allocUnsafe(6);
  b.writeUInt32BE(0x0a000000 + Math.floor(i / 50000));
  b.writeUInt16BE(1024 + (i % 50000), 4);
  return b;
}

/** One way to find a free port for a redis-server of our own, shared with the tests. */
export { freePort } from '../test/helpers/redis.js';
