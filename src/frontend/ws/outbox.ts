/**
 * The text frames a WebSocket is sent within one turn of the event loop, written after the turn's I/O
 * (setImmediate) as ONE buffer of ready-made server frames straight to its TCP socket, beside ws'
 * Sender. A measured hot path: a busy tracker sends a socket its announce answer and offers and answers
 * from many others in the same turn, and through ws.send each frame costs a Sender call, a header
 * buffer and two stream writes even with the socket corked until the turn's end (then one writev of
 * them all); here it is a header of 2 to 10 bytes and a UTF-8 copy into the turn's buffer, and one
 * write. Under `npm run bench:webtorrent -- --cpu-prof` the send side went from 22% of the server's
 * CPU (ws.send + cork/uncork; writev 14%) to 18% (the write syscall 10.5%), and CPU per relayed offer
 * from 1.43x the floor (a bare ws relay using ws.send with the same corking) to 1.16x in one loaded run.
 *
 * Why this is sound beside ws (8.x): a server's frames are not masked, and with permessage-deflate off
 * and no Blob ever sent, ws' Sender writes every frame to the socket at once and queues nothing, so
 * frames written here cannot overtake or split one of ws'. Only while the socket is OPEN: once ws sent
 * or got a Close frame (readyState CLOSING) the unsent frames are dropped, as no data may follow a
 * Close. Whoever closes a socket on purpose flushes its frames first (`flush`), so they still precede
 * the Close. Backpressure stays ws': the bytes written are in ws.bufferedAmount (the socket's
 * buffer), and `queuedBytes` are the frames not yet written.
 */
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';

/** A socket's frames of this turn: their texts and UTF-8 lengths. */
export class Outbox {
  readonly texts: string[] = [];
  readonly lengths: number[] = [];
  /** Frame bytes (headers included) queued and not yet written. */
  queuedBytes = 0;

  constructor(readonly ws: WebSocket) {}
}

const headerLength = (length: number): number => (length < 126 ? 2 : length < 65536 ? 4 : 10);

/** Writes each socket's frames of this turn once the turn's I/O is done. */
export class FrameWriter {
  private readonly pending: Outbox[] = [];

  /** Queues a text frame; false when the socket is not open (the frame is dropped, as ws.send would). */
  send(box: Outbox, text: string): boolean {
    if (box.ws.readyState !== WebSocket.OPEN) return false;
    const length = Buffer.byteLength(text);
    if (box.texts.push(text) === 1 && this.pending.push(box) === 1) setImmediate(this.flushAll);
    box.lengths.push(length);
    box.queuedBytes += headerLength(length) + length;
    return true;
  }

  /** Writes a socket's queued frames now (before closing it on purpose: they precede the Close). */
  flush(box: Outbox): void {
    const count = box.texts.length;
    if (count === 0) return;
    const socket = (box.ws as unknown as { _socket: Duplex | null })._socket;
    if (box.ws.readyState === WebSocket.OPEN && socket !== null) {
      const buffer = Buffer.allocUnsafe(box.queuedBytes);
      let at = 0;
      for (let i = 0; i < count; i++) {
        const length = box.lengths[i]!;
        buffer[at] = 0x81; // FIN, text
        if (length < 126) {
          buffer[at + 1] = length;
          at += 2;
        } else if (length < 65536) {
          buffer[at + 1] = 126;
          buffer.writeUInt16BE(length, at + 2);
          at += 4;
        } else {
          buffer[at + 1] = 127;
          buffer.writeUInt32BE(0, at + 2);
          buffer.writeUInt32BE(length, at + 6);
          at += 10;
        }
        at += buffer.write(box.texts[i]!, at, length, 'utf8');
      }
      socket.write(buffer);
    }
    box.texts.length = 0;
    box.lengths.length = 0;
    box.queuedBytes = 0;
  }

  private readonly flushAll = (): void => {
    // Frames queued while flushing (none today: writes do not call back synchronously) wait for the next turn.
    for (const box of this.pending.splice(0)) this.flush(box);
  };
}
