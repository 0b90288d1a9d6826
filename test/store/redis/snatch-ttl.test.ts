/** The snatch hash's TTL in the redis driver: at least torrent_ttl after the last announce, and a changed setting applies at once. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { SwarmAnnounce, TrackerStore } from '../../../src/store/driver.js';
import { redisDriver } from '../../../src/store/redis/driver.js';
import { redisCli, redisMissing, startRedis, type RedisServer } from '../../helpers/redis.js';
import { v4Addr } from '../../../src/testing/index.js';

const missing = redisMissing();
const logger = pino({ level: 'silent' });

describe('redis driver, snatch count lifetime', { skip: missing ?? false }, () => {
  let server: RedisServer;
  const stores: TrackerStore[] = [];
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    for (const store of stores) await store.close();
    await server.kill();
  });

  const open = async (torrentTtl: number): Promise<TrackerStore> => {
    const store = await redisDriver.open({ url: server.url, prefix: 's:', torrent_ttl: torrentTtl }, { peerTtl: 60, logger });
    stores.push(store);
    return store;
  };
  const announce = (store: TrackerStore, a: Partial<SwarmAnnounce> & { infoHash: Buffer; v4: Buffer }) =>
    store.announce({
      peerId: randomBytes(20),
      seeder: false,
      event: 'none',
      numwant: 0,
      want4: true,
      want6: false,
      subnet4: 0,
      subnet6: 0,
      withPeerIds: false,
      ...a,
    });
  const ttlOf = async (infoHash: Buffer): Promise<number> => Number((await redisCli(server.port, 'ttl', `s:{${infoHash.toString('hex')}}:m`)).trim());

  it('keeps a snatch count at least torrent_ttl after the last announce, and applies a new setting at once', async () => {
    const short = await open(100);
    const hash = randomBytes(20);
    const peer = v4Addr();
    assert.equal((await announce(short, { infoHash: hash, v4: peer, event: 'completed', seeder: true })).downloaded, 1);
    const first = await ttlOf(hash);
    assert.ok(first >= 100 && first <= 150, `TTL after a snatch with torrent_ttl 100: ${first}`);
    await announce(short, { infoHash: hash, v4: peer, seeder: true });
    assert.ok((await ttlOf(hash)) >= 100, 'a re-announce leaves at least torrent_ttl');

    const long = await open(1_000_000);
    await announce(long, { infoHash: hash, v4: peer, seeder: true });
    assert.ok((await ttlOf(hash)) >= 1_000_000, 'a longer torrent_ttl takes effect at the next announce');
    const back = await open(100);
    await announce(back, { infoHash: hash, v4: peer, seeder: true });
    assert.ok((await ttlOf(hash)) <= 150, 'and a shorter one too');
    const forever = await open(0);
    const r = await announce(forever, { infoHash: hash, v4: peer, seeder: true });
    assert.equal(await ttlOf(hash), -1, 'torrent_ttl 0 keeps it');
    assert.equal(r.downloaded, 1);
  });
});
