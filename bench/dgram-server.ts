/**
 * The UDP floor: a bare node:dgram socket answering every BEP 15 connect with a connect reply and every
 * announce with a fixed reply of 50 IPv4 peers. It reads the action and transaction id and nothing else.
 *   node dist/bench/dgram-server.js [port]   -> prints {"port":N}
 */
import { createSocket } from 'node:dgram';

const PEERS = 50;
const CONNECT_REPLY = Buffer.alloc(16);
CONNECT_REPLY.writeUInt32BE(0, 0);
CONNECT_REPLY.writeBigUInt64BE(0x0123456789abcdefn, 8);
const ANNOUNCE_REPLY = Buffer.alloc(20 + PEERS * 6);
ANNOUNCE_REPLY.writeUInt32BE(1, 0);
ANNOUNCE_REPLY.writeUInt32BE(1800, 8); // interval
ANNOUNCE_REPLY.writeUInt32BE(35, 12); // leechers
ANNOUNCE_REPLY.writeUInt32BE(15, 16); // seeders
for (let i = 0; i < PEERS; i++) {
  ANNOUNCE_REPLY.writeUInt32BE(0x0a000001 + i, 20 + i * 6);
  ANNOUNCE_REPLY.writeUInt16BE(6881 + i, 24 + i * 6);
}

// The tracker's socket options (src/frontend/udp/server.ts), so that only the work differs.
const socket = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
socket.on('message', (packet, rinfo) => {
  if (packet.length < 16) return;
  const action = packet.readUInt32BE(8);
  const reply = action === 0 ? CONNECT_REPLY : action === 1 ? ANNOUNCE_REPLY : null;
  if (!reply) return;
  // Replies are built in a fresh buffer per packet, as any server must (the transaction id differs).
  const out = Buffer.allocUnsafe(reply.length);
  reply.copy(out);
  packet.copy(out, 4, 12, 16);
  socket.send(out, rinfo.port, rinfo.address);
});
socket.bind({ address: '127.0.0.1', port: Number(process.argv[2] ?? 0) }, () => {
  process.stdout.write(JSON.stringify({ port: socket.address().port }) + '\n');
});
process.on('SIGTERM', () => socket.close(() => process.exit(0)));
