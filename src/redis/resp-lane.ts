/**
 * A lean pipelined RESP2 connection of our own for the hot commands: the announce script's EVALSHA,
 * and (`command`) the SPUBLISH of WebTorrent signals between replicas.
 *
 * Why hand-written (measured, see docs/performance.md and docs/drivers.md, "The announce's fast lane"): under
 * `npm run bench` the redis driver cost the tracker process about twice the memory driver's CPU per
 * announce, and the profile put most of the difference in ioredis' general machinery: a Command object
 * per call, Command.toWritable, its promise chain, its reply parser's copies, and the garbage of all of
 * that. Here a call is encoded straight into one reusable buffer (all calls of one event-loop turn go
 * out in one socket write), replies are parsed straight from the read chunk (bulk strings as subarrays,
 * no copies), and pending calls are a ring of slots (no object per call but the caller's promise).
 *
 * It does nothing unusual by itself: no retries, no redirections, no script loading, no reconnect
 * policy beyond "try again with a back-off". Whatever is unusual (not connected, an error reply such as
 * NOSCRIPT / MOVED / OOM / READONLY, the connection lost with calls in flight, too many in flight) makes
 * the call fail with LaneFallback, and the caller takes the ordinary ioredis path for that call. Only a
 * call's deadline passing is final (a timeout, as ioredis' commandTimeout would be).
 */
import { connect, type Socket } from 'node:net';

/** Where the lane connects, and as whom (AUTH, SELECT): what the ioredis client it shadows uses. */
export interface LaneTarget {
  host?: string;
  port?: number;
  /** A unix socket, instead of host and port. */
  path?: string;
  username?: string | null;
  password?: string | null;
  /** SELECT this database after connecting; 0 (or none): not sent. */
  db?: number | null;
}

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

/** A RESP2 value as the lane answers it: integers as numbers, bulk and simple strings as Buffers, nil as null. */
export type RespValue = number | Buffer | null | RespValue[];

/**
 * The lane could not answer this call, and its command did not run, or ran on a connection now lost
 * (the ordinary path's retry after a connection error has the same effect): take the ordinary path.
 */
export class LaneFallback extends Error {
  constructor(
    readonly reason: 'closed' | 'error_reply',
    message: string,
  ) {
    super(message);
  }
}

export interface LaneLimits {
  /** Calls in flight at most; beyond, call() answers null (the caller takes the ordinary path). */
  maxPending: number;
  /** Bytes of one turn's batch at most before it is written at once. */
  maxBatchBytes: number;
  /** Bytes queued in the socket at most (Redis not reading); beyond, call() answers null. */
  maxQueuedBytes: number;
  /** Bytes of one reply at most: a longer one is a protocol error (the connection is dropped). */
  maxReplyBytes: number;
  /** Milliseconds to connect and authenticate. */
  connectTimeout: number;
  /**
   * Milliseconds a batch may wait for the replies of the one before it (0: every turn's batch is
   * written at once). See scheduleFlush.
   */
  maxHoldMs: number;
}

export const DEFAULT_LANE_LIMITS: LaneLimits = {
  maxPending: 16_384,
  maxBatchBytes: 1 << 20,
  maxQueuedBytes: 8 << 20,
  maxReplyBytes: 64 << 20,
  connectTimeout: 2000,
  maxHoldMs: 1,
};

/** Reconnect back-off: as the ioredis clients' (src/redis/connection.ts), up to one attempt a second. */
const reconnectDelay = (attempt: number): number => Math.min(50 * attempt, 1000);
/** Deepest nesting of arrays in a reply (the announce script's reply is one flat array). */
const MAX_DEPTH = 4;
const CR = 13;
const INCOMPLETE = Symbol('incomplete');
/** Every empty bulk string: nothing can be written into zero bytes. */
const EMPTY = Buffer.alloc(0);

type Resolve = (value: RespValue) => void;
type Reject = (error: Error) => void;

