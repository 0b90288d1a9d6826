/**
 * The `redis-stream` backend driver: accounting records are buffered in memory and written in batches
 * to a Redis Stream (pipelined XADD, one entry per record), which the reference consumer (or the
 * site's own) applies to its database. Records stay in the buffer, in order, until Redis has taken
 * them, so a Redis outage costs memory up to `buffer_limit`, then backpressure or the oldest records,
 * as the overflow policy says; never unbounded memory.
 */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { BackendMetrics } from '../../metrics/metrics.js';
import { connectRedis, type RedisClient } from '../../redis/connection.js';
import type { AccountingRecord, Backend, BackendDriver } from '../driver.js';
import { retryDelay } from '../../redis/backoff.js';
import type { RespLane, RespValue } from '../../redis/resp-lane.js';
import { LaneRouter } from '../../redis/lane-router.js';
import { timedOut } from '../../redis/timed-out.js';
import { throttledErrorLog } from '../../common/log.js';
import { toFields } from './entry.js';
import { StreamLagMonitor } from './lag.js';
import { parseStreamParams, type StreamParams } from './params.js';
import { Ring } from './ring.js';

/** Seconds a life marker outlives its replica: a replica that never comes back (a renamed pod) leaves none for ever. */
const LIFE_MARKER_TTL = 7 * 86400;

/** Milliseconds between polls of the stream's length and consumer lag: cheap, and fine enough for alerts. */
const LAG_POLL_INTERVAL = 15_000;

interface Blocked {
  fields: string[];
  resolve(): void;
  reject(error: Error): void;
  /** Gives the record up after block_timeout, so that an outage cannot hold announces forever. */
  timer: NodeJS.Timeout;
}

export class StreamBackend implements Backend {
  private readonly buffer: Ring<string[]>;
  /** Records that found the buffer full under the block policy, in arrival order. */
  private readonly blocked: Blocked[] = [];
  /** Called after every change of the buffer's front, for flush() to see its records go. */
  private readonly progressListeners = new Set<() => void>();
  private readonly trim: string[];
  private timer: NodeJS.Timeout | null = null;
  private loop: Promise<void> | null = null;
  /** Records with a sequence number below this are due now: their interval passed or flush() asked. */
  private dueSeq = 0;
  private failures = 0;
  private lastErrorLog = 0;
  private lastDropLog = 0;
  /** flush() and close() share one deadline, so a shutdown waits close_timeout in all, not per call. */
  private giveUpAt: number | null = null;
  private closing: Promise<void> | null = null;
  private readonly stop = new AbortController();
  private readonly lag: StreamLagMonitor | null;
  private lifeKey: string | null = null;
  private lifeValue = '';
  /**
   * The lean connections XADDs go on (measured: docs/performance.md, "The stream's XADDs on the fast
   * lane"); null when fast_lane is off. After a batch a lane could not write, the next goes through
   * ioredis, which follows redirections and reconnects as the lane does not.
   */
  private readonly lanes: LaneRouter | null;
  private laneFailed = false;
  private readonly xaddHead: string[];

  constructor(
    private readonly client: RedisClient,
    private readonly params: StreamParams,
    private readonly logger: Logger,
    private readonly metrics?: BackendMetrics,
  ) {
    this.buffer = new Ring(params.bufferLimit);
    this.trim = params.maxLen > 0 ? ['MAXLEN', '~', String(params.maxLen)] : [];
    this.xaddHead = ['XADD', params.stream, ...this.trim, '*'];
    this.lanes = params.fastLane
      ? new LaneRouter(client, timedOut, throttledErrorLog(logger, 'redis-stream fast lane connection error (reconnecting)', 5000))
      : null;
    this.lag = metrics ? new StreamLagMonitor(client, params.stream, metrics.stream, logger) : null;
    this.lag?.start(LAG_POLL_INTERVAL);
  }

