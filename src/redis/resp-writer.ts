/**
 * RESP2 requests encoded straight into one reusable buffer: the fast lane's batch of one event-loop turn
 * (resp-lane.ts writes it to the socket in one write). No key strings, no Command objects, no copies but
 * the bytes themselves (measured: docs/performance.md, "Hand-written hot paths").
 */

/**
 * Keys that share a Cluster hash tag, `<head>{<hex of tag>}:<tail>` each, written straight into the
 * request (no key strings, no hex string) (measured: docs/performance.md, "Hand-written hot paths").
 */
export interface TaggedKeys {
  head: Buffer;
  /** Raw bytes; the key holds their lowercase hex. */
  tag: Buffer;
  tails: readonly Buffer[];
}

export const isKeyList = (keys: readonly string[] | TaggedKeys): keys is readonly string[] => Array.isArray(keys);

const CR = 13;
const HEX = Buffer.from('0123456789abcdef', 'latin1');
/** The batch buffer's usual size; above it, take() hands the buffer over instead of copying it. */
const USUAL_SIZE = 16 * 1024;

export class RespWriter {
  private batch = Buffer.allocUnsafe(USUAL_SIZE);
  /** Bytes of the batch encoded so far. */
  length = 0;

  /** "EVALSHA <sha>" as encoded, of the last sha called. */
  private shaPrefix = Buffer.alloc(0);
  private shaOfPrefix = '';

  constructor(
    /** Bytes of one batch at most before `full` is told (it writes the batch out, take()). */
    private readonly maxBatchBytes: number,
    private readonly full: () => void,
  ) {}

  /**
   * The batch's bytes; the batch is empty after. A small batch is copied out (the buffer is reused for the
   * next turn while the socket may hold these); a large one (a redis-stream flush of hundreds of XADDs) is
   * handed over as it is, and the next batch gets a new buffer of the same size, at most maxBatchBytes:
   * copying it, and growing a small buffer again for the next one, cost more than the allocation.
   */
  take(): Buffer {
    if (this.length > USUAL_SIZE) {
      const bytes = this.batch.subarray(0, this.length);
      this.batch = Buffer.allocUnsafe(Math.max(USUAL_SIZE, Math.min(this.batch.length, this.maxBatchBytes)));
      this.length = 0;
      return bytes;
    }
    const bytes = Buffer.from(this.batch.subarray(0, this.length));
    this.length = 0;
    if (this.batch.length > 4 * USUAL_SIZE) this.batch = Buffer.allocUnsafe(USUAL_SIZE);
    return bytes;
  }

  /** Forgets what the batch holds (its connection is gone). */
  clear(): void {
    this.length = 0;
  }

  /** A command of these words. */
  command(words: ReadonlyArray<string | Buffer>): void {
    this.reserve(16);
    this.length = writeHeader(this.batch, this.length, 42 /* * */, words.length);
    for (let i = 0; i < words.length; i++) this.arg(words[i]!);
  }

  /** EVALSHA `sha` with `keys`, then `argv` as ARGV. */
  evalsha(sha: string, keys: readonly string[] | TaggedKeys, argv: ReadonlyArray<string | Buffer>): void {
    const tagged = !isKeyList(keys);
    const keyCount = tagged ? keys.tails.length : keys.length;
    this.reserve(64);
    this.length = writeHeader(this.batch, this.length, 42 /* * */, 3 + keyCount + argv.length);
    if (sha !== this.shaOfPrefix) {
      this.shaPrefix = Buffer.from(`$7\r\nEVALSHA\r\n$${Buffer.byteLength(sha)}\r\n${sha}\r\n`, 'utf8');
      this.shaOfPrefix = sha;
    }
    this.reserve(this.shaPrefix.length + 16);
    this.length = copySmall(this.shaPrefix, this.batch, this.length);
    this.length = writeHeader(this.batch, this.length, 36 /* $ */, digits(keyCount));
    this.length = writeDecimal(this.batch, this.length, keyCount);
    this.batch[this.length++] = CR;
    this.batch[this.length++] = 10;
    if (tagged) this.taggedKeys(keys);
    else for (let i = 0; i < keyCount; i++) this.arg(keys[i]!);
    for (let i = 0; i < argv.length; i++) this.arg(argv[i]!);
  }

