/**
 * A lean pipelined RESP2 connection of our own for the hot commands: the announce scripts' EVALSHA,
 * and (`command`) the SPUBLISH of WebTorrent signals between replicas and the redis-stream backend's
 * XADDs.
 *
 * Why hand-written (measured, see docs/performance.md and docs/drivers.md, "The announce's fast lane"): under
 * `npm run bench` the redis driver cost the tracker process about twice the memory driver's CPU per
 * announce, and the profile put most of the difference in ioredis' general machinery: a Command object
 * per call, Command.toWritable, its promise chain, its reply parser's copies, and the garbage of all of
 * that. Here a call is encoded straight into one reusable buffer (resp-writer.ts; all calls of one
 * event-loop turn go out in one socket write), replies are parsed straight from the read chunk
 * (resp-reader.ts: bulk strings as subarrays, no copies), and pending calls are a ring of slots
 * (pending-calls.ts: no object per call but the caller's promise). This file is the connection: its
 * handshake, when a batch is written, what a lost connection does to the calls in flight. Measured
 * again against ioredis given Buffer arguments and auto-pipelining:
 * docs/performance.md, "The fast lane against ioredis at its best".
 *
 * It does nothing unusual by itself: no retries, no redirections, no script loading, no reconnect
 * policy beyond "try again with a back-off". Whatever is unusual (not connected, an error reply such as
 * NOSCRIPT / MOVED / OOM / READONLY, the connection lost with calls in flight, too many in flight) makes
 * the call fail with LaneFallback, and the caller takes the ordinary ioredis path for that call. Only a
 * call's deadline passing is final (a timeout, as ioredis' commandTimeout would be).
 */
import { connect, type Socket } from 'node:net';
import { PendingCalls } from './pending-calls.js';
import { ErrorReply, INCOMPLETE, RespReader, type RespValue } from './resp-reader.js';
import { RespWriter, type TaggedKeys } from './resp-writer.js';

export type { RespValue } from './resp-reader.js';
export type { TaggedKeys } from './resp-writer.js';

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

  private readonly calls: PendingCalls;
  /** This turn's batch of encoded calls. */
  private readonly writer: RespWriter;
  private readonly reader = new RespReader();
  private flushScheduled = false;
  /** Calls encoded in the batch, not yet written: `calls.count - batchCalls` are on the wire, awaiting replies. */
  private batchCalls = 0;
  /** A batch held back while the one before it is answered (scheduleFlush), written at the latest then. */
  private holdTimer: NodeJS.Timeout | null = null;
  private readonly flush = (): void => this.writeBatch();
  private readonly onData = (chunk: Buffer): void => this.read(chunk);

  constructor(
    private readonly target: LaneTarget,
    timeout: () => Error,
    private readonly limits: LaneLimits = DEFAULT_LANE_LIMITS,
    /** Told of connection problems (throttled by the caller). */
    private readonly onProblem: (error: Error) => void = () => undefined,
  ) {
    this.calls = new PendingCalls(limits.maxPending, timeout);
    this.writer = new RespWriter(limits.maxBatchBytes, this.flush);
    this.open();
  }

  /** Calls answered so far (not counting fallbacks and timeouts); the batcher adds the other announces of a batch. */
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
      this.writer.evalsha(sha, keys, argv);
    } catch (error) {
      throw this.dropForError(error);
    }
    this.scheduleFlush();
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
      this.writer.command(words);
    } catch (error) {
      throw this.dropForError(error);
    }
    this.scheduleFlush();
    return this.pending(deadline);
  }

  /** Ready, and room for one more call in flight and in the socket. */
  private canTake(): boolean {
    const socket = this.socket;
    return this.ready && socket !== null && !this.calls.full() && socket.writableLength <= this.limits.maxQueuedBytes;
  }

  /** An encoding failed: half a command may be in the batch, so this connection's stream is no good any more. */
  private dropForError(error: unknown): unknown {
    this.drop(new LaneFallback('closed', `redis fast lane: ${(error as Error).message}`));
    return error;
  }

  /** The promise of the call just encoded: its slot in the ring, in send order. */
  private pending(deadline: number): Promise<RespValue> {
    return new Promise<RespValue>((resolve, reject) => {
      this.calls.add(resolve, reject, deadline);
      this.batchCalls++;
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
    this.reader.reset();
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
      for (const command of handshake) this.writer.command(command);
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
    this.reader.reset();
    this.writer.clear();
    this.batchCalls = 0;
    this.cancelHold();
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    socket.off('data', this.onData);
    socket.destroy();
    this.calls.failAll(reason);
    if (!this.closed) {
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        if (!this.closed) this.open();
      }, reconnectDelay(++this.attempt));
      this.reconnectTimer.unref();
    }
  }

  // --- writing

  private writeBatch(): void {
    this.flushScheduled = false;
    this.cancelHold();
    this.batchCalls = 0;
    if (this.writer.length === 0 || this.socket === null) return;
    this.socket.write(this.writer.take());
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
    if (this.calls.count > this.batchCalls && this.limits.maxHoldMs > 0) {
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

  // --- reading

  private read(chunk: Buffer): void {
    const reader = this.reader;
    reader.feed(chunk);
    for (;;) {
      let value: RespValue | ErrorReply | typeof INCOMPLETE;
      try {
        value = reader.next();
      } catch (error) {
        this.onProblem(error as Error);
        this.drop(new LaneFallback('closed', `redis fast lane: ${(error as Error).message}`));
        return;
      }
      if (value === INCOMPLETE) break;
      this.deliver(value);
      if (this.socket === null) return;
    }
    if (reader.waiting() > this.limits.maxReplyBytes) {
      this.drop(new LaneFallback('closed', 'redis fast lane: reply too long'));
      return;
    }
    // Every call on the wire answered: a batch held for them goes now (scheduleFlush).
    if (this.holdTimer !== null && this.calls.count === this.batchCalls) this.writeBatch();
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
    if (this.calls.count === 0) {
      this.drop(new LaneFallback('closed', 'redis fast lane: a reply no call waits for'));
      return;
    }
    if (value instanceof ErrorReply) this.calls.rejectOldest(new LaneFallback('error_reply', value.message));
    else {
      this.answered++;
      this.calls.resolveOldest(value);
    }
  }
}
