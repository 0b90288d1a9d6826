/** Several tracker processes sharing one Redis (standalone, then a Cluster): one swarm state for all. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { announcePath, decode, decodedKey, peerList, randomHash, scrapePath } from '../../helpers/http.js';
import { redisCli, redisMissing, SHIPPED_CONFIG, startCluster, startRedis, type RedisCluster, type RedisServer } from '../../helpers/redis.js';
import { startTracker, startTrackerProcess, type TestTracker } from '../../helpers/tracker.js';

const missing = redisMissing();

/** Three tracker processes (the real CLI), each with its own port and its own Redis connections. */
async function threeTrackers(params: Record<string, unknown>): Promise<TestTracker[]> {
  const prefix = `r${randomBytes(3).toString('hex')}:`;
  const env = { TRACKER_TRACKER_DRIVER: 'redis', TRACKER_TRACKER_PARAMS: JSON.stringify({ ...params, prefix }) };
  return Promise.all([0, 1, 2].map(() => startTrackerProcess(env)));
}

function sharedStateTests(getTrackers: () => TestTracker[]): void {
  it('a peer announced to A is returned by B and C, and scrape agrees everywhere', async () => {
    const [a, b, c] = getTrackers() as [TestTracker, TestTracker, TestTracker];
    for (let round = 0; round < 5; round++) {
      const hash = randomHash();
      await a.get(announcePath({ infoHash: hash, port: 7001, left: 0 }));
      const fromB = decode((await b.get(announcePath({ infoHash: hash, port: 7002 }))).body);
      assert.deepEqual(peerList(fromB.peers, 4), ['127.0.0.1:7001']);
      const fromC = decode((await c.get(announcePath({ infoHash: hash, port: 7003 }))).body);
      assert.deepEqual(peerList(fromC.peers, 4).sort(), ['127.0.0.1:7001', '127.0.0.1:7002'], 'a leecher gets the seeder and the other leecher');
      for (const t of [a, b, c]) {
        const s = decode((await t.get(scrapePath([hash]))).body);
        assert.deepEqual(s.files[decodedKey(hash)], { complete: 1, downloaded: 0, incomplete: 2 });
      }
    }
  });

  it('stopped sent to C removes the peer everywhere', async () => {
    const [a, b, c] = getTrackers() as [TestTracker, TestTracker, TestTracker];
    const hash = randomHash();
    await a.get(announcePath({ infoHash: hash, port: 7101, event: 'started' }));
    await b.get(announcePath({ infoHash: hash, port: 7102, left: 0, event: 'completed' }));
    await c.get(announcePath({ infoHash: hash, port: 7101, event: 'stopped' }));
    const seen = decode((await a.get(announcePath({ infoHash: hash, port: 7103 }))).body);
    assert.deepEqual(peerList(seen.peers, 4), ['127.0.0.1:7102']);
    for (const t of [a, b, c]) {
      const s = decode((await t.get(scrapePath([hash]))).body);
      assert.deepEqual(s.files[decodedKey(hash)], { complete: 1, downloaded: 1, incomplete: 1 });
    }
  });

  it('concurrent announces through all three count every peer once', async () => {
    const trackers = getTrackers();
    const hash = randomHash();
    await Promise.all(Array.from({ length: 90 }, (_, i) => trackers[i % 3]!.get(announcePath({ infoHash: hash, port: 8000 + i }))));
    const s = decode((await trackers[0]!.get(scrapePath([hash]))).body);
    assert.equal(s.files[decodedKey(hash)].incomplete, 90);
  });
}

