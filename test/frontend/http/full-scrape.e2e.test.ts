/**
 * The full scrape over HTTP on both drivers (memory, and redis on a real redis-server): the answer lists
 * the live swarms with the counts their own scrape gives, gzip-encoded for a client that accepts it and
 * plain otherwise, the same snapshot until full_scrape_interval has passed and a newer one after it; and
 * both drivers give the same bytes for the same swarms.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { announcePath, decode, decodedKey, randomHash, scrapePath } from '../../helpers/http.js';
import { redisMissing, startRedis, type RedisServer } from '../../helpers/redis.js';
import { startTracker, type TestTracker } from '../../helpers/tracker.js';

const INTERVAL = 10;

describe('full scrape over HTTP', { skip: redisMissing() ?? false }, () => {
  let redis: RedisServer;
  const trackers: TestTracker[] = [];
  const start = async (driver: 'memory' | 'redis'): Promise<TestTracker> => {
    const tracker =
      driver === 'memory' ? { driver } : { driver, params: { url: redis.url, prefix: `h${randomBytes(3).toString('hex')}:`, command_timeout: 5000 } };
    const t = await startTracker({ tracker, allow_full_scrape: true, full_scrape_interval: INTERVAL });
    trackers.push(t);
    return t;
  };
  const announce = async (t: TestTracker, hash: Buffer, seeders: number, leechers: number): Promise<void> => {
    for (let i = 0; i < seeders; i++) await t.get(announcePath({ infoHash: hash, port: 7000 + i, left: 0, event: 'completed', extra: `ip=10.0.0.${i + 1}` }));
    for (let i = 0; i < leechers; i++) await t.get(announcePath({ infoHash: hash, port: 8000 + i, extra: `ip=10.0.1.${i + 1}` }));
  };

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const t of trackers) await t.close();
    await redis.kill();
  });

  for (const driver of ['memory', 'redis'] as const) {
    it(`${driver}: gzip or plain, the per-hash counts, one snapshot per full_scrape_interval`, async () => {
      const t = await start(driver);
      const hashes = [randomHash(), randomHash(), randomHash()];
      for (const [i, hash] of hashes.entries()) await announce(t, hash, i, 2);

      const plain = await t.get('/scrape');
      assert.equal(plain.headers['content-encoding'], undefined, 'no gzip unless the client accepts it');
      const full = decode(plain.body);
      assert.deepEqual(Object.keys(full.files).sort(), hashes.map(decodedKey).sort());
      const each = decode((await t.get(scrapePath(hashes))).body);
      assert.deepEqual(full, each, 'the same files and flags as the scrape of each hash');
      assert.deepEqual(full.files[decodedKey(hashes[2]!)], { complete: 2, downloaded: 2, incomplete: 2 });

      const zipped = await t.get('/scrape', { 'accept-encoding': 'gzip, deflate' });
      assert.equal(zipped.headers['content-encoding'], 'gzip');
      assert.match(String(zipped.headers.vary), /accept-encoding/i);
      assert.deepEqual(gunzipSync(zipped.body), plain.body, 'the same answer, compressed');
      const refused = await t.get('/scrape', { 'accept-encoding': 'gzip;q=0, identity' });
      assert.equal(refused.headers['content-encoding'], undefined);
      assert.deepEqual(refused.body, plain.body);

      const later = randomHash();
      await announce(t, later, 1, 0);
      const built = Date.now();
      assert.deepEqual((await t.get('/scrape')).body, plain.body, 'within the interval: the same snapshot');
      await sleep(500);
      assert.deepEqual((await t.get('/scrape')).body, plain.body, 'still the same: no build started within the interval');
      // After the interval the first request starts the next build (and is answered from the old one).
      await sleep(INTERVAL * 1000 - (Date.now() - built) + 200);
      let listed = false;
      for (let i = 0; i < 50 && !listed; i++) {
        listed = decodedKey(later) in decode((await t.get('/scrape')).body).files;
        if (!listed) await sleep(100);
      }
      assert.ok(listed, 'after the interval: a new snapshot, with the swarm announced since');
    });
  }

  it('both drivers answer the same swarms with the same bytes', async () => {
    const memory = await start('memory');
    const shared = await start('redis');
    const hashes = [randomHash(), randomHash()];
    for (const t of [memory, shared]) {
      await announce(t, hashes[0]!, 2, 1);
      await announce(t, hashes[1]!, 0, 3);
    }
    const [a, b] = await Promise.all([memory.get('/scrape'), shared.get('/scrape')]);
    assert.equal(Object.keys(decode(a.body).files).length, 2);
    assert.deepEqual(a.body, b.body);
  });
});
