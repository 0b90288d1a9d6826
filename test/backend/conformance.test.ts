/**
 * The backend driver conformance suite of shoal/testing against the built-in backends: noop, and
 * redis-stream on a real redis-server, its records read back from the stream with XRANGE.
 */
import { after, before, describe } from 'node:test';
import { Redis } from 'ioredis';
import { noopDriver } from '../../src/backend/noop/driver.js';
import { streamDriver } from '../../src/backend/stream/driver.js';
import { fromFields } from '../../src/backend/stream/entry.js';
import { backendConformanceSuite } from '../../src/testing/index.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';

backendConformanceSuite('noop', async (ctx) => ({ backend: await noopDriver.open({}, ctx), discards: true }));

describe('redis-stream', { skip: redisMissing() ?? false }, () => {
  let server: RedisServer;
  let reader: Redis;
  let streams = 0;
  before(async () => {
    server = await startRedis();
    reader = new Redis(server.url, { maxRetriesPerRequest: null });
    reader.on('error', () => {});
  });
  after(async () => {
    reader.disconnect();
    await server.kill();
  });

  backendConformanceSuite('redis-stream', async (ctx) => {
    const stream = `conformance:${process.pid}:${streams++}`;
    const backend = await streamDriver.open({ url: server.url, stream, batch_size: 16, flush_interval: 50 }, ctx);
    return {
      backend,
      written: async () => ((await reader.xrange(stream, '-', '+')) as Array<[string, string[]]>).map(([, fields]) => fromFields(fields)),
    };
  });
});
