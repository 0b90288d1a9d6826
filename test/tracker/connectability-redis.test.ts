/**
 * Connectability results shared by two replicas through a real redis-server (the redis driver's
 * RedisConnectable): one check per (ip, port) however many replicas see it, the result under
 * `<prefix>conn:IP:PORT` with the ttl, read by the replica that did not check.
 */
import { Cluster, Redis } from 'ioredis';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisConnectable } from '../../src/store/redis/connectable.js';
import { Connectability, type ConnectablePolicy, type Probe } from '../../src/tracker/connectability.js';
import { redisMissing, startCluster, startRedis, type RedisCluster, type RedisServer } from '../helpers/redis.js';

const POLICY: ConnectablePolicy = {
  ttlSeconds: 600,
  timeoutMs: 500,
  handshake: false,
  concurrency: 4,
  ratePerSecond: 100,
  privateRanges: false,
  warning: false,
};

/** A standalone server, or a Cluster of 3 masters and 3 replicas (the keys of one result live in one slot). */
for (const kind of ['standalone', 'cluster'] as const) {
  describe(`connectability shared through Redis (${kind})`, { skip: redisMissing() ?? false }, () => {
    let redis: RedisServer | RedisCluster;
    let client: Redis | Cluster;

    before(async () => {
      if (kind === 'standalone') {
        const server = await startRedis();
        redis = server;
        client = new Redis(server.url);
      } else {
        const cluster = await startCluster();
        redis = cluster;
        client = new Cluster(cluster.addresses.map((address) => ({ host: address.split(':')[0]!, port: Number(address.split(':')[1]) })));
      }
    });
    after(async () => {
      client.disconnect();
      if ('kill' in redis) await redis.kill();
      else await redis.stop();
    });

    it('checks an (ip, port) once across two replicas and hands the other the result', async () => {
      const probes: string[] = [];
      const slowProbe: Probe = async (ip, port) => {
        probes.push(`${ip}:${port}`);
        await sleep(200);
        return true;
      };
      const shared = new RedisConnectable(client, 'cx:conn:');
      const a = new Connectability(POLICY, shared, undefined, slowProbe);
      const b = new Connectability(POLICY, shared, undefined, slowProbe);
      const infoHash = randomBytes(20);
      a.note('1.1.1.20', 6881, infoHash);
      b.note('1.1.1.20', 6881, infoHash);
      await Promise.all([a.idle(), b.idle()]);
      assert.deepEqual(probes, ['1.1.1.20:6881'], 'one replica checked');
      assert.equal(await client.get('cx:conn:1.1.1.20:6881'), '1');
      const ttl = await client.ttl('cx:conn:1.1.1.20:6881');
      assert.ok(ttl > 590 && ttl <= 600, `the result lives the ttl (${ttl})`);
      const checked = a.note('1.1.1.20', 6881, infoHash) ?? b.note('1.1.1.20', 6881, infoHash);
      assert.equal(checked, true, 'the replica that checked knows at once');
      // The other reads the result once the winner's claim (timeout + a few seconds) has run out.
      const deadline = Date.now() + 10_000;
      while ((a.note('1.1.1.20', 6881, infoHash) !== true || b.note('1.1.1.20', 6881, infoHash) !== true) && Date.now() < deadline) await sleep(100);
      assert.equal(a.note('1.1.1.20', 6881, infoHash), true);
      assert.equal(b.note('1.1.1.20', 6881, infoHash), true);

      // A third replica started later takes the stored result without checking.
      const c = new Connectability(POLICY, shared, undefined, slowProbe);
      c.note('1.1.1.20', 6881, infoHash);
      await c.idle();
      assert.equal(c.note('1.1.1.20', 6881, infoHash), true);
      assert.equal(probes.length, 1);
      for (const x of [a, b, c]) x.close();
    });
  });
}
