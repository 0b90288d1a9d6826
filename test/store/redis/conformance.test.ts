/** The driver conformance suite, unchanged, against standalone Redis, Sentinel and Redis Cluster. */
import { randomBytes } from 'node:crypto';
import { after, before, describe } from 'node:test';
import { pino } from 'pino';
import { redisDriver } from '../../../src/store/redis/driver.js';
import { redisMissing, startCluster, startRedis, startSentinel, type RedisCluster, type RedisSentinel, type RedisServer } from '../../helpers/redis.js';
import { conformanceSuite } from '../../../src/testing/index.js';

const logger = pino({ level: 'silent' });
const missing = redisMissing();

describe('redis driver', { skip: missing ?? false }, () => {
  describe('standalone', () => {
    let server: RedisServer;
    before(async () => {
      server = await startRedis();
    });
    after(() => server.kill());
    conformanceSuite('redis (standalone)', ({ peerTtl }) =>
      redisDriver.open({ url: server.url, prefix: `c${randomBytes(3).toString('hex')}:` }, { peerTtl, logger }),
    );
  });

  describe('sentinel', () => {
    let set: RedisSentinel;
    before(async () => {
      set = await startSentinel();
    });
    after(() => set.stop());
    conformanceSuite('redis (sentinel)', ({ peerTtl }) =>
      redisDriver.open({ sentinels: [`127.0.0.1:${set.sentinel.port}`], name: set.name }, { peerTtl, logger }),
    );
  });

  describe('cluster', () => {
    let cluster: RedisCluster;
    before(async () => {
      cluster = await startCluster();
    });
    after(() => cluster.stop());
    conformanceSuite('redis (cluster of 3 masters and 3 replicas)', ({ peerTtl }) => redisDriver.open({ cluster: cluster.addresses }, { peerTtl, logger }));
  });
});

describe('redis driver, exact subnet mode', { skip: missing ?? false }, () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedis();
  });
  after(() => server.kill());
  conformanceSuite('redis (standalone, subnet_index)', ({ peerTtl }) => redisDriver.open({ url: server.url, subnet_index: true }, { peerTtl, logger }));
});
