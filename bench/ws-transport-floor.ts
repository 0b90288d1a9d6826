/**
 * The transport floor of the WebTorrent bench (bench/webtorrent.ts): what Node's TCP sockets and the
 * WebSocket framing cost per relayed offer on this machine, with as little JavaScript around them as a
 * relay can have. No `ws` and no JSON: the handshake and the frames are done by hand, for the load
 * generator's frames only (unfragmented text frames, no extensions); the ids are found as JSON string
 * tokens in a frame's bytes and used as they are, map keys included; a relayed frame is pieces of the
 * received one between fixed fragments; frames for one socket within one event-loop turn leave in one
 * write, as shoal's do.
 *
 * It trusts the load generator (bench/ws-load.ts) and checks nothing, so it is no server to run, only a
 * bound: its CPU per relayed offer is what every WebTorrent tracker in Node pays on this machine before
 * it validates, parses or decides anything, and bittorrent-tracker ÷ it the most any could beat
 * bittorrent-tracker by. Prints {"port":N}.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

/** bufferutil's native unmasking where it loads (as ws uses it, in shoal and the ws floors), else a JS loop. */
const nativeUnmask = ((): ((buffer: Buffer, mask: Buffer) => void) | null => {
  try {
    return (createRequire(import.meta.url)('bufferutil') as { unmask: (buffer: Buffer, mask: Buffer) => void }).unmask;
  } catch {
    return null;
  }
})();

const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

interface Peer {
  socket: Socket;
  /** This turn's frames for the socket, written together after the turn's I/O. */
  out: Buffer[];
  outBytes: number;
  /** Bytes of a frame not complete yet. */
  rest: Buffer | null;
  /** Where it joined (info_hash token, peer_id token): it leaves on close. */
  joined: Array<[string, string]>;
}

const swarms = new Map<string, { peers: Peer[]; next: number }>();
const byPeerId = new Map<string, Peer>();
const writing: Peer[] = [];
/**
 * HOLD_MS=N (environment): a turn's frames wait N ms for more before they are written, as Nagle's
 * algorithm would. Off by default, as in shoal. Measured once by hand (6 s of the bench's load, pinned):
 * 35.4 µs per relayed offer without, 31.6 with 2 ms and 31.1 with 5 ms: holding does not change the bound much.
 */
const HOLD_MS = Number(process.env.HOLD_MS ?? 0);

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const KEY_INFO_HASH = bytes('"info_hash":');
const KEY_PEER_ID = bytes('"peer_id":');
const KEY_TO_PEER_ID = bytes('"to_peer_id":');
const KEY_OFFER_ID = bytes('"offer_id":');
const KEY_OFFER = bytes('"offer":');
const KEY_SDP = bytes('"sdp":');
const KEY_ANSWER = bytes('"answer":');
const OFFER_HEAD = bytes('{"action":"announce","offer":');
const ANSWER_HEAD = bytes('{"action":"announce","answer":');
const OFFER_ID = bytes(',"offer_id":');
const PEER_ID = bytes(',"peer_id":');
const INFO_HASH = bytes(',"info_hash":');
const REPLY_HEAD = bytes('{"action":"announce","interval":120,"info_hash":');
const REPLY_COUNTS = bytes(',"complete":0,"incomplete":');
const CLOSE = bytes('}');

/** The end (after its closing quote) of the JSON string token whose opening quote is at `start`. */
function tokenEnd(frame: Buffer, start: number): number {
  let i = start + 1;
  while (frame[i] !== QUOTE) i += frame[i] === BACKSLASH ? 2 : 1;
  return i + 1;
}

/** The value token after `key` (searched from `from`): [start, end). */
function valueAfter(frame: Buffer, key: Buffer, from: number): [number, number] {
  const start = frame.indexOf(key, from) + key.length;
  return [start, tokenEnd(frame, start)];
}

function flushAll(): void {
  for (const peer of writing) {
    const data = peer.out.length === 1 ? peer.out[0]! : Buffer.concat(peer.out, peer.outBytes);
    peer.out = [];
    peer.outBytes = 0;
    if (!peer.socket.destroyed) peer.socket.write(data);
  }
  writing.length = 0;
}

/** One unmasked text frame of `pieces`, queued for `peer`. */
function send(peer: Peer, pieces: Buffer[]): void {
  let length = 0;
  for (const piece of pieces) length += piece.length;
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81;
  if (header === 2) frame[1] = length;
  else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(length, 6);
  }
  let at = header;
  for (const piece of pieces) at += piece.copy(frame, at);
  if (peer.out.length === 0 && writing.push(peer) === 1) {
    if (HOLD_MS > 0) setTimeout(flushAll, HOLD_MS);
    else setImmediate(flushAll);
  }
  peer.out.push(frame);
  peer.outBytes += frame.length;
}

