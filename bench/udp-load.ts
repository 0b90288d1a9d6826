/**
 * UDP load generator: many sockets, each connects (BEP 15) and then announces in a loop, sending the
 * next announce as soon as the answer to the last one arrives. Run as a child process:
 *   node dist/bench/udp-load.js '{"host":"127.0.0.1","port":6969,...}'   -> one JSON line of results
 */
import { createSocket } from 'node:dgram';
import { buildPool, paceWait, summarize, type LoadOptions, type LoadResult } from './load.js';

/** A lost datagram is given up after this long and the socket sends the next announce. */
const LOSS_TIMEOUT_MS = 1000;
/** Connection ids are refreshed well inside their two minutes. */
const RECONNECT_MS = 60_000;

function announcePacket(p: { infoHash: Buffer; peerId: Buffer; port: number; left: number }, numwant: number): Buffer {
  const packet = Buffer.alloc(98);
  packet.writeUInt32BE(1, 8);
  p.infoHash.copy(packet, 16);
  p.peerId.copy(packet, 36);
  packet.writeBigInt64BE(BigInt(p.left), 64);
  packet.writeInt32BE(numwant, 92);
  packet.writeUInt16BE(p.port, 96);
  return packet;
}

export async function runUdpLoad(o: LoadOptions): Promise<LoadResult> {
  const packets = buildPool(o).map((p) => announcePacket(p, o.numwant));
  const latencies = new Float64Array(Math.max(1, Math.ceil(o.seconds * 300_000)));
  let count = 0;
  let failures = 0;
  let errors = 0;
  let bodyBytes = 0;
  let next = 0;
  const started = performance.now();
  const stopAt = started + o.seconds * 1000;
  const maxRequests = o.maxRequests ?? Infinity;
  const family = o.host.includes(':') ? 'udp6' : 'udp4';

  const worker = (index: number): Promise<void> =>
    new Promise((resolve) => {
      const socket = createSocket(family);
      let connectionId: Buffer | null = null;
      let connectedAt = 0;
      let transactionId = index << 20;
      let sentAt = 0;
      let timer: NodeJS.Timeout | null = null;
      const finish = (): void => {
        if (timer) clearTimeout(timer);
        socket.close();
        resolve();
      };
      const arm = (): void => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => {
          errors++;
          send();
        }, LOSS_TIMEOUT_MS);
      };
      const send = (): void => {
        const now = performance.now();
        if (now >= stopAt || next >= maxRequests) return finish();
        transactionId = (transactionId + 1) >>> 0;
        if (!connectionId || now - connectedAt > RECONNECT_MS) {
          const connect = Buffer.alloc(16);
          connect.writeBigUInt64BE(0x41727101980n, 0);
          connect.writeUInt32BE(transactionId, 12);
          socket.send(connect, o.port, o.host);
        } else {
          const i = next++;
          const id = connectionId;
          const announce = (): void => {
            const packet = packets[i % packets.length]!;
            id.copy(packet, 0);
            packet.writeUInt32BE(transactionId, 12);
            sentAt = performance.now();
            socket.send(packet, o.port, o.host);
            arm();
          };
          const wait = paceWait(o, started, i);
          if (wait > 0) setTimeout(announce, wait);
          else announce();
          return;
        }
        arm();
      };
      socket.on('message', (reply) => {
        if (reply.length < 8 || reply.readUInt32BE(4) !== transactionId) return;
        const action = reply.readUInt32BE(0);
        if (action === 0) {
          connectionId = Buffer.from(reply.subarray(8, 16));
          connectedAt = performance.now();
        } else {
          if (count < latencies.length) latencies[count] = (performance.now() - sentAt) * 1000;
          count++;
          bodyBytes += reply.length;
          if (action === 3) failures++;
        }
        send();
      });
      socket.on('error', () => {
        errors++;
      });
      send();
    });

  await Promise.all(Array.from({ length: o.connections }, (_, i) => worker(i)));
  return summarize(latencies, count, (performance.now() - started) / 1000, { failures, errors, bodyBytes });
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const result = await runUdpLoad(JSON.parse(process.argv[2]!) as LoadOptions);
  process.stdout.write(JSON.stringify(result) + '\n');
}
