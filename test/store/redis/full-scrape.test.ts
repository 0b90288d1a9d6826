/**
 * The redis driver's full scrape (src/store/redis/full-scrape.ts) against a real redis-server and a
 * real Cluster of 3 masters and 3 replicas: every live swarm of the prefix, found on every master,
 * counted as its own scrape counts it; the limit; the SCAN's pacing; a prefix with glob characters.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import calculateSlot from 'cluster-key-slot';
import { redisDriver } from '../../../src/store/redis/driver.js';
import type { TrackerStore } from '../../../src/store/driver.js';
import { swarmAnnounce, v4Addr, v6Addr } from '../../../src/testing/harness.js';
import { redisMissing, startCluster, startRedis, type RedisCluster, type RedisServer } from '../../helpers/redis.js';

const logger = pino({ level: 'silent' });

async function fill(store: TrackerStore, count: number): Promise<Buffer[]> {
  const hashes = Array.from({ length: count }, () => randomBytes(20));
  // In rounds: the machine running the tests is shared, and Redis answers within the command timeout.
  for (let from = 0; from < count; from += 50) {
    await Promise.all(
      hashes.slice(from, from + 50).map(async (hash, j) => {
        const i = from + j;
        await store.announce(swarmAnnounce(hash, { v4: v4Addr(), seeder: i % 2 === 0, event: i % 3 === 0 ? 'completed' : 'none' }));
        if (i % 4 === 0) await store.announce(swarmAnnounce(hash, { v6: v6Addr() }));
      }),
    );
  }
  return hashes;
}

const hexes = (hashes: Buffer[]): string[] => hashes.map((h) => h.toString('hex')).sort();

for (const kind of ['standalone', 'cluster'] as const) {
  describe(`redis full scrape (${kind})`, { skip: redisMissing() ?? false }, () => {
    let redis: RedisServer | RedisCluster;
    const stores: TrackerStore[] = [];
    const open = async (params: Record<string, unknown>, peerTtl = 600): Promise<TrackerStore> => {
      const where = 'url' in redis ? { url: redis.url } : { cluster: redis.addresses };
      const store = await redisDriver.open({ ...where, command_timeout: 5000, ...params }, { peerTtl, logger });
      stores.push(store);
      return store;
    };

    before(async () => {
      redis = kind === 'standalone' ? await startRedis() : await startCluster();
    });
    after(async () => {
      for (const store of stores) await store.close();
      if ('kill' in redis) await redis.kill();
      else await redis.stop();
    });

    it("lists every live swarm of its prefix, on every master, with its scrape's counts", async () => {
      const store = await open({ prefix: 'fa:', full_scrape_rate: 10_000_000 });
      const other = await open({ prefix: 'fb:' });
      const hashes = await fill(store, 600);
      await fill(other, 50);
      if (kind === 'cluster') {
        const cluster = redis as RedisCluster;
        const masters = new Set<number>();
        for (const h of hashes) masters.add((await cluster.masterOfSlot(calculateSlot(`{${h.toString('hex')}}`))).port);
        assert.equal(masters.size, 3, 'the swarms are spread over the three masters');
      }
      const files = await store.scrapeAll!(1_000_000);
      assert.deepEqual(hexes(files.map((f) => f.infoHash)), hexes(hashes), 'each swarm of the prefix once, none of another prefix');
      const counts = await store.scrape(files.map((f) => f.infoHash));
      assert.deepEqual(
        files.map((f) => f.counts),
        counts,
      );
      assert.ok(
        files.some((f) => f.counts.downloaded > 0 && f.counts.complete > 0 && f.counts.incomplete > 0),
        'the counts are the swarms own',
      );
      const some = await store.scrapeAll!(100);
      assert.equal(some.length, 100, 'the limit holds');
    });

    it('takes a prefix with glob characters literally', async () => {
      const star = await open({ prefix: 'g*:' });
      const plain = await open({ prefix: 'gx:' });
      const mine = await fill(star, 5);
      await fill(plain, 5);
      assert.deepEqual(hexes((await star.scrapeAll!(1000)).map((f) => f.infoHash)), hexes(mine));
    });

    it('leaves out a swarm whose peers have all expired', async () => {
      const store = await open({ prefix: 'fe:' }, 1);
      const [old] = await fill(store, 1);
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const [live] = await fill(store, 1);
      assert.deepEqual(await store.scrape([old!]), [{ complete: 0, incomplete: 0, downloaded: 1 }]);
      assert.deepEqual(hexes((await store.scrapeAll!(1000)).map((f) => f.infoHash)), hexes([live!]));
    });

    it('paces its SCAN to full_scrape_rate keys a second', async () => {
      const slow = await open({ prefix: 'fp:', full_scrape_rate: 1000 });
      const fast = await open({ prefix: 'fp:', full_scrape_rate: 10_000_000 });
      await fill(slow, 1500);
      let started = performance.now();
      assert.equal((await fast.scrapeAll!(1_000_000)).length, 1500);
      const fastMs = performance.now() - started;
      started = performance.now();
      assert.equal((await slow.scrapeAll!(1_000_000)).length, 1500);
      const slowMs = performance.now() - started;
      // Over 1000 keys (the swarms, their snatch counts and more), each SCAN call of 1000 is a second's
      // allowance at 1000 keys a second: two calls at least, whatever Redis' cursor does.
      assert.ok(slowMs >= 1900, `paced: ${Math.round(slowMs)} ms`);
      assert.ok(fastMs < slowMs, `unpaced: ${Math.round(fastMs)} ms`);
    });
  });
}