  record(entry: AccountingRecord): void | Promise<void> {
    if (this.closing) throw new Error('the redis-stream backend is closed');
    this.metrics?.recorded();
    const fields = toFields(entry);
    // Behind records already waiting, a new one waits too, or it would overtake them.
    if (this.buffer.full || this.blocked.length > 0) {
      if (this.params.overflow === 'block') {
        // At most buffer_limit announces wait: beyond, waiting would only hold more memory.
        if (this.blocked.length >= this.params.bufferLimit) {
          this.metrics?.dropped();
          return;
        }
        this.metrics?.blocked();
        return new Promise<void>((resolve, reject) => {
          const waiting: Blocked = { fields, resolve, reject, timer: setTimeout(() => this.giveUp(waiting), this.params.blockTimeout) };
          this.blocked.push(waiting);
        });
      }
      this.buffer.shift();
      this.metrics?.dropped();
      this.progressed();
    }
    this.admit(fields);
    // A record of an event goes now, and the answer waits for it (bounded), so that a replica killed after
    // answering has lost nothing: no later record covers a stop or a completion (its snatch), and a
    // start is what makes the session known to the consumer (its marks then survive the tracker losing it).
    if (entry.event !== 'none' && this.params.eventWait > 0) {
      const seq = this.buffer.endSeq;
      this.dueSeq = Math.max(this.dueSeq, seq);
      this.kick();
      return this.waitFor(seq, this.params.eventWait).catch(() => {});
    }
  }

  /**
   * The marker of this replica's life in Redis: found at start, it tells that the previous life ended
   * without a clean shutdown (a SIGKILL, an OOM kill, a lost node), so its buffered records never reached
   * the stream; logged and counted. Set for this life, and removed by a clean close.
   */
  async markLife(replica: string): Promise<void> {
    const key = `${this.params.stream}:life:${replica}`;
    const value = JSON.stringify({ replica, host: hostname(), pid: process.pid, started: new Date().toISOString() });
    const previous = await this.client.set(key, value, 'EX', LIFE_MARKER_TTL, 'GET');
    this.lifeKey = key;
    this.lifeValue = value;
    if (previous) {
      this.metrics?.uncleanStop();
      this.logger.warn(
        { previous: JSON.parse(previous) as unknown, replica },
        "the previous life of this replica ended without a clean shutdown: the accounting records it had buffered (at most flush_interval of announces) never reached the stream; the consumer credits them from each session's next record",
      );
    }
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  flush(): Promise<void> {
    const target = this.buffer.endSeq + this.blocked.length;
    if (this.buffer.frontSeq >= target) return Promise.resolve();
    this.dueSeq = Math.max(this.dueSeq, target);
    this.giveUpAt ??= Date.now() + this.params.closeTimeout;
    this.kick();
    return this.waitFor(target, this.giveUpAt - Date.now()).then(() => {
      this.giveUpAt = null;
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.flush();
        await this.clearLife();
      } catch (error) {
        this.logger.error(
          { err: error, lost: this.buffer.length + this.blocked.length },
          'accounting records lost at shutdown: Redis did not take them within close_timeout',
        );
      }
      this.stop.abort();
      this.lag?.stop();
      this.lanes?.close();
      if (this.timer) clearTimeout(this.timer);
      for (const waiting of this.blocked.splice(0)) {
        clearTimeout(waiting.timer);
        waiting.reject(new Error('the redis-stream backend closed before there was room for this record'));
      }
      // Everything flushed has been acknowledged by Redis; anything still in flight is given up.
      this.client.disconnect();
    })();
    return this.closing;
  }

  /** Removes this life's marker, if it is still this life's: a clean stop lost nothing. */
  private async clearLife(): Promise<void> {
    if (!this.lifeKey) return;
    if ((await this.client.get(this.lifeKey)) === this.lifeValue) await this.client.del(this.lifeKey);
  }

