/**
 * The `redis-stream` backend driver's parameters (`backend.params`). The reference consumer parses the
 * same object, so that both ends find the stream in the same place from one configuration.
 */
import { ParamReader, REDIS_CONNECTION_PARAM_DOCS, type RedisConnectionParams } from '../../redis/params.js';

export type OverflowPolicy = 'block' | 'drop_oldest';

export interface StreamParams extends RedisConnectionParams {
  /** The stream's key. */
  stream: string;
  /** Records per flush: a full batch is written at once, without waiting for the interval. */
  batchSize: number;
  /** Milliseconds a record waits at most before its batch is written. */
  flushInterval: number;
  /** Records held in memory at most, those being written included. */
  bufferLimit: number;
  overflow: OverflowPolicy;
  /** Overflow "block": milliseconds an announce waits for room before its record is dropped. */
  blockTimeout: number;
  /** Approximate MAXLEN of every XADD; 0 never trims. A safety valve against a consumer that is gone. */
  maxLen: number;
  /** Milliseconds flush() and close() wait for Redis on shutdown before giving up what is still buffered. */
  closeTimeout: number;
}

export const STREAM_PARAM_DOCS: Record<string, string> = {
  ...REDIS_CONNECTION_PARAM_DOCS,
  command_timeout: 'milliseconds before a Redis command fails (default 5000)',
  stream: 'key of the stream (default "shoal:accounting")',
  batch_size: 'records written in one pipelined flush; a full batch goes at once (default 500)',
  flush_interval: 'milliseconds a record waits at most before it is written (default 1000)',
  buffer_limit: 'records held in memory at most, those being written included (default 100000)',
  overflow: '"block" (announces wait for room) or "drop_oldest" (the oldest buffered record is dropped) when the buffer is full (default "block")',
  block_timeout: 'overflow "block": milliseconds an announce waits for room before its record is dropped and counted (default 10000)',
  max_len: 'approximate MAXLEN of every XADD, a safety valve only; 0 never trims (default 0)',
  close_timeout: 'milliseconds flush and close wait for Redis at shutdown before giving up what is buffered (default 5000)',
};

export function parseStreamParams(raw: Record<string, unknown>): StreamParams {
  const read = new ParamReader('backend.params');
  const params: StreamParams = {
    // Off the announce path: a slow Redis delays a flush, not a client, so the budget can be generous.
    commandTimeout: 5000,
    connectTimeout: 2000,
    stream: 'shoal:accounting',
    batchSize: 500,
    flushInterval: 1000,
    bufferLimit: 100_000,
    overflow: 'block',
    blockTimeout: 10_000,
    maxLen: 0,
    closeTimeout: 5000,
  };
  for (const [key, value] of Object.entries(raw)) {
    if (read.connectionKey(params, key, value)) continue;
    switch (key) {
      case 'stream':
        params.stream = read.text(key, value);
        if (params.stream === '') read.fail(key, 'must not be empty');
        break;
      case 'batch_size': params.batchSize = read.integer(key, value, 1, 10_000); break;
      case 'flush_interval': params.flushInterval = read.integer(key, value, 1, 60_000); break;
      case 'buffer_limit': params.bufferLimit = read.integer(key, value, 1, 10_000_000); break;
      case 'overflow':
        if (value !== 'block' && value !== 'drop_oldest') read.fail(key, 'must be "block" or "drop_oldest"');
        params.overflow = value as OverflowPolicy;
        break;
      case 'block_timeout': params.blockTimeout = read.integer(key, value, 1, 600_000); break;
      case 'max_len': params.maxLen = read.integer(key, value, 0, Number.MAX_SAFE_INTEGER); break;
      case 'close_timeout': params.closeTimeout = read.integer(key, value, 0, 600_000); break;
      default:
        read.fail(key, `unknown parameter of the redis-stream backend (it takes ${Object.keys(STREAM_PARAM_DOCS).join(', ')})`);
    }
  }
  read.checkConnection(params);
  if (params.bufferLimit < params.batchSize) read.fail('buffer_limit', `must be at least batch_size (${params.batchSize})`);
  return params;
}
