import type { TrackerDriver } from '../driver.js';
import { connectRedis } from '../../redis/connection.js';
import { parseRedisParams } from './params.js';
import { RedisStore } from './store.js';

/**
 * Swarms in Redis (standalone, Sentinel or Cluster), shared by every tracker replica. Opening never
 * waits for Redis: a tracker started while Redis is down answers failure reasons and /readyz 503
 * until it connects by itself.
 */
export const redisDriver: TrackerDriver = {
  async open(raw, ctx) {
    const params = parseRedisParams(raw);
    const client = connectRedis(params, ctx.logger);
    return new RedisStore(client, params, ctx);
  },
};
