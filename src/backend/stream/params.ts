/**
 * The `redis-stream` backend driver's parameters (`backend.params`). The reference consumer parses the
 * same object, so that both ends find the stream in the same place from one configuration.
 */
import { z } from 'zod';
import { boolParam, integerParam, parseParams, textParam } from '../../config/params.js';
import { checkRedisConnection, redisConnection, redisConnectionShape } from '../../redis/params.js';

export const StreamParamsSchema = z
  .strictObject({
    // Off the announce path: a slow Redis delays a flush, not a client, so the budget can be generous.
    ...redisConnectionShape({ default: 5000, doc: 'milliseconds before a Redis command fails (default 5000)' }),
    stream: textParam().min(1, { error: 'must not be empty' }).default('shoal:accounting').describe('key of the stream (default "shoal:accounting")'),
    batch_size: integerParam(1, 10_000).default(500).describe('records written in one pipelined flush; a full batch goes at once (default 500)'),
    flush_interval: integerParam(1, 60_000).default(1000).describe('milliseconds a record waits at most before it is written (default 1000)'),
    buffer_limit: integerParam(1, 10_000_000).default(100_000).describe('records held in memory at most, those being written included (default 100000)'),
    overflow: z
      .enum(['block', 'drop_oldest'], { error: 'must be "block" or "drop_oldest"' })
      .default('block')
      .describe('"block" (announces wait for room) or "drop_oldest" (the oldest buffered record is dropped) when the buffer is full (default "block")'),
    block_timeout: integerParam(1, 600_000)
      .default(10_000)
      .describe('overflow "block": milliseconds an announce waits for room before its record is dropped and counted (default 10000)'),
    max_len: integerParam(0, Number.MAX_SAFE_INTEGER).default(0).describe('approximate MAXLEN of every XADD, a safety valve only; 0 never trims (default 0)'),
    event_wait: integerParam(0, 60_000)
      .default(2000)
      .describe(
        'milliseconds the answer to a started, completed or stopped announce waits for its record to reach the stream (no later record of the session covers it if this replica dies); 0 never waits (default 2000)',
      ),
    replica: textParam()
      .max(128)
      .default('')
      .describe('this replica\'s stable name for its life marker in Redis (unclean stops are reported at the next start); "" means the host name (default "")'),
    fast_lane: boolParam()
      .default(true)
      .describe(
        "write the XADDs on a lean connection of the tracker's own (the one its announce scripts use) instead of through ioredis, which falls back for anything unusual; false: ioredis only (default true)",
      ),
    close_timeout: integerParam(0, 600_000)
      .default(5000)
      .describe('milliseconds flush and close wait for Redis at shutdown before giving up what is buffered (default 5000)'),
  })
  .superRefine(checkRedisConnection)
  .superRefine((params, ctx) => {
    if (params.buffer_limit < params.batch_size)
      ctx.addIssue({ code: 'custom', path: ['buffer_limit'], message: `must be at least batch_size (${params.batch_size})` });
  })
  .transform((params) => ({
    ...redisConnection(params),
    /** The stream's key. */
    stream: params.stream,
    /** Records per flush: a full batch is written at once, without waiting for the interval. */
    batchSize: params.batch_size,
    /** Milliseconds a record waits at most before its batch is written. */
    flushInterval: params.flush_interval,
    /** Records held in memory at most, those being written included. */
    bufferLimit: params.buffer_limit,
    overflow: params.overflow,
    /** Overflow "block": milliseconds an announce waits for room before its record is dropped. */
    blockTimeout: params.block_timeout,
    /** Approximate MAXLEN of every XADD; 0 never trims. A safety valve against a consumer that is gone. */
    maxLen: params.max_len,
    /** Milliseconds the answer to an announce with an event waits for its record to be written; 0: never. */
    eventWait: params.event_wait,
    /** This replica's name for its life marker; "" means the host name. */
    replica: params.replica,
    /** Write on a fast lane (src/redis/resp-lane.ts) when one is ready. */
    fastLane: params.fast_lane,
    /** Milliseconds flush() and close() wait for Redis on shutdown before giving up what is still buffered. */
    closeTimeout: params.close_timeout,
  }));

export type StreamParams = z.output<typeof StreamParamsSchema>;
export type OverflowPolicy = StreamParams['overflow'];

export function parseStreamParams(raw: Record<string, unknown>): StreamParams {
  return parseParams(StreamParamsSchema, raw, 'backend.params', 'the redis-stream backend');
}