describe('tracker replicas sharing Redis', { skip: missing ?? false }, () => {
  describe('standalone Redis', () => {
    let server: RedisServer;
    let trackers: TestTracker[];
    before(async () => {
      server = await startRedis({ args: [SHIPPED_CONFIG] });
      trackers = await threeTrackers({ url: server.url });
    });
    after(async () => {
      await Promise.all(trackers.map((t) => t.close()));
      await server.kill();
    });
    sharedStateTests(() => trackers);

    it('runs with the shipped redis.conf', async () => {
      const config = await redisCli(server.port, 'config', 'get', 'zset-max-listpack-entries');
      assert.match(config, /zset-max-listpack-entries\s+512/);
      assert.match(await redisCli(server.port, 'config', 'get', 'lazyfree-lazy-expire'), /yes/);
      assert.match(await redisCli(server.port, 'config', 'get', 'save'), /save\s*$/);
    });

    it('sends exactly one command to Redis per announce', async () => {
      const client = new Redis(server.port, '127.0.0.1');
      const monitor = await client.monitor();
      const fromClients: string[] = [];
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        // Not per announce: the catalogue's once-a-second look at its change counter.
        const background = /^get$/i.test(args[0] ?? '') && /catalogue:version$/.test(args[1] ?? '');
        if (source !== 'lua' && !background && !/^(ping|info|monitor)$/i.test(args[0] ?? '')) fromClients.push(String(args[0]).toLowerCase());
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const hash = randomHash();
      for (let i = 0; i < 30; i++)
        await trackers[i % 3]!.get(announcePath({ infoHash: hash, port: 9000 + i, event: i % 10 === 0 ? 'completed' : undefined, left: i % 10 === 0 ? 0 : 5 }));
      await new Promise((resolve) => setTimeout(resolve, 300));
      monitor.disconnect();
      client.disconnect();
      const counts = fromClients.reduce<Record<string, number>>((acc, cmd) => ({ ...acc, [cmd]: (acc[cmd] ?? 0) + 1 }), {});
      // An EVALSHA per announce; a first call that finds the script uncached is answered NOSCRIPT and
      // sent again as EVAL (ioredis does this), so each EVAL stands for one extra attempt, not an extra command kind.
      assert.equal(counts.evalsha ?? 0, 30, JSON.stringify(counts));
      assert.deepEqual(
        Object.keys(counts).filter((c) => c !== 'evalsha' && c !== 'eval'),
        [],
        `no other commands: ${JSON.stringify(counts)}`,
      );
    });
  });

  describe('Redis Cluster', () => {
    let cluster: RedisCluster;
    let trackers: TestTracker[];
    before(async () => {
      cluster = await startCluster();
      trackers = await threeTrackers({ cluster: cluster.addresses });
    });
    after(async () => {
      await Promise.all(trackers.map((t) => t.close()));
      await cluster.stop();
    });
    sharedStateTests(() => trackers);

    it('answers scrapes from replicas with scrape_from_replicas', async () => {
      const prefix = `q${randomBytes(3).toString('hex')}:`;
      const writer = await startTracker({ tracker: { driver: 'redis', params: { cluster: cluster.addresses, prefix } } });
      const reader = await startTracker({ tracker: { driver: 'redis', params: { cluster: cluster.addresses, prefix, scrape_from_replicas: true } } });
      try {
        const replicaCalls = async (): Promise<number> => {
          let calls = 0;
          for (const node of cluster.nodes) {
            if (!(await redisCli(node.port, 'info', 'replication')).includes('role:slave')) continue;
            // EVALSHA, or EVAL when the script was not yet cached on that replica.
            for (const m of (await redisCli(node.port, 'info', 'commandstats')).matchAll(/cmdstat_eval(?:sha)?:calls=(\d+)/g)) calls += Number(m[1]);
          }
          return calls;
        };
        const before = await replicaCalls();
        const hashes = Array.from({ length: 12 }, () => randomHash());
        for (const h of hashes) await writer.get(announcePath({ infoHash: h, port: 6500, left: 0 }));
        const deadline = Date.now() + 5000;
        let files: Record<string, unknown> = {};
        while (Date.now() < deadline) {
          files = decode((await reader.get(scrapePath(hashes))).body).files;
          if (hashes.every((h) => JSON.stringify(files[decodedKey(h)]) === JSON.stringify({ complete: 1, downloaded: 0, incomplete: 0 }))) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        for (const h of hashes) assert.deepEqual(files[decodedKey(h)], { complete: 1, downloaded: 0, incomplete: 0 });
        assert.ok((await replicaCalls()) - before >= 12, 'the scrape scripts ran on replicas');
      } finally {
        await writer.close();
        await reader.close();
      }
    });

    it('scrapes many hashes spread over every master in one request', async () => {
      const hashes = Array.from({ length: 60 }, () => randomHash());
      await Promise.all(hashes.map((h, i) => trackers[i % 3]!.get(announcePath({ infoHash: h, port: 6000 + i, left: i % 2 }))));
      const s = decode((await trackers[1]!.get(scrapePath(hashes))).body);
      hashes.forEach((h, i) => assert.deepEqual(s.files[decodedKey(h)], { complete: i % 2 === 0 ? 1 : 0, downloaded: 0, incomplete: i % 2 }));
    });
  });
});
