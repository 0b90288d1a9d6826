/**
 * RESP2 replies parsed straight from the socket's chunks: bulk strings as subarrays of the chunk (no
 * copies), integers without a string in between. A reply cut across chunks waits, from its first byte,
 * for the next chunk.
 */

/** A RESP2 value as the lane answers it: integers as numbers, bulk and simple strings as Buffers, nil as null. */
export type RespValue = number | Buffer | null | RespValue[];

/** A RESP error reply, as a value while parsing. */
export class ErrorReply {
  constructor(readonly message: string) {}
}

/** No whole reply left in what was read: the rest waits for the next chunk. */
export const INCOMPLETE = Symbol('incomplete');

/** Deepest nesting of arrays in a reply (the announce script's reply is one flat array). */
const MAX_DEPTH = 4;
const CR = 13;
/** Every empty bulk string: nothing can be written into zero bytes. */
const EMPTY = Buffer.alloc(0);

export class RespReader {
  private data: Buffer = EMPTY;
  private at = 0;
  /** Unparsed bytes of the last chunk (a reply cut across reads). */
  private rest: Buffer | null = null;

  /** A chunk read from the socket, after what was left of the one before. */
  feed(chunk: Buffer): void {
    this.data = this.rest === null ? chunk : Buffer.concat([this.rest, chunk]);
    this.rest = null;
    this.at = 0;
  }

  /**
   * The next reply of what was fed, or INCOMPLETE when none is whole (what is left waits for the next
   * feed: waiting() bytes). Throws on bytes that are no RESP2 reply.
   */
  next(): RespValue | ErrorReply | typeof INCOMPLETE {
    const start = this.at;
    if (start >= this.data.length) {
      // Every reply of the chunk read: the chunk is no longer held here (only by the replies' subarrays).
      this.data = EMPTY;
      this.at = 0;
      return INCOMPLETE;
    }
    const value = this.value(0);
    if (value === INCOMPLETE) {
      this.rest = this.data.subarray(start);
      this.at = this.data.length;
    }
    return value;
  }

  /** Bytes of a reply begun and not yet whole. */
  waiting(): number {
    return this.rest === null ? 0 : this.rest.length;
  }

  /** Forgets what was read (its connection is gone). */
  reset(): void {
    this.data = EMPTY;
    this.at = 0;
    this.rest = null;
  }

  private value(depth: number): RespValue | ErrorReply | typeof INCOMPLETE {
    const data = this.data;
    if (this.at >= data.length) return INCOMPLETE;
    const type = data[this.at]!;
    const lineEnd = data.indexOf(CR, this.at + 1);
    if (lineEnd < 0 || lineEnd + 1 >= data.length) return INCOMPLETE;
    const lineStart = this.at + 1;
    this.at = lineEnd + 2;
    switch (type) {
      case 58 /* : */:
        return integer(data, lineStart, lineEnd);
      case 36 /* $ */: {
        const length = integer(data, lineStart, lineEnd);
        if (length < 0) return null;
        if (this.at + length + 2 > data.length) return INCOMPLETE;
        if (length === 0) {
          // The announce's usual empty strings (no IPv6 peers, no refusal): one shared Buffer, not one each.
          this.at += 2;
          return EMPTY;
        }
        const value = data.subarray(this.at, this.at + length);
        this.at += length + 2;
        return value;
      }
      case 42 /* * */: {
        const length = integer(data, lineStart, lineEnd);
        if (length < 0) return null;
        if (depth >= MAX_DEPTH) throw new Error('reply nested too deep');
        const values: RespValue[] = new Array<RespValue>(length);
        let error: ErrorReply | null = null;
        for (let i = 0; i < length; i++) {
          const element = this.value(depth + 1);
          if (element === INCOMPLETE) return INCOMPLETE;
          // An error inside an array (a script returning a table with an error in it): the whole reply
          // is that error, once every element is read.
          if (element instanceof ErrorReply) error ??= element;
          else values[i] = element;
        }
        return error ?? values;
      }
      case 43 /* + */:
        return data.subarray(lineStart, lineEnd);
      case 45 /* - */:
        return new ErrorReply(data.toString('utf8', lineStart, lineEnd));
      default:
        throw new Error(`not a RESP2 reply (type byte ${type})`);
    }
  }
}

/** A RESP integer between `from` and `to`, without a string in between. */
function integer(data: Buffer, from: number, to: number): number {
  let i = from;
  let sign = 1;
  if (data[i] === 45 /* - */) {
    sign = -1;
    i++;
  }
  if (i === to || to - i > 17) throw new Error('malformed integer in reply');
  let n = 0;
  for (; i < to; i++) {
    const digit = data[i]! - 48;
    if (digit < 0 || digit > 9) throw new Error('malformed integer in reply');
    n = n * 10 + digit;
  }
  return sign * n;
}