  private admit(fields: string[]): void {
    this.buffer.push(fields);
    this.metrics?.depth(this.buffer.length);
    if (this.buffer.length >= this.params.batchSize) this.kick();
    if (!this.timer) this.armTimer();
  }

  /**
   * When it fires, every record buffered by then is due. It runs beside the loop, so that records
   * left behind by full batches still go within about flush_interval while the loop is busy.
   */
  private armTimer(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.dueSeq = Math.max(this.dueSeq, this.buffer.endSeq);
      this.kick();
    }, this.params.flushInterval);
  }

  /** Starts the flush loop unless it runs already (there is one writer, so batches stay in order). */
  private kick(): void {
    if (this.loop || this.stop.signal.aborted) return;
    this.loop = this.run().finally(() => {
      this.loop = null;
      if (this.buffer.length > 0 && !this.timer && !this.stop.signal.aborted) this.armTimer();
    });
  }

  private due(): boolean {
    return this.buffer.length >= this.params.batchSize || (this.buffer.length > 0 && this.buffer.frontSeq < this.dueSeq);
  }

  private async run(): Promise<void> {
    while (this.due() && !this.stop.signal.aborted) {
      if (await this.writeBatch()) {
        this.failures = 0;
        continue;
      }
      this.failures++;
      try {
        await sleep(retryDelay(this.failures), undefined, { signal: this.stop.signal });
      } catch {
        return; // closed
      }
    }
  }

  /** One pipelined XADD per record of the front batch; true when Redis took all of them. */
  private async writeBatch(): Promise<boolean> {
    let startSeq = this.buffer.frontSeq;
    let batch: string[][] = [];
    let written = 0;
    let failure: Error | null = null;
    try {
      await this.connected();
      // Taken only now: drop_oldest may have changed the front while this waited.
      startSeq = this.buffer.frontSeq;
      batch = this.buffer.peek(this.params.batchSize);
      const lane = this.laneFailed ? null : this.lanes?.pick([this.params.stream]);
      this.laneFailed = false;
      let results = lane ? await this.writeOnLane(lane, batch) : [];
      // No lane, or one that took nothing (no room): ioredis writes the batch.
      const onLane = results.length > 0;
      if (!onLane) results = (await this.writeOnClient(batch)) ?? [];
      // Only the leading run counts as written: a retry starts at the first failure, keeping the order.
      // An entry that made it after a failed one is written again; consumers skip ids they applied.
      while (written < results.length && !results[written]![0]) written++;
      if (written < results.length) {
        failure = results[written]![0];
        if (onLane) this.laneFailed = true;
      } else if (!onLane && written < batch.length) {
        failure = new Error('Redis answered fewer replies than commands');
      }
      this.metrics?.written(written, onLane);
    } catch (error) {
      failure = error as Error;
    }
    // drop_oldest may have taken records of this batch from the front meanwhile: they are gone already.
    const end = startSeq + written;
    while (this.buffer.length > 0 && this.buffer.frontSeq < end) this.buffer.shift();
    this.metrics?.flushed(failure === null);
    if (failure) this.logFailure(failure, batch.length - written);
    this.admitBlocked();
    this.metrics?.depth(this.buffer.length);
    this.progressed();
    return failure === null;
  }

  private writeOnClient(batch: string[][]): Promise<Array<[Error | null, unknown]> | null> {
    const pipeline = this.client.pipeline();
    for (const fields of batch) pipeline.xadd(this.params.stream, ...this.trim, '*', ...fields);
    return pipeline.exec();
  }

  /**
   * The batch's XADDs on a fast lane, as far as it takes them (a lane with no room left takes fewer:
   * the rest go in the next round, in order). Each result as ioredis' pipeline gives it.
   */
  private async writeOnLane(lane: RespLane, batch: string[][]): Promise<Array<[Error | null, unknown]>> {
    const deadline = Date.now() + this.params.commandTimeout;
    const calls: Array<Promise<RespValue>> = [];
    const head = this.xaddHead;
    for (const fields of batch) {
      const call = lane.command(head.concat(fields), deadline);
      if (call === null) break;
      calls.push(call);
    }
    const settled = await Promise.allSettled(calls);
    return settled.map((s) => (s.status === 'fulfilled' ? [null, s.value] : [s.reason as Error, null]));
  }

  /**
   * Waits up to command_timeout for the connection, as the offline queue would (see open()), but
   * before anything is sent, so that a batch that times out here is not sent later all the same.
   */
  private connected(): Promise<void> {
    if (this.client.status === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        this.stop.signal.removeEventListener('abort', onStop);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(
        () => done(new Error(`Redis not connected within command_timeout (${this.params.commandTimeout} ms)`)),
        this.params.commandTimeout,
      );
      const onReady = (): void => done();
      // close() must not leave this timer holding the process open.
      const onStop = (): void => done(new Error('the redis-stream backend closed'));
      this.client.once('ready', onReady);
      this.stop.signal.addEventListener('abort', onStop);
    });
  }

  private admitBlocked(): void {
    while (this.blocked.length > 0 && !this.buffer.full) {
      const waiting = this.blocked.shift()!;
      clearTimeout(waiting.timer);
      this.buffer.push(waiting.fields);
      waiting.resolve();
    }
  }

  /**
   * A record that waited block_timeout for room is dropped, counted and logged, and its announce is
   * answered: the swarm has taken it already, and a client held longer would only retry.
   */
  private giveUp(waiting: Blocked): void {
    const index = this.blocked.indexOf(waiting);
    if (index === -1) return;
    this.blocked.splice(index, 1);
    this.metrics?.dropped();
    const now = Date.now();
    if (now - this.lastDropLog >= 5000) {
      this.lastDropLog = now;
      this.logger.error({ waiting: this.blocked.length, buffered: this.buffer.length }, 'accounting record dropped: the buffer stayed full for block_timeout');
    }
    waiting.resolve();
    this.progressed();
  }

  private logFailure(error: Error, unwritten: number): void {
    const now = Date.now();
    if (now - this.lastErrorLog < 5000) return;
    this.lastErrorLog = now;
    this.logger.error(
      { err: error, unwritten, buffered: this.buffer.length, retry: this.failures + 1 },
      'writing accounting records to the Redis stream failed; retrying',
    );
  }

  private progressed(): void {
    for (const listener of [...this.progressListeners]) listener();
  }

  /** Resolves once every record below `seq` has left the buffer (written or dropped). */
  private waitFor(seq: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.buffer.frontSeq < seq) return;
        done();
        resolve();
      };
      const timer = setTimeout(
        () => {
          done();
          reject(
            new Error(`${seq - this.buffer.frontSeq} accounting records not written to the Redis stream within close_timeout (${this.params.closeTimeout} ms)`),
          );
        },
        Math.max(0, timeoutMs),
      );
      const done = (): void => {
        clearTimeout(timer);
        this.progressListeners.delete(check);
      };
      this.progressListeners.add(check);
      check();
    });
  }
}

export const streamDriver: BackendDriver = {
  wantsRecords: true,
  async open(raw, ctx) {
    const params = parseStreamParams(raw);
    // Like the tracker driver, opening never waits for Redis: records buffer until it is there. Without
    // the offline queue a write fails at once while Redis is away, instead of piling up copies of every
    // retried batch in ioredis, to be sent again on reconnect.
    const client = connectRedis(params, ctx.logger, { offlineQueue: false });
    const backend = new StreamBackend(client, params, ctx.logger, ctx.metrics);
    const replica = params.replica || hostname();
    void (async () => {
      // Off the start-up path: Redis may not be there yet; the marker is written once it is.
      for (let failures = 1; ; failures++) {
        try {
          await backend.markLife(replica);
          return;
        } catch {
          if (backend.closed) return;
          await sleep(retryDelay(failures));
        }
      }
    })();
    return backend;
  },
};
