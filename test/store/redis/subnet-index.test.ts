/** Exact same-subnet-first selection: found through the index however large the swarm. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import type { SwarmAnnounce, TrackerStore } from '../../../src/store/driver.js';
import { redisDriver } from '../../../src/store/redis/driver.js';
import { redisCli, redisMissing, startRedis, type RedisServer } from '../../helpers/redis.js';
import { peersOf, v4Addr, v6Addr } from '../../../src/testing/index.js';

const missing = redisMissing();
const logger = pino({ level: 'silent' });

describe('redis driver, subnet_index', { skip: missing ?? false }, () => {
  let server: RedisServer;
  let exact: TrackerStore;
  let sampled: TrackerStore;
  before(async () => {
    server = await startRedis();
    exact = await redisDriver.open({ url: server.url, prefix: 'x:', subnet_index: true }, { peerTtl: 2, logger });
    sampled = await redisDriver.open({ url: server.url, prefix: 'o:' }, { peerTtl: 2, logger });
  });
  after(async () => {
    await exact.close();
    await sampled.close();
    await server.kill();
  });

  const announce = (store: TrackerStore, a: Partial<SwarmAnnounce> & { infoHash: Buffer }) =>
    store.announce({
      peerId: randomBytes(20),
      seeder: false,
      event: 'none',
      numwant: 50,
      want4: true,
      want6: a.v6 !== undefined,
      subnet4: 0,
      subnet6: 0,
      withPeerIds: false,
      ...a,
    });

  it('returns the few same-subnet peers of a large swarm first, every time', async () => {
    const hash = randomBytes(20);
    const near = [v4Addr(192, 0, 2), v4Addr(192, 0, 2), v4Addr(192, 0, 3)];
    for (let i = 0; i < 500; i++) await announce(exact, { infoHash: hash, v4: v4Addr(10 + (i % 200)), numwant: 0 });
    await announce(exact, { infoHash: hash, v4: near[0]!, seeder: true, numwant: 0 });
    await announce(exact, { infoHash: hash, v4: near[1]!, numwant: 0 });
    await announce(exact, { infoHash: hash, v4: near[2]!, numwant: 0 });
    const me = v4Addr(192, 0, 2);
    for (let round = 0; round < 10; round++) {
      const r = await announce(exact, { infoHash: hash, v4: me, numwant: 5, subnet4: 24 });
      const got = peersOf(r.peers4);
      assert.equal(got.length, 5);
      assert.deepEqual(got.slice(0, 2), [near[0]!.toString('hex'), near[1]!.toString('hex')], 'the /24 neighbours first, the seeder before the leecher');
      assert.equal(new Set(got).size, 5);
      const wider = await announce(exact, { infoHash: hash, v4: me, numwant: 3, subnet4: 22 });
      assert.deepEqual(peersOf(wider.peers4).sort(), near.map((n) => n.toString('hex')).sort(), 'a /22 takes in 192.0.3.x too');
    }
  });

  it('works for IPv6 prefixes too', async () => {
    const hash = randomBytes(20);
    const near = v6Addr(0x2a01);
    for (let i = 0; i < 200; i++) await announce(exact, { infoHash: hash, v6: v6Addr(0x2b00 + i), numwant: 0 });
    await announce(exact, { infoHash: hash, v6: near, numwant: 0 });
    const me = Buffer.from(near);
    me[17] = (me[17]! + 1) % 256;
    me[15] = (me[15]! + 1) % 256;
    const r = await announce(exact, { infoHash: hash, v6: me, want4: false, numwant: 1, subnet6: 64 });
    assert.equal(r.peers6.subarray(0, 18).toString('hex'), near.toString('hex'));
  });

  it('keeps the index in step through moves, stops and expiry', async () => {
    const hash = randomBytes(20);
    const peers = Array.from({ length: 20 }, () => v4Addr(198, 51, 100));
    for (const p of peers) await announce(exact, { infoHash: hash, v4: p, numwant: 0 });
    for (const p of peers.slice(0, 5)) await announce(exact, { infoHash: hash, v4: p, seeder: true, numwant: 0 });
    for (const p of peers.slice(5, 10)) await announce(exact, { infoHash: hash, v4: p, event: 'stopped' });
    const tag = `x:{${hash.toString('hex')}}:`;
    assert.equal(await redisCli(server.port, 'zcard', `${tag}xs4`), '5');
    assert.equal(await redisCli(server.port, 'zcard', `${tag}xl4`), '10');
    await sleep(3200);
    await announce(exact, { infoHash: hash, v4: v4Addr(), numwant: 0 });
    assert.equal(await redisCli(server.port, 'zcard', `${tag}xs4`), '0', 'expired peers leave the index');
    assert.equal(await redisCli(server.port, 'zcard', `${tag}xl4`), '1');
  });

  it('indexes peers that were there before subnet_index was turned on at their next announce', async () => {
    const hash = randomBytes(20);
    const before = await redisDriver.open({ url: server.url, prefix: 'w:' }, { peerTtl: 60, logger });
    const after = await redisDriver.open({ url: server.url, prefix: 'w:', subnet_index: true }, { peerTtl: 60, logger });
    try {
      const peers = Array.from({ length: 5 }, () => v4Addr(203, 0, 113));
      for (const p of peers) await announce(before, { infoHash: hash, v4: p, numwant: 0 });
      const tag = `w:{${hash.toString('hex')}}:`;
      assert.equal(await redisCli(server.port, 'zcard', `${tag}xl4`), '0');
      for (const p of peers) await announce(after, { infoHash: hash, v4: p, numwant: 0 });
      assert.equal(await redisCli(server.port, 'zcard', `${tag}xl4`), '5', 're-announces in the same state enter the index');
    } finally {
      await before.close();
      await after.close();
    }
  });

  it('without the index, over-sampling misses most neighbours in a large swarm (why the index exists)', async () => {
    const hash = randomBytes(20);
    for (let i = 0; i < 500; i++) await announce(sampled, { infoHash: hash, v4: v4Addr(10 + (i % 200)), numwant: 0 });
    const near = v4Addr(192, 0, 2);
    await announce(sampled, { infoHash: hash, v4: near, numwant: 0 });
    let hits = 0;
    for (let round = 0; round < 20; round++) {
      const r = await announce(sampled, { infoHash: hash, v4: v4Addr(192, 0, 2), numwant: 5, subnet4: 24 });
      if (peersOf(r.peers4)[0] === near.toString('hex')) hits++;
    }
    assert.ok(hits < 20, `over-sampling found the neighbour ${hits} times of 20`);
  });
});
