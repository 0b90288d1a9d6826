/** Test-side UDP: real datagrams to a tracker, and BEP 15 packet builders. */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';

/** Sends one datagram and waits for one answer; null when the tracker stays silent. */
export function udpRequest(host: string, port: number, packet: Buffer, timeoutMs = 1000): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(null);
    }, timeoutMs);
    socket.once('message', (reply) => {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    });
    socket.send(packet, port, host);
  });
}

export function connectPacket(transactionId = randomBytes(4).readUInt32BE(0)): Buffer {
  const p = Buffer.alloc(16);
  p.writeBigUInt64BE(0x41727101980n, 0);
  p.writeUInt32BE(0, 8);
  p.writeUInt32BE(transactionId, 12);
  return p;
}

export interface UdpAnnounceFields {
  connectionId: Buffer;
  infoHash: Buffer;
  peerId?: Buffer;
  downloaded?: bigint;
  left?: bigint;
  uploaded?: bigint;
  event?: number;
  ip?: number;
  numwant?: number;
  port?: number;
  transactionId?: number;
  options?: Buffer;
}

export function announcePacket(f: UdpAnnounceFields): Buffer {
  const p = Buffer.alloc(98);
  f.connectionId.copy(p, 0);
  p.writeUInt32BE(1, 8);
  p.writeUInt32BE(f.transactionId ?? 7, 12);
  f.infoHash.copy(p, 16);
  (f.peerId ?? randomBytes(20)).copy(p, 36);
  p.writeBigInt64BE(f.downloaded ?? 0n, 56);
  p.writeBigInt64BE(f.left ?? 100n, 64);
  p.writeBigInt64BE(f.uploaded ?? 0n, 72);
  p.writeUInt32BE(f.event ?? 0, 80);
  p.writeUInt32BE(f.ip ?? 0, 84);
  p.writeUInt32BE(0, 88);
  p.writeInt32BE(f.numwant ?? -1, 92);
  p.writeUInt16BE(f.port ?? 6881, 96);
  return f.options ? Buffer.concat([p, f.options]) : p;
}

export function scrapePacket(connectionId: Buffer, hashes: Buffer[], transactionId = 9): Buffer {
  const head = Buffer.alloc(16);
  connectionId.copy(head, 0);
  head.writeUInt32BE(2, 8);
  head.writeUInt32BE(transactionId, 12);
  return Buffer.concat([head, ...hashes]);
}

export async function udpConnect(host: string, port: number): Promise<Buffer> {
  const reply = await udpRequest(host, port, connectPacket(42));
  if (!reply || reply.length !== 16 || reply.readUInt32BE(0) !== 0 || reply.readUInt32BE(4) !== 42) throw new Error('connect failed');
  return reply.subarray(8, 16);
}

export interface AnnounceReply {
  interval: number;
  leechers: number;
  seeders: number;
  peers: Buffer;
}

export function readAnnounceReply(reply: Buffer): AnnounceReply {
  if (reply.readUInt32BE(0) !== 1) throw new Error(`not an announce reply: action ${reply.readUInt32BE(0)} ${reply.subarray(8).toString()}`);
  return { interval: reply.readUInt32BE(8), leechers: reply.readUInt32BE(12), seeders: reply.readUInt32BE(16), peers: reply.subarray(20) };
}

export function readError(reply: Buffer): string {
  if (reply.readUInt32BE(0) !== 3) throw new Error(`not an error: action ${reply.readUInt32BE(0)}`);
  return reply.subarray(8).toString('utf8');
}
