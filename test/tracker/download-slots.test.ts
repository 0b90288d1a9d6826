/**
 * Download slots (a user's download_slots) in the Tracker, on every kind of store: the memory driver, the
 * redis driver on a standalone server (two replicas sharing it) and on a Cluster. A new download beyond
 * the slots is refused; downloads under way pass; a stop, a seeder's announce or a refused announce gives
 * the slot back; a hybrid torrent's two hashes hold one slot.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { AnnounceRequest } from '../../src/bittorrent/announce.js';
import { loadConfig } from '../../src/config/config.js';
import type { TrackerStore } from '../../src/store/driver.js';
import { MemoryStore } from '../../src/store/memory/store.js';
import { redisDriver } from '../../src/store/redis/driver.js';
import type { RedisStore } from '../../src/store/redis/store.js';
import { Tracker, trackerPolicy, type TrackerPolicy } from '../../src/tracker/tracker.js';
import { redisMissing, startCluster, startRedis, type RedisCluster, type RedisServer } from '../helpers/redis.js';

const POLICY: TrackerPolicy = { ...trackerPolicy(loadConfig()), intervalJitter: 0, private: true, minIntervalEnforcement: 'off' };
const logger = pino({ level: 'silent' });
const FULL = /your account is downloading 2 torrents already, the most its download slots allow/;

/** The scenario, on one or two trackers (replicas) over stores sharing their state. */
function slotTests(open: () => Promise<TrackerStore[]>, replicas = false): void {
  let stores: TrackerStore[];
  let trackers: Tracker[];
  let seq = 0;
  before(async () => {
    stores = await open();
    trackers = stores.map((store) => new Tracker(store, null, POLICY));
  });
  after(async () => {
    for (const store of stores) await store.close();
  });

  /** A user with 2 slots and `n` registered torrents of its own. */
  const setUp = async (n: number) => {
    const id = 30_000 + ++seq * 10 + Math.floor(Math.random() * 9);
    const passkey = randomBytes(16).toString('hex');
    const catalogue = stores[0]!.catalogue;
    await catalogue.putUser({ id, passkey, upMultiplier: 1, downMultiplier: 1, enabled: true, downloadSlots: 2 });
    const hashes = Array.from({ length: n }, () => randomBytes(20));
    for (const [i, infoHash] of hashes.entries())
      await catalogue.putTorrent({ infoHash, id: id * 100 + i, upMultiplier: 1, downMultiplier: 1, freeleech: false });
    // The other replica's cached catalogue hears of the user within a second.
    for (const tracker of trackers) await waitFor(async () => (await tracker.store.catalogue.userByPasskey(passkey))?.downloadSlots === 2);
    const announce = (infoHash: Buffer, overrides: Partial<AnnounceRequest> = {}, on = 0) =>
      trackers[on]!.announce({
        infoHash,
        peerId: Buffer.from(`-qB4630-${id}`.padEnd(20, '0')),
        port: 6881,
        uploaded: 0,
        downloaded: 0,
        left: 1000,
        event: 'started',
        numwant: 0,
        compact: true,
        noPeerId: true,
        sourceIp: Buffer.from([10, 0, 0, 1]),
        passkey,
        ...overrides,
      });
    return { id, hashes, announce };
  };

  it('refuses a new download past the slots; downloads under way pass; a stop or a seeder gives its slot back', async () => {
    const { hashes, announce } = await setUp(5);
    const [a, b, c, d, e] = hashes as [Buffer, Buffer, Buffer, Buffer, Buffer];
    await announce(a);
    await announce(b);
    await assert.rejects(announce(c), FULL);
    await announce(a, { event: 'none' });
    await announce(b, { event: 'stopped' });
    await announce(c);
    await assert.rejects(announce(d), FULL, 'c took the slot b gave back');
    await announce(a, { event: 'completed', left: 0 });
    await announce(d);
    await announce(e, { event: 'none' }); // already downloading when the slots were set: passes, and counts
    await announce(c, { event: 'stopped' });
    await assert.rejects(announce(b), FULL, 'd and e hold both slots');
    await announce(d, { left: 0 }); // a seeder's announce, started or not, takes no slot
    await announce(b);
  });

  it('takes no slot for an announce the store refuses, and one slot for both hashes of a hybrid torrent', async () => {
    const { id, hashes, announce } = await setUp(3);
    const [v1, other, third] = hashes as [Buffer, Buffer, Buffer];
    const v2 = randomBytes(20);
    await stores[0]!.catalogue.putTorrent({ infoHash: v1, infoHashV2: v2, id: id * 100, upMultiplier: 1, downMultiplier: 1, freeleech: false });
    for (let i = 0; i < 3; i++) await assert.rejects(announce(randomBytes(20)), /unregistered torrent/);
    await announce(v2);
    await announce(v1);
    await announce(v2, { event: 'none' });
    await announce(other);
    await assert.rejects(announce(third), FULL, 'the hybrid torrent and the other hold both slots');
  });

  if (!replicas) return;
  it('counts across replicas, a flush later', async () => {
    const { hashes, announce } = await setUp(3);
    const [a, b, c] = hashes as [Buffer, Buffer, Buffer];
    await announce(a, {}, 0);
    await announce(b, {}, 1);
    await waitFor(async () => {
      try {
        await announce(c, {}, 0);
        await announce(c, { event: 'stopped' }, 0);
        return false;
      } catch (error) {
        return FULL.test((error as Error).message);
      }
    });
    await announce(b, { event: 'stopped' }, 1);
    await waitFor(async () => {
      try {
        await announce(c, {}, 0);
        return true;
      } catch {
        return false;
      }
    });
  });
}

async function waitFor(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('download slots: memory driver', () => {
  slotTests(async () => [new MemoryStore({ peerTtlMs: 60_000, reapIntervalMs: 1000 })]);
});

describe('download slots: redis driver, two replicas on one server', { skip: redisMissing() ?? false }, () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    await server.kill();
  });
  slotTests(async () => {
    const params = { url: server.url, prefix: `ds${randomBytes(3).toString('hex')}:` };
    const stores = [
      (await redisDriver.open(params, { peerTtl: 60, logger })) as RedisStore,
      (await redisDriver.open(params, { peerTtl: 60, logger })) as RedisStore,
    ];
    for (const store of stores) await waitFor(() => store.ready(), 10_000);
    return stores;
  }, true);
});

describe('download slots: redis driver on a Cluster', { skip: redisMissing() ?? false }, () => {
  let cluster: RedisCluster;
  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await cluster.stop();
  });
  slotTests(async () => {
    const store = (await redisDriver.open({ cluster: cluster.addresses }, { peerTtl: 60, logger })) as RedisStore;
    await waitFor(() => store.ready(), 20_000);
    return [store];
  });
});
