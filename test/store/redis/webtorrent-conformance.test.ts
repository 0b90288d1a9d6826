/** The WebRTC group of the conformance suite against standalone Redis and a Redis Cluster (sharded pub/sub). */
import { randomBytes } from 'node:crypto';
import { after, before, describe } from 'node:test';
import { pino } from 'pino';
import { redisDriver } from '../../../src/store/redis/driver.js';
import { webTorrentSuite } from '../../../src/testing/index.js';
import { redisMissing, startCluster, startRedis, type RedisCluster, type RedisServer } from '../../helpers/redis.js';

const logger = pino({ level: 'silent' });
const missing = redisMissing();

describe('redis driver, WebRTC swarms', { skip: missing ?? false }, () => {
  describe('standalone', () => {
    let server: RedisServer;
    before(async () => {
      server = await startRedis();
    });
    after(() => server.kill());
    webTorrentSuite('redis (standalone)', ({ peerTtl }) =>
      redisDriver.open({ url: server.url, prefix: `w${randomBytes(3).toString('hex')}:` }, { peerTtl, logger }),
    );
  });

  describe('cluster', () => {
    let cluster: RedisCluster;
    before(async () => {
      cluster = await startCluster();
    });
    after(() => cluster.stop());
    webTorrentSuite('redis (cluster of 3 masters and 3 replicas)', ({ peerTtl }) => redisDriver.open({ cluster: cluster.addresses }, { peerTtl, logger }));
  });
});
