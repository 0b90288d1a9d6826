/**
 * One connectability probe: a TCP connection to a peer's announced port and, optionally, a BitTorrent
 * handshake (BEP 3) for the info hash it announced. Only node:net; the policy around it (which
 * addresses, how often, how many at once) is connectability.ts's.
 */
import { connect } from 'node:net';

const PROTOCOL = Buffer.from('BitTorrent protocol', 'latin1');
/** 1 length byte, the protocol string, 8 reserved bytes, the info hash, the peer id. */
export const HANDSHAKE_LENGTH = 1 + PROTOCOL.length + 8 + 20 + 20;
/** The part of a peer's answer that must match ours: length byte and protocol, then (after the reserved bytes) the info hash. */
const HASH_OFFSET = 1 + PROTOCOL.length + 8;

export interface ProbeOptions {
  timeoutMs: number;
  /** Send a handshake for this info hash and require one for the same hash back; absent: the connection alone decides. */
  handshake?: { infoHash: Buffer; peerId: Buffer };
}

export function handshakeBytes(infoHash: Buffer, peerId: Buffer): Buffer {
  const out = Buffer.alloc(HANDSHAKE_LENGTH);
  out[0] = PROTOCOL.length;
  PROTOCOL.copy(out, 1);
  infoHash.copy(out, HASH_OFFSET);
  peerId.copy(out, HASH_OFFSET + 20);
  return out;
}

/** Whether a peer's first bytes are a handshake for `infoHash` (its peer id is not checked: it may withhold it). */
export function answersHandshake(reply: Buffer, infoHash: Buffer): boolean {
  if (reply.length < HASH_OFFSET + 20 || reply[0] !== PROTOCOL.length) return false;
  return reply.subarray(1, 1 + PROTOCOL.length).equals(PROTOCOL) && reply.subarray(HASH_OFFSET, HASH_OFFSET + 20).equals(infoHash);
}

/**
 * Resolves true when the peer accepts a connection (and answers the handshake, when asked), false on a
 * refusal, an error, a wrong answer or the timeout. Never rejects; the socket is destroyed in every case,
 * and nothing past the handshake is read.
 */
export function probe(ip: string, port: number, options: ProbeOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: ip, port, noDelay: true });
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => finish(false), options.timeoutMs);
    function finish(result: boolean): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    }
    socket.once('error', () => finish(false));
    socket.once('close', () => finish(false));
    socket.once('connect', () => {
      const hs = options.handshake;
      if (!hs) return finish(true);
      socket.write(handshakeBytes(hs.infoHash, hs.peerId));
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (received[0] !== undefined && received[0] !== PROTOCOL.length) return finish(false);
        if (received.length >= HASH_OFFSET + 20) finish(answersHandshake(received, hs.infoHash));
      });
    });
  });
}