function onText(self: Peer, frame: Buffer): void {
  const [hashStart, hashEnd] = valueAfter(frame, KEY_INFO_HASH, 0);
  const [fromStart, fromEnd] = valueAfter(frame, KEY_PEER_ID, hashEnd);
  const hash = frame.subarray(hashStart, hashEnd);
  const from = frame.subarray(fromStart, fromEnd);
  const toAt = frame.indexOf(KEY_TO_PEER_ID, fromEnd);
  if (toAt !== -1) {
    const toStart = toAt + KEY_TO_PEER_ID.length;
    const to = byPeerId.get(frame.toString('latin1', toStart, tokenEnd(frame, toStart)));
    const [offerIdStart, offerIdEnd] = valueAfter(frame, KEY_OFFER_ID, toStart);
    const answerStart = frame.indexOf(KEY_ANSWER, offerIdEnd) + KEY_ANSWER.length;
    // The load generator's answer is the frame's last member: its object ends before the frame's "}".
    const answer = frame.subarray(answerStart, frame.length - 1);
    if (to) send(to, [ANSWER_HEAD, answer, OFFER_ID, frame.subarray(offerIdStart, offerIdEnd), PEER_ID, from, INFO_HASH, hash, CLOSE]);
    return;
  }
  const hashKey = hash.toString('latin1');
  let swarm = swarms.get(hashKey);
  if (!swarm) swarms.set(hashKey, (swarm = { peers: [], next: 0 }));
  const peerKey = from.toString('latin1');
  if (!byPeerId.has(peerKey)) {
    byPeerId.set(peerKey, self);
    swarm.peers.push(self);
    self.joined.push([hashKey, peerKey]);
  }
  send(self, [REPLY_HEAD, hash, REPLY_COUNTS, bytes(String(swarm.peers.length)), CLOSE]);
  let at = fromEnd;
  for (;;) {
    const offerAt = frame.indexOf(KEY_OFFER, at);
    if (offerAt === -1) break;
    const objectStart = offerAt + KEY_OFFER.length;
    const [, sdpEnd] = valueAfter(frame, KEY_SDP, objectStart);
    const objectEnd = sdpEnd + 1; // {"type":"offer","sdp":"…"}
    const [offerIdStart, offerIdEnd] = valueAfter(frame, KEY_OFFER_ID, objectEnd);
    at = offerIdEnd;
    let to = swarm.peers[swarm.next++ % swarm.peers.length]!;
    if (to === self) to = swarm.peers[swarm.next++ % swarm.peers.length]!;
    if (to === self) continue;
    send(to, [OFFER_HEAD, frame.subarray(objectStart, objectEnd), OFFER_ID, frame.subarray(offerIdStart, offerIdEnd), PEER_ID, from, INFO_HASH, hash, CLOSE]);
  }
}

/** Reads every complete frame of `data` (client frames are masked: unmasked in place). */
function onData(peer: Peer, chunk: Buffer): void {
  const data = peer.rest ? Buffer.concat([peer.rest, chunk]) : chunk;
  let at = 0;
  while (data.length - at >= 2) {
    const opcode = data[at]! & 0x0f;
    const masked = (data[at + 1]! & 0x80) !== 0;
    let length = data[at + 1]! & 0x7f;
    let header = 2;
    if (length === 126) {
      if (data.length - at < 4) break;
      length = data.readUInt16BE(at + 2);
      header = 4;
    } else if (length === 127) {
      if (data.length - at < 10) break;
      length = data.readUInt32BE(at + 6);
      header = 10;
    }
    const maskAt = at + header;
    const payloadAt = maskAt + (masked ? 4 : 0);
    if (data.length < payloadAt + length) break;
    const payload = data.subarray(payloadAt, payloadAt + length);
    if (masked && nativeUnmask) nativeUnmask(payload, data.subarray(maskAt, maskAt + 4));
    else if (masked) {
      const m0 = data[maskAt]!;
      const m1 = data[maskAt + 1]!;
      const m2 = data[maskAt + 2]!;
      const m3 = data[maskAt + 3]!;
      let i = 0;
      for (; i + 3 < length; i += 4) {
        payload[i] ^= m0;
        payload[i + 1] ^= m1;
        payload[i + 2] ^= m2;
        payload[i + 3] ^= m3;
      }
      for (let k = 0; i < length; i++, k++) payload[i] ^= k === 0 ? m0 : k === 1 ? m1 : m2;
    }
    at = payloadAt + length;
    if (opcode === 1) onText(peer, payload);
    else if (opcode === 8) peer.socket.destroy();
  }
  peer.rest = at < data.length ? data.subarray(at) : null;
}

function leave(peer: Peer): void {
  for (const [hashKey, peerKey] of peer.joined) {
    byPeerId.delete(peerKey);
    const swarm = swarms.get(hashKey)!;
    swarm.peers.splice(swarm.peers.indexOf(peer), 1);
    if (swarm.peers.length === 0) swarms.delete(hashKey);
  }
  peer.joined = [];
}

const server = createServer((_req, res) => res.writeHead(426).end());
server.on('upgrade', (req, socket: Socket, head: Buffer) => {
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string') return socket.destroy();
  const accept = createHash('sha1')
    .update(key + WEBSOCKET_GUID)
    .digest('base64');
  socket.setNoDelay(true);
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  const peer: Peer = { socket, out: [], outBytes: 0, rest: null, joined: [] };
  socket.on('data', (chunk: Buffer) => onData(peer, chunk));
  socket.on('error', () => socket.destroy());
  socket.on('close', () => leave(peer));
  if (head.length > 0) onData(peer, head);
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as { port: number }).port })));
// A clean exit on SIGINT/SIGTERM (lets --cpu-prof write its profile when profiling it).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(0));
