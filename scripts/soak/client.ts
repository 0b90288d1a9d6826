/**
 * One announce attempt of a simulated client, over HTTP or UDP (BEP 15, with the passkey in BEP 41 URL
 * data), from 127.0.0.1 or ::1, to one tracker replica. It answers whether the tracker accepted it, or
 * why not, in words the statistics can group (a connection error's code, a timeout, a failure reason).
 */
import { createSocket } from 'node:dgram';
import { request } from 'node:http';
import { announcePath, decode } from '../../test/helpers/http.js';
import { announcePacket, connectPacket } from '../../test/helpers/udp.js';

/** How long an attempt may take before the client gives up on that replica and tries another. */
const HTTP_TIMEOUT_MS = 3000;
const UDP_TIMEOUT_MS = 1000;
/** BEP 15: a connection id is good for two minutes; clients renew it well before. */
const CONNECTION_ID_LIFETIME_MS = 60_000;
/** Small answers: the soak wants the announce, not the peers. */
const NUMWANT = 5;

export type Family = 4 | 6;
export type AnnounceEvent = 'none' | 'started' | 'completed' | 'stopped';
const UDP_EVENTS: Record<AnnounceEvent, number> = { none: 0, completed: 1, started: 2, stopped: 3 };

export interface ReplicaAddress {
  label: string;
  httpPort: number;
  udpPort: number;
}

export interface AnnounceFields {
  passkey: string;
  infoHash: Buffer;
  peerId: Buffer;
  port: number;
  uploaded: number;
  downloaded: number;
  left: number;
  event: AnnounceEvent;
}

export type Outcome = { ok: true } | { ok: false; reason: string };

function host(family: Family): string {
  return family === 4 ? '127.0.0.1' : '::1';
}

/** GET on a fresh connection (a replica killed in between must not leave a dead keep-alive socket behind). */
function httpGet(family: Family, port: number, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: host(family), port, path, method: 'GET', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(HTTP_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    req.end();
  });
}

/** One datagram, one answer or null; a socket error (a replica that is gone) is a null too, never a crash. */
function udpRequest(family: Family, port: number, packet: Buffer, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const socket = createSocket(family === 4 ? 'udp4' : 'udp6');
    let done = false;
    const finish = (reply: Buffer | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.once('message', (reply) => finish(reply));
    socket.once('error', () => finish(null));
    socket.send(packet, port, host(family));
  });
}

function errorReason(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : (error as Error).message.slice(0, 80);
}

export async function announceHttp(replica: ReplicaAddress, family: Family, f: AnnounceFields): Promise<Outcome> {
  const path = announcePath(
    {
      infoHash: f.infoHash,
      peerId: f.peerId,
      port: f.port,
      uploaded: f.uploaded,
      downloaded: f.downloaded,
      left: f.left,
      ...(f.event === 'none' ? {} : { event: f.event }),
      numwant: NUMWANT,
      compact: 1,
    },
    `/${f.passkey}`,
  );
  try {
    const reply = await httpGet(family, replica.httpPort, path);
    if (reply.status !== 200) return { ok: false, reason: `HTTP ${reply.status}` };
    const answer = decode(reply.body);
    const failure: unknown = answer['failure reason'];
    if (failure !== undefined) return { ok: false, reason: Buffer.from(failure as Uint8Array).toString('utf8') };
    if (typeof answer.interval !== 'number') return { ok: false, reason: 'answer without interval' };
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: errorReason(error) };
  }
}

/** UDP connection ids by family: any replica accepts one issued by another (the shared udp.secret). */
const connectionIds = new Map<Family, { id: Buffer; at: number }>();

async function connectionId(replica: ReplicaAddress, family: Family): Promise<Buffer | null> {
  const known = connectionIds.get(family);
  if (known && Date.now() - known.at < CONNECTION_ID_LIFETIME_MS) return known.id;
  const transactionId = Math.floor(Math.random() * 2 ** 32);
  const reply = await udpRequest(family, replica.udpPort, connectPacket(transactionId), UDP_TIMEOUT_MS);
  if (!reply || reply.length < 16 || reply.readUInt32BE(0) !== 0 || reply.readUInt32BE(4) !== transactionId) return null;
  const id = Buffer.from(reply.subarray(8, 16));
  connectionIds.set(family, { id, at: Date.now() });
  return id;
}

/** BEP 41 URL data: option 2, a length byte, the path; then 0, the end of options. */
function urlData(path: string): Buffer {
  const bytes = Buffer.from(path, 'latin1');
  if (bytes.length > 255) throw new Error('URL data longer than one option');
  return Buffer.concat([Buffer.from([2, bytes.length]), bytes, Buffer.from([0])]);
}

export async function announceUdp(replica: ReplicaAddress, family: Family, f: AnnounceFields): Promise<Outcome> {
  const id = await connectionId(replica, family);
  if (!id) return { ok: false, reason: 'UDP connect timeout' };
  const transactionId = Math.floor(Math.random() * 2 ** 32);
  const packet = announcePacket({
    connectionId: id,
    infoHash: f.infoHash,
    peerId: f.peerId,
    downloaded: BigInt(f.downloaded),
    left: BigInt(f.left),
    uploaded: BigInt(f.uploaded),
    event: UDP_EVENTS[f.event],
    numwant: NUMWANT,
    port: f.port,
    transactionId,
    options: urlData(`/${f.passkey}/announce`),
  });
  const reply = await udpRequest(family, replica.udpPort, packet, UDP_TIMEOUT_MS);
  if (!reply) return { ok: false, reason: 'UDP timeout' };
  if (reply.length < 8 || reply.readUInt32BE(4) !== transactionId) return { ok: false, reason: 'UDP reply to another transaction' };
  const action = reply.readUInt32BE(0);
  if (action === 1 && reply.length >= 20) return { ok: true };
  if (action === 3) {
    const message = reply.subarray(8).toString('utf8');
    // An id the tracker no longer takes (it should: the secret is shared and fixed): get a new one.
    if (/connection id/i.test(message)) connectionIds.delete(family);
    return { ok: false, reason: message };
  }
  return { ok: false, reason: `UDP action ${action}` };
}
