/**
 * The text frames a WebSocket is sent within one turn of the event loop, written after the turn's I/O
 * (setImmediate) as ONE buffer of ready-made server frames straight to its TCP socket, beside ws'
 * Sender. A measured hot path: a busy tracker sends a socket its announce answer and offers and answers
 * from many others in the same turn, and through ws.send each frame costs a Sender call, a header
 * buffer and two stream writes even with the socket corked until the turn's end (then one writev of
 * them all); here it is a header of 2 to 10 bytes and a copy into the turn's buffer (UTF-8 for text,
 * the bytes as they are for a relayed SDP: frame-scan.ts), and one write (measured: docs/performance.md, "Hand-written hot paths").
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

/** A piece of a frame's payload: text (written as UTF-8) or bytes. */
export type FramePart = string | Uint8Array;

/** A socket's frames of this turn: their parts in order, and per frame its part count and length. */
export class Outbox {
  readonly parts: FramePart[] = [];
  /** Per frame, two numbers: its number of parts and its payload length in bytes. */
  readonly frames: number[] = [];
  /** Frame bytes (headers included) queued and not yet written. */
  queuedBytes = 0;

  constructor(readonly ws: WebSocket) {}
}

const headerLength = (length: number): number => (length < 126 ? 2 : length < 65536 ? 4 : 10);
const lengthOf = (part: FramePart): number => (typeof part === 'string' ? Buffer.byteLength(part) : part.length);

/** Writes each socket's frames of this turn once the turn's I/O is done. */
export class FrameWriter {
  private readonly pending: Outbox[] = [];

  /** Queues a text frame; false when the socket is not open (the frame is dropped, as ws.send would). */
  send(box: Outbox, text: string): boolean {
    if (!this.open(box)) return false;
    box.parts.push(text);
    this.queued(box, 1, Buffer.byteLength(text));
    return true;
  }

  /**
   * Queues a text frame of three parts (a relayed offer: its head, the SDP as the offerer's frame wrote
   * it, the rest), never joined into one string: bytes are copied into the frame as they are.
   */
  sendParts(box: Outbox, head: FramePart, middle: FramePart, tail: FramePart): boolean {
    if (!this.open(box)) return false;
    box.parts.push(head, middle, tail);
    this.queued(box, 3, lengthOf(head) + lengthOf(middle) + lengthOf(tail));
    return true;
  }

  private open(box: Outbox): boolean {
    if (box.ws.readyState !== WebSocket.OPEN) return false;
    if (box.frames.length === 0 && this.pending.push(box) === 1) setImmediate(this.flushAll);
    return true;
  }

  private queued(box: Outbox, parts: number, length: number): void {
    box.frames.push(parts, length);
    box.queuedBytes += headerLength(length) + length;
  }

  /** Writes a socket's queued frames now (before closing it on purpose: they precede the Close). */
  flush(box: Outbox): void {
    if (box.frames.length === 0) return;
    const socket = (box.ws as unknown as { _socket: Duplex | null })._socket;
    if (box.ws.readyState === WebSocket.OPEN && socket !== null) {
      const buffer = Buffer.allocUnsafe(box.queuedBytes);
      const { parts, frames } = box;
      let at = 0;
      let part = 0;
      for (let f = 0; f < frames.length; f += 2) {
        const length = frames[f + 1]!;
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
        for (const end = part + frames[f]!; part < end; part++) {
          const piece = parts[part]!;
          if (typeof piece === 'string') {
            at += buffer.write(piece, at, 'utf8');
          } else {
            buffer.set(piece, at);
            at += piece.length;
          }
        }
      }
      socket.write(buffer);
    }
    box.parts.length = 0;
    box.frames.length = 0;
    box.queuedBytes = 0;
  }

  private readonly flushAll = (): void => {
    // Frames queued while flushing (none today: writes do not call back synchronously) wait for the next turn.
    for (const box of this.pending.splice(0)) this.flush(box);
  };
}