/** A RESP error reply, as a value while parsing. */
class ErrorReply {
  constructor(readonly message: string) {}
}

export class RespLane {
  private socket: Socket | null = null;
  /** Connected, authenticated and selected: calls may go. */
  private ready = false;
  /** Replies still expected for the handshake (AUTH, SELECT) before the first call's. */
  private handshakeLeft = 0;
  private closed = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;

  // Pending calls: a ring of slots in send order (replies come in the same order). A slot whose
  // deadline passed keeps its place with no resolver: its reply, when it comes, is dropped.
  private readonly resolves: Array<Resolve | null>;
  private readonly rejects: Array<Reject | null>;
  private readonly deadlines: Float64Array;
  private head = 0;
  private count = 0;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private readonly onDeadline = (): void => this.expireDue();

  // This turn's batch of encoded calls.
  private batch: Buffer;
  private batchLength = 0;
  private flushScheduled = false;
  /** Calls encoded in `batch`, not yet written: `count - batchCalls` are on the wire, awaiting replies. */
  private batchCalls = 0;
  /** A batch held back while the one before it is answered (scheduleFlush), written at the latest then. */
  private holdTimer: NodeJS.Timeout | null = null;
  private readonly flush = (): void => this.writeBatch();

  /** "EVALSHA <sha>" as encoded, of the last sha called. */
  private shaPrefix = Buffer.alloc(0);
  private shaOfPrefix = '';

  /** Unparsed bytes of the last read (a reply cut across reads). */
  private rest: Buffer | null = null;
  private readonly onData = (chunk: Buffer): void => this.read(chunk);

  constructor(
    private readonly target: LaneTarget,
    private readonly timeout: () => Error,
    private readonly limits: LaneLimits = DEFAULT_LANE_LIMITS,
    /** Told of connection problems (throttled by the caller). */
    private readonly onProblem: (error: Error) => void = () => undefined,
  ) {
    this.resolves = new Array<Resolve | null>(limits.maxPending).fill(null);
    this.rejects = new Array<Reject | null>(limits.maxPending).fill(null);
    this.deadlines = new Float64Array(limits.maxPending);
    this.batch = Buffer.allocUnsafe(16 * 1024);
    this.open();
  }

  /** Calls answered so far (not counting fallbacks and timeouts). */
  answered = 0;

  /** Whether calls go through the lane now. */
  isReady(): boolean {
    return this.ready;
  }

  /** The address this lane connects to, as "host:port" or the socket path. */
  address(): string {
    return this.target.path ?? `${this.target.host}:${this.target.port}`;
  }

  /**
   * EVALSHA `sha` with `keyCount` keys, then the rest of `args` as ARGV. null: the lane cannot take the
   * call now (not ready, too much in flight): take the ordinary path. The promise rejects with
   * LaneFallback (take the ordinary path), or with the timeout error once `deadline` (a Date.now()
   * time) has passed.
   */
  evalsha(sha: string, keys: readonly string[] | TaggedKeys, argv: ReadonlyArray<string | Buffer>, deadline: number): Promise<RespValue> | null {
    if (!this.canTake()) return null;
    try {
      this.encode(sha, keys, argv);
    } catch (error) {
      throw this.dropForError(error);
    }
    return this.pending(deadline);
  }

  /**
   * Any other command, its words as given (the WebTorrent signals' SPUBLISH), answered as evalsha's
   * calls are: null when the lane cannot take it now, LaneFallback when it did not run or, reason
   * 'closed', may have run on a connection now lost.
   */
  command(words: ReadonlyArray<string | Buffer>, deadline: number): Promise<RespValue> | null {
    if (!this.canTake()) return null;
    try {
      this.reserve(16);
      this.batchLength = writeHeader(this.batch, this.batchLength, 42 /* * */, words.length);
      for (let i = 0; i < words.length; i++) this.encodeArg(words[i]!);
      this.scheduleFlush();
    } catch (error) {
      throw this.dropForError(error);
    }
    return this.pending(deadline);
  }

