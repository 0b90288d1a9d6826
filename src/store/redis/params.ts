/**
 * The `redis` tracker driver's parameters (`tracker.params`): the connection part (src/redis/params.ts,
 * shared with the redis-stream backend driver) and this driver's own keys.
 */
import { z } from 'zod';
import { boolParam, integerParam, parseParams, textParam } from '../../config/params.js';
import { checkRedisConnection, redisConnection, redisConnectionShape } from '../../redis/params.js';

export const RedisParamsSchema = z
  .strictObject({
    ...redisConnectionShape({ default: 500, doc: 'milliseconds before a Redis command fails (default 500)' }),
    prefix: textParam()
      .refine((prefix) => !/[{}]/.test(prefix), { error: 'must not contain { or } (keys carry their own hash tag)' })
      .default('t:')
      .describe('prefix of every key (default "t:")'),
    retries: integerParam(0, 5).default(1).describe('extra attempts after a connection error, within command_timeout (default 1)'),
    torrent_ttl: integerParam(0, 10 * 365 * 86400)
      .default(30 * 86400)
      .describe("seconds a torrent's snatch count outlives its last announce at least (at most half as long again); 0 keeps it (default 30 days)"),
    scrape_from_replicas: boolParam().default(false).describe('Cluster: answer scrapes from replicas (default false)'),
    user_cache_size: integerParam(1, 10_000_000)
      .default(100_000)
      .describe('private mode: users cached in each process by passkey, least recently used dropped first (default 100000)'),
    subnet_index: boolParam()
      .default(false)
      .describe('exact same-subnet-first selection with a lexicographic index per peer set: twice the memory (default false: over-sampling)'),
    max_swarm_peers: integerParam(0, 100_000_000)
      .default(0)
      .describe(
        "admission control: most peers of one swarm (per address family); beyond it new peers are answered but not stored (default 0: no limit but Redis' maxmemory)",
      ),
    batch_max: integerParam(1, 256)
      .default(32)
      .describe(
        'most announces of one Redis script call: the announces waiting for one Redis node within one event-loop turn share a call (default 32; 1: every announce its own call)',
      ),
    full_scrape_rate: integerParam(1000, 10_000_000)
      .default(50_000)
      .describe('allow_full_scrape: most keys each replica has Redis SCAN per second while it builds a full scrape (default 50000)'),
  })
  .superRefine(checkRedisConnection)
  .transform((params) => ({
    ...redisConnection(params),
    /** Prefix of every key (the hash tag follows it). */
    prefix: params.prefix,
    /** Extra attempts for a command that failed on a broken connection, within the command timeout. */
    retries: params.retries,
    /** Seconds the torrent hash (snatch count) lives after its last announce; 0 keeps it. */
    torrentTtl: params.torrent_ttl,
    /** Cluster: send scrapes to replicas. */
    scrapeFromReplicas: params.scrape_from_replicas,
    /** Exact same-subnet-first selection through lexicographic indexes (twice the memory). */
    subnetIndex: params.subnet_index,
    /** Private mode: passkeys cached in process (least recently used go first). */
    userCacheSize: params.user_cache_size,
    /** Admission control: most peers of one family's swarm, 0: no limit. */
    maxSwarmPeers: params.max_swarm_peers,
    /** Most announces of one script call (announce-batch.ts); 1: no batches. */
    batchMax: params.batch_max,
    /** Full scrape: most keys SCANned per second while a snapshot is built (each Cluster master in turn). */
    fullScrapeRate: params.full_scrape_rate,
  }));

export type RedisParams = z.output<typeof RedisParamsSchema>;

export function parseRedisParams(raw: Record<string, unknown>): RedisParams {
  return parseParams(RedisParamsSchema, raw, 'tracker.params', 'the redis driver');
}