  /** Room for `bytes` more: the batch written out first past maxBatchBytes, the buffer grown if need be. */
  private reserve(bytes: number): void {
    if (this.length + bytes <= this.batch.length) return;
    if (this.length > 0 && this.length + bytes > this.maxBatchBytes) this.full();
    if (this.length + bytes > this.batch.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.length + bytes, this.batch.length * 2));
      this.batch.copy(bigger, 0, 0, this.length);
      this.batch = bigger;
    }
  }

  /**
   * All of a call's tagged keys, room for them reserved at once (no batch written in between), so the
   * tag's hex is computed for the first key only and copied for the others (six keys an announce)
   * (measured: docs/performance.md, "Hand-written hot paths").
   */
  private taggedKeys({ head, tag, tails }: TaggedKeys): void {
    const braced = 2 * tag.length + 3; // {hex}:
    let total = 0;
    for (let i = 0; i < tails.length; i++) total += head.length + braced + tails[i]!.length + 16;
    this.reserve(total);
    const out = this.batch;
    let at = this.length;
    let hexAt = -1;
    for (let i = 0; i < tails.length; i++) {
      const tail = tails[i]!;
      at = writeHeader(out, at, 36 /* $ */, head.length + braced + tail.length);
      at = copySmall(head, out, at);
      if (hexAt < 0) {
        hexAt = at;
        out[at++] = 123; // {
        for (let j = 0; j < tag.length; j++) {
          const byte = tag[j]!;
          out[at++] = HEX[byte >> 4]!;
          out[at++] = HEX[byte & 15]!;
        }
        out[at++] = 125; // }
        out[at++] = 58; // :
      } else {
        for (let j = 0; j < braced; j++) out[at + j] = out[hexAt + j]!;
        at += braced;
      }
      at = copySmall(tail, out, at);
      out[at++] = CR;
      out[at++] = 10;
    }
    this.length = at;
  }

  private arg(arg: string | Buffer): void {
    if (typeof arg === 'string' && arg.length <= SHORT_STRING && this.ascii(arg)) return;
    const length = typeof arg === 'string' ? Buffer.byteLength(arg, 'utf8') : arg.length;
    this.reserve(length + 16);
    let at = writeHeader(this.batch, this.length, 36 /* $ */, length);
    if (typeof arg === 'string') at += this.batch.write(arg, at, 'utf8');
    else at = copySmall(arg, this.batch, at);
    this.batch[at++] = CR;
    this.batch[at++] = 10;
    this.length = at;
  }

  /**
   * A short string written a byte per character, when all of them are ASCII (a stream entry's field names,
   * numbers and hex): two calls into C++ (byteLength, write) cost more than the loop. False, and nothing
   * kept, at the first character that is not ASCII.
   */
  private ascii(arg: string): boolean {
    const length = arg.length;
    this.reserve(length + 16);
    const out = this.batch;
    let at = writeHeader(out, this.length, 36 /* $ */, length);
    for (let i = 0; i < length; i++) {
      const code = arg.charCodeAt(i);
      if (code > 127) return false;
      out[at++] = code;
    }
    out[at++] = CR;
    out[at++] = 10;
    this.length = at;
    return true;
  }
}

/** Strings up to this many characters are tried as ASCII, a byte per character, by a loop in JS. */
const SHORT_STRING = 64;

/**
 * `from` into `out` at `at`; answers the offset after it. A byte loop for the short arguments of an
 * announce: Buffer.copy's call into C++ costs more than the copy (measured: docs/performance.md, "Hand-written hot paths").
 */
function copySmall(from: Buffer, out: Buffer, at: number): number {
  const length = from.length;
  if (length > 64) return at + from.copy(out, at);
  for (let i = 0; i < length; i++) out[at + i] = from[i]!;
  return at + length;
}

/** Decimal digits of a non-negative integer. */
function digits(n: number): number {
  let count = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    count++;
  }
  return count;
}

/** A non-negative integer in decimal at `at` (no string in between); answers the offset after it. */
function writeDecimal(out: Buffer, at: number, n: number): number {
  const end = at + digits(n);
  let i = end;
  do {
    out[--i] = 48 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  return end;
}

/** `<type><n>\r\n` at `at`; answers the offset after it. */
function writeHeader(out: Buffer, at: number, type: number, n: number): number {
  out[at++] = type;
  at = writeDecimal(out, at, n);
  out[at++] = CR;
  out[at++] = 10;
  return at;
}