  /** Ready, and room for one more call in flight and in the socket. */
  private canTake(): boolean {
    const socket = this.socket;
    return this.ready && socket !== null && this.count < this.limits.maxPending && socket.writableLength <= this.limits.maxQueuedBytes;
  }

  /** An encoding failed: half a command may be in the batch, so this connection's stream is no good any more. */
  private dropForError(error: unknown): unknown {
    this.drop(new LaneFallback('closed', `redis fast lane: ${(error as Error).message}`));
    return error;
  }

  /** The promise of the call just encoded: its slot in the ring, in send order. */
  private pending(deadline: number): Promise<RespValue> {
    return new Promise<RespValue>((resolve, reject) => {
      const slot = (this.head + this.count) % this.limits.maxPending;
      this.resolves[slot] = resolve;
      this.rejects[slot] = reject;
      this.deadlines[slot] = deadline;
      this.count++;
      this.batchCalls++;
      if (this.deadlineTimer === null) this.armDeadline(deadline);
    });
  }

  /** Closes the connection for good; calls in flight fall back. */
  close(): void {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.drop(new LaneFallback('closed', 'redis fast lane closed'));
  }

  private open(): void {
    const { host, port, path, username, password, db } = this.target;
    const socket = path ? connect({ path }) : connect({ host: host ?? '127.0.0.1', port: port ?? 6379 });
    socket.setNoDelay(true);
    this.socket = socket;
    this.rest = null;
    this.connectTimer = setTimeout(() => this.drop(new LaneFallback('closed', 'redis fast lane: connect timed out')), this.limits.connectTimeout);
    this.connectTimer.unref();
    socket.on('data', this.onData);
    socket.on('error', (error) => {
      if (this.socket !== socket) return;
      this.onProblem(error);
      this.drop(new LaneFallback('closed', `redis fast lane: ${error.message}`));
    });
    socket.on('close', () => {
      if (this.socket === socket) this.drop(new LaneFallback('closed', 'redis fast lane: connection closed'));
    });
    socket.on('connect', () => {
      // The handshake goes first; its replies come before any call's.
      const handshake: Array<Array<string>> = [];
      // (ioredis' options hold null where nothing was given.)
      if (password) handshake.push(username ? ['AUTH', username, password] : ['AUTH', password]);
      if (db) handshake.push(['SELECT', String(db)]);
      this.handshakeLeft = handshake.length;
      for (const command of handshake) this.encodeCommand(command);
      if (handshake.length === 0) this.becomeReady();
      else this.writeBatch();
    });
  }

  private becomeReady(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.attempt = 0;
    this.ready = true;
  }

