/** Small helpers shared by the Redis cost benchmarks. */
import { createServer } from 'node:net';

/** Compact IPv4 address of the i-th simulated peer of a swarm (10.0.x.x, distinct ports). */
export function peerAddr(i: number): Buffer {
  const b = Buffer.allocUnsafe(6);
  b.writeUInt32BE(0x0a000000 + Math.floor(i / 50000));
  b.writeUInt16BE(1024 + (i % 50000), 4);
  return b;
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
