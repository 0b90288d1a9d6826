/** ioredis clients for the three deployments: standalone, Sentinel, Cluster. */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { throttledErrorLog } from '../common/log.js';
import type { RedisConnectionParams } from './params.js';

export type RedisClient = Redis | Cluster;

/** Reconnect forever, backing off to one attempt a second: the tracker must recover by itself. */
const reconnectDelay = (attempt: number): number => Math.min(50 * attempt, 1000);

export interface ConnectOptions {
  /**
   * Let commands wait out a reconnect in ioredis' offline queue (default). A command that times out
   * there is still sent later, so a caller that retries by itself turns this off.
   */
  offlineQueue?: boolean;
}

/** Also used by the redis-stream backend driver and its consumer, which never read from replicas. */
export function connectRedis(params: RedisConnectionParams & { scrapeFromReplicas?: boolean }, logger: Logger, connect: ConnectOptions = {}): RedisClient {
  const offlineQueue = connect.offlineQueue ?? true;
  const common: RedisOptions = {
    commandTimeout: params.commandTimeout,
    connectTimeout: params.connectTimeout,
    // Unless turned off, commands wait out a short reconnect in the offline queue, bounded by commandTimeout.
    enableOfflineQueue: offlineQueue,
    maxRetriesPerRequest: 1,
    retryStrategy: reconnectDelay,
    enableAutoPipelining: true,
    username: params.username,
    password: params.password,
  };
  let client: RedisClient;
  if (params.cluster) {
    const options: ClusterOptions = {
      redisOptions: common,
      enableAutoPipelining: true,
      enableOfflineQueue: offlineQueue,
      scaleReads: params.scrapeFromReplicas ? 'slave' : 'master',
      // ioredis routes an auto-pipelined custom script by its name, which it does not know to be
      // read-only: sent alone, the scrape script's readOnly flag takes it to a replica.
      autoPipeliningIgnoredCommands: params.scrapeFromReplicas ? ['trackerScrape'] : [],
      clusterRetryStrategy: reconnectDelay,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: params.connectTimeout,
      slotsRefreshInterval: 5000,
    };
    client = new Cluster(params.cluster, options);
  } else if (params.sentinels) {
    client = new Redis({ ...common, sentinels: params.sentinels, name: params.name, sentinelRetryStrategy: reconnectDelay });
  } else {
    client = new Redis(params.url ?? 'redis://127.0.0.1:6379', common);
  }
  // Without a listener an 'error' event would crash the process; ioredis reconnects by itself.
  client.on('error', throttledErrorLog(logger, 'redis connection error (reconnecting)', 5000));
  return client;
}
