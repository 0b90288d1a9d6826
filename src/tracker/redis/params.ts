/**
 * The `redis` tracker driver's parameters (`tracker.params`), validated with errors that name the key.
 * The connection part (src/redis/params.ts) is shared with the redis-stream backend driver (`backend.params`).
 */
import { ParamReader, REDIS_CONNECTION_PARAM_DOCS, type RedisConnectionParams } from '../../redis/params.js';

export interface RedisParams extends RedisConnectionParams {
  /** Prefix of every key (the hash tag follows it). */
  prefix: string;
  /** Extra attempts for a command that failed on a broken connection, within the command timeout. */
  retries: number;
  /** Seconds the torrent hash (snatch count) lives after its last announce; 0 keeps it. */
  torrentTtl: number;
  /** Cluster: send scrapes to replicas. */
  scrapeFromReplicas: boolean;
  /** Exact same-subnet-first selection through lexicographic indexes (twice the memory). */
  subnetIndex: boolean;
  /** Private mode: passkeys cached in process (least recently used go first). */
  userCacheSize: number;
}

export const REDIS_PARAM_DOCS: Record<string, string> = {
  ...REDIS_CONNECTION_PARAM_DOCS,
  prefix: 'prefix of every key (default "t:")',
  command_timeout: 'milliseconds before a Redis command fails (default 500)',
  retries: 'extra attempts after a connection error, within command_timeout (default 1)',
  torrent_ttl: 'seconds a torrent\'s snatch count outlives its last announce at least (at most half as long again); 0 keeps it (default 30 days)',
  scrape_from_replicas: 'Cluster: answer scrapes from replicas (default false)',
  user_cache_size: 'private mode: users cached in each process by passkey, least recently used dropped first (default 100000)',
  subnet_index: 'exact same-subnet-first selection with a lexicographic index per peer set: twice the memory (default false: over-sampling)',
};

export function parseRedisParams(raw: Record<string, unknown>): RedisParams {
  const read = new ParamReader('tracker.params');
  const params: RedisParams = {
    prefix: 't:',
    commandTimeout: 500,
    connectTimeout: 2000,
    retries: 1,
    torrentTtl: 30 * 86400,
    scrapeFromReplicas: false,
    subnetIndex: false,
    userCacheSize: 100_000,
  };
  for (const [key, value] of Object.entries(raw)) {
    if (read.connectionKey(params, key, value)) continue;
    switch (key) {
      case 'prefix':
        params.prefix = read.text(key, value);
        if (/[{}]/.test(params.prefix)) read.fail(key, 'must not contain { or } (keys carry their own hash tag)');
        break;
      case 'retries': params.retries = read.integer(key, value, 0, 5); break;
      case 'user_cache_size': params.userCacheSize = read.integer(key, value, 1, 10_000_000); break;
      case 'torrent_ttl': params.torrentTtl = read.integer(key, value, 0, 10 * 365 * 86400); break;
      case 'scrape_from_replicas': params.scrapeFromReplicas = read.bool(key, value); break;
      case 'subnet_index': params.subnetIndex = read.bool(key, value); break;
      default:
        read.fail(key, `unknown parameter of the redis driver (it takes ${Object.keys(REDIS_PARAM_DOCS).join(', ')})`);
    }
  }
  read.checkConnection(params);
  return params;
}