  /** The connection is gone (or given up): every call in flight falls back; reconnect unless closed. */
  private drop(reason: LaneFallback): void {
    const socket = this.socket;
    if (socket === null) return;
    this.socket = null;
    this.ready = false;
    this.handshakeLeft = 0;
    this.rest = null;
    this.batchLength = 0;
    this.batchCalls = 0;
    this.cancelHold();
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    socket.off('data', this.onData);
    socket.destroy();
    while (this.count > 0) {
      const reject = this.rejects[this.head];
      this.release(this.head);
      reject?.(reason);
    }
    this.disarmDeadline();
    if (!this.closed) {
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        if (!this.closed) this.open();
      }, reconnectDelay(++this.attempt));
      this.reconnectTimer.unref();
    }
  }

  private release(slot: number): void {
    this.resolves[slot] = null;
    this.rejects[slot] = null;
    this.head = (this.head + 1) % this.limits.maxPending;
    this.count--;
  }

  // --- deadlines: slots are in send order and every call of a lane gets the same timeout, so the
  // head's deadline is the earliest; one timer, re-armed for the new head when it fires.

  private armDeadline(at: number): void {
    this.deadlineTimer = setTimeout(this.onDeadline, Math.max(0, at - Date.now()));
    this.deadlineTimer.unref();
  }

  private disarmDeadline(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
  }

  private expireDue(): void {
    this.deadlineTimer = null;
    const now = Date.now();
    const size = this.limits.maxPending;
    // Expired slots stay (their replies are still to come), with no one to tell.
    let next = Infinity;
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) % size;
      const reject = this.rejects[slot];
      if (!reject) continue;
      if (this.deadlines[slot]! > now) {
        next = this.deadlines[slot]!;
        break;
      }
      this.resolves[slot] = null;
      this.rejects[slot] = null;
      reject(this.timeout());
    }
    if (next !== Infinity) this.armDeadline(next);
  }

  // --- writing

  private reserve(bytes: number): void {
    if (this.batchLength + bytes <= this.batch.length) return;
    if (this.batchLength > 0 && this.batchLength + bytes > this.limits.maxBatchBytes) this.writeBatch();
    if (this.batchLength + bytes > this.batch.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.batchLength + bytes, this.batch.length * 2));
      this.batch.copy(bigger, 0, 0, this.batchLength);
      this.batch = bigger;
    }
  }

  private writeBatch(): void {
    this.flushScheduled = false;
    this.cancelHold();
    this.batchCalls = 0;
    if (this.batchLength === 0 || this.socket === null) return;
    // A copy: the batch buffer is reused for the next turn while the socket may still hold this one.
    this.socket.write(Buffer.from(this.batch.subarray(0, this.batchLength)));
    this.batchLength = 0;
    // A batch grown by a burst goes back to its usual size.
    if (this.batch.length > 64 * 1024) this.batch = Buffer.allocUnsafe(16 * 1024);
  }

  /**
   * Nothing on the wire: the batch goes after this turn's I/O callbacks (every announce parsed in the
   * same turn in one write). Calls on the wire still unanswered: the batch waits for their replies
   * (read() writes it when the last arrives) or `maxHoldMs`, whichever comes first, as Nagle's
   * algorithm does. Why: under load, a write and a read per turn's one or two announces cost the
   * tracker more kernel time than the announces themselves, and Redis pays the same per batch
   * (measured: docs/performance.md, "Hand-written hot paths"); an idle tracker adds no latency, a busy one at most maxHoldMs.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    if (this.count > this.batchCalls && this.limits.maxHoldMs > 0) {
      this.holdTimer = setTimeout(this.flush, this.limits.maxHoldMs);
    } else setImmediate(this.flush);
  }

  /** The held batch's timer cancelled; the next call schedules a flush again (else a dropped connection's would leave none). */
  private cancelHold(): void {
    if (this.holdTimer === null) return;
    clearTimeout(this.holdTimer);
    this.holdTimer = null;
    this.flushScheduled = false;
  }

  private encodeCommand(words: string[]): void {
    this.reserve(16);
    this.batchLength = writeHeader(this.batch, this.batchLength, 42 /* * */, words.length);
    for (const word of words) this.encodeArg(word);
  }

  private encode(sha: string, keys: readonly string[] | TaggedKeys, argv: ReadonlyArray<string | Buffer>): void {
    const tagged = !isKeyList(keys);
    const keyCount = tagged ? keys.tails.length : keys.length;
    this.reserve(64);
    this.batchLength = writeHeader(this.batch, this.batchLength, 42 /* * */, 3 + keyCount + argv.length);
    if (sha !== this.shaOfPrefix) {
      this.shaPrefix = Buffer.from(`$7\r\nEVALSHA\r\n$${Buffer.byteLength(sha)}\r\n${sha}\r\n`, 'utf8');
      this.shaOfPrefix = sha;
    }
    this.reserve(this.shaPrefix.length + 16);
    this.batchLength = copySmall(this.shaPrefix, this.batch, this.batchLength);
    this.batchLength = writeHeader(this.batch, this.batchLength, 36 /* $ */, digits(keyCount));
    this.batchLength = writeDecimal(this.batch, this.batchLength, keyCount);
    this.batch[this.batchLength++] = CR;
    this.batch[this.batchLength++] = 10;
    if (tagged) this.encodeTaggedKeys(keys);
    else for (let i = 0; i < keyCount; i++) this.encodeArg(keys[i]!);
    for (let i = 0; i < argv.length; i++) this.encodeArg(argv[i]!);
    this.scheduleFlush();
  }

  /**
   * All of a call's tagged keys, room for them reserved at once (no batch written in between), so the
   * tag's hex is computed for the first key only and copied for the others (six keys an announce)
   * (measured: docs/performance.md, "Hand-written hot paths").
   */
  private encodeTaggedKeys({ head, tag, tails }: TaggedKeys): void {
    const braced = 2 * tag.length + 3; // {hex}:
    let total = 0;
    for (let i = 0; i < tails.length; i++) total += head.length + braced + tails[i]!.length + 16;
    this.reserve(total);
    const out = this.batch;
    let at = this.batchLength;
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
    this.batchLength = at;
  }

  private encodeArg(arg: string | Buffer): void {
    const length = typeof arg === 'string' ? Buffer.byteLength(arg, 'utf8') : arg.length;
    this.reserve(length + 16);
    let at = writeHeader(this.batch, this.batchLength, 36 /* $ */, length);
    if (typeof arg === 'string') at += this.batch.write(arg, at, 'utf8');
    else at = copySmall(arg, this.batch, at);
    this.batch[at++] = CR;
    this.batch[at++] = 10;
    this.batchLength = at;
  }

  // --- reading

  private read(chunk: Buffer): void {
    let data = chunk;
    if (this.rest !== null) {
      data = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    const parser = new Cursor(data);
    while (parser.at < data.length) {
      const start = parser.at;
      let value: RespValue | ErrorReply | typeof INCOMPLETE;
      try {
        value = parser.value(0);
      } catch (error) {
        this.onProblem(error as Error);
        this.drop(new LaneFallback('closed', `redis fast lane: ${(error as Error).message}`));
        return;
      }
      if (value === INCOMPLETE) {
        if (data.length - start > this.limits.maxReplyBytes) {
          this.drop(new LaneFallback('closed', 'redis fast lane: reply too long'));
          return;
        }
        this.rest = data.subarray(start);
        return;
      }
      this.deliver(value);
      if (this.socket === null) return;
    }
    // Every call on the wire answered: a batch held for them goes now (scheduleFlush).
    if (this.holdTimer !== null && this.count === this.batchCalls) this.writeBatch();
  }

  private deliver(value: RespValue | ErrorReply): void {
    if (this.handshakeLeft > 0) {
      this.handshakeLeft--;
      if (value instanceof ErrorReply) {
        const error = new Error(`redis fast lane: handshake refused: ${value.message}`);
        this.onProblem(error);
        this.drop(new LaneFallback('closed', error.message));
      } else if (this.handshakeLeft === 0) this.becomeReady();
      return;
    }
    if (this.count === 0) {
      this.drop(new LaneFallback('closed', 'redis fast lane: a reply no call waits for'));
      return;
    }
    const slot = this.head;
    const resolve = this.resolves[slot];
    const reject = this.rejects[slot];
    this.release(slot);
    if (this.count === 0) this.disarmDeadline();
    if (value instanceof ErrorReply) reject?.(new LaneFallback('error_reply', value.message));
    else {
      this.answered++;
      resolve?.(value);
    }
  }
}

const HEX = Buffer.from('0123456789abcdef', 'latin1');

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

const isKeyList = (keys: readonly string[] | TaggedKeys): keys is readonly string[] => Array.isArray(keys);

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

/** Reads RESP2 values from one buffer; INCOMPLETE when the buffer ends inside one. */
class Cursor {
  at = 0;

  constructor(private readonly data: Buffer) {}

  value(depth: number): RespValue | ErrorReply | typeof INCOMPLETE {
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
