/**
 * The packed copy of each peer set (lua/includes/packed-copy.lua), where peer selection reads its windows:
 * it must hold exactly its set's members through joins, moves, stops and expiry, or not be read at all.
 * Checked against the sets themselves in a real redis-server.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { TrackerStore } from '../../../src/store/driver.js';
import { redisDriver } from '../../../src/store/redis/driver.js';
import { PACKED_COPY_SUFFIX } from '../../../src/store/redis/keys.js';
import { redisMissing, startRedis, type RedisServer } from '../../helpers/redis.js';
import { swarmAnnounce, v4Addr, v6Addr, type Announce } from '../../../src/testing/harness.js';

const missing = redisMissing();
const logger = pino({ level: 'silent' });
const PEER_TTL = 60;
/** lua/includes/packed-copy.lua's PACKED_COPY_MAX_BYTES and PACKED_COPY_MAX_REMOVALS. */
const MAX_BYTES = 32768;
const MAX_REMOVALS = 16;

/** Entries of `size` bytes as sorted hex strings. */
function entries(packed: Buffer, size: number): string[] {
  assert.equal(packed.length % size, 0, `a copy of ${packed.length} bytes is no whole number of ${size}-byte entries`);
  const out: string[] = [];
  for (let i = 0; i < packed.length; i += size) out.push(packed.subarray(i, i + size).toString('hex'));
  return out.sort();
}

describe('redis driver, packed copies of the peer sets', { skip: missing ?? false }, () => {
  let server: RedisServer;
  let client: Redis;
  let publicStore: TrackerStore;
  let privateStore: TrackerStore;
  before(async () => {
    server = await startRedis();
    client = new Redis(server.url);
    publicStore = await redisDriver.open({ url: server.url, prefix: 'c:' }, { peerTtl: PEER_TTL, logger });
    privateStore = await redisDriver.open({ url: server.url, prefix: 'c:' }, { peerTtl: PEER_TTL, logger });
  });
  after(async () => {
    await publicStore.close();
    await privateStore.close();
    client.disconnect();
    await server.kill();
  });

  const announce = (store: TrackerStore, a: Announce & { infoHash: Buffer }) => store.announce(swarmAnnounce(a.infoHash, a));

  const tagOf = (hash: Buffer): string => `c:{${hash.toString('hex')}}:`;
  const SETS = [
    { suffix: 's4', size: 6 },
    { suffix: 'l4', size: 6 },
    { suffix: 's6', size: 18 },
    { suffix: 'l6', size: 18 },
  ];

  /** Every copy of the swarm that exists equals its set; how many existed. */
  async function checkCopies(hash: Buffer, mode: 'public' | 'private', extra = 0): Promise<number> {
    let found = 0;
    for (const set of SETS) {
      const key = tagOf(hash) + set.suffix;
      const copy = await client.getBuffer(key + PACKED_COPY_SUFFIX[mode]);
      if (copy === null) continue;
      found++;
      const members = (await client.zrangeBuffer(key, '0', '-1')).map((m) => m.toString('hex')).sort();
      assert.deepEqual(entries(copy, set.size + extra), members, `the copy of ${set.suffix} holds its set's members`);
      const [setTtl, copyTtl] = [await client.ttl(key), await client.ttl(key + PACKED_COPY_SUFFIX[mode])];
      assert.ok(copyTtl > 0 && copyTtl <= setTtl, `the copy of ${set.suffix} expires (${copyTtl} s) no later than its set (${setTtl} s)`);
    }
    return found;
  }

  /** Ages a member of a peer set past the peer TTL, as if it had not announced for a while. */
  async function age(hash: Buffer, suffix: string, member: Buffer): Promise<void> {
    const [seconds] = await client.time();
    await client.zadd(tagOf(hash) + suffix, 'XX', Number(seconds) - PEER_TTL - 10, member);
  }

  it('follows joins, moves, stops and expiry in random order, and answers only with live members', async () => {
    const hash = randomBytes(20);
    const slots = Array.from({ length: 40 }, (_, i) => ({
      v4: i % 4 === 3 ? undefined : v4Addr(10, 1, i),
      v6: i % 3 === 0 || i % 4 === 3 ? v6Addr() : undefined,
    }));
    const watcher = { v4: v4Addr(10, 2, 1), v6: v6Addr() };
    const state = slots.map(() => ({ in: false, seeder: false }));
    let random = 12345;
    const next = (n: number): number => {
      random = (random * 1103515245 + 12345) % 2 ** 31;
      return random % n;
    };
    let checked = 0;
    for (let step = 0; step < 400; step++) {
      const i = next(slots.length);
      const slot = slots[i]!;
      const op = next(10);
      if (op < 5) {
        const seeder = state[i]!.in ? state[i]!.seeder : next(3) === 0;
        await announce(publicStore, { infoHash: hash, ...slot, seeder, numwant: next(2) * 50 });
        state[i] = { in: true, seeder };
      } else if (op < 7) {
        await announce(publicStore, { infoHash: hash, ...slot, seeder: true, event: 'completed', numwant: next(2) * 50 });
        state[i] = { in: true, seeder: true };
      } else if (op < 8) {
        await announce(publicStore, { infoHash: hash, ...slot, event: 'stopped' });
        state[i] = { in: false, seeder: false };
      } else if (state[i]!.in) {
        // Expiry, found by the next announce that touches the swarm.
        const role = state[i]!.seeder ? 's' : 'l';
        if (slot.v4) await age(hash, `${role}4`, slot.v4);
        if (slot.v6) await age(hash, `${role}6`, slot.v6);
        state[i] = { in: false, seeder: false };
      }
      const live = new Set(
        slots
          .flatMap((s, k) => (state[k]!.in ? [s.v4, s.v6] : []))
          .filter((a) => a)
          .map((a) => a!.toString('hex')),
      );
      // A touch without selection expires what was aged; then every copy must already be exact (a
      // selection would rebuild one whose length is off, and hide a change it missed).
      await announce(publicStore, { infoHash: hash, ...watcher, numwant: 0 });
      checked += await checkCopies(hash, 'public');
      // A selection from a peer outside the slots reads (or builds) the copies of both families.
      const answer = await announce(publicStore, { infoHash: hash, ...watcher, numwant: 50 });
      for (let k = 0; k < answer.peers4.length; k += 6) {
        const peer = answer.peers4.subarray(k, k + 6).toString('hex');
        assert.ok(live.has(peer), `step ${step}: answered ${peer}, which is not in the swarm`);
      }
      for (let k = 0; k < answer.peers6.length; k += 18) {
        const peer = answer.peers6.subarray(k, k + 18).toString('hex');
        assert.ok(live.has(peer), `step ${step}: answered ${peer}, which is not in the swarm`);
      }
      assert.equal(answer.peers4.length / 6 + answer.peers6.length / 18, Math.min(50, live.size), `step ${step}: every live peer fits in numwant`);
      checked += await checkCopies(hash, 'public');
    }
    assert.ok(checked > 800, `copies compared with their sets ${checked} times`);
  });

  it('drops a copy when more members expire at once than it takes out one by one, and builds it again', async () => {
    const hash = randomBytes(20);
    const peers = Array.from({ length: 40 }, (_, i) => v4Addr(10, 3, i));
    const seeder = v4Addr(10, 4, 1);
    for (const p of peers) await announce(publicStore, { infoHash: hash, v4: p, numwant: 0 });
    await announce(publicStore, { infoHash: hash, v4: seeder, seeder: true });
    const copyKey = tagOf(hash) + 'l4' + PACKED_COPY_SUFFIX.public;
    assert.equal(await client.strlen(copyKey), 40 * 6);
    for (const p of peers.slice(0, MAX_REMOVALS + 1)) await age(hash, 'l4', p);
    await announce(publicStore, { infoHash: hash, v4: seeder, seeder: true, numwant: 0 });
    assert.equal(await client.exists(copyKey), 0, `${MAX_REMOVALS + 1} expired at once: the copy is gone`);
    const r = await announce(publicStore, { infoHash: hash, v4: seeder, seeder: true });
    assert.equal(r.peers4.length, (40 - MAX_REMOVALS - 1) * 6);
    assert.equal(await checkCopies(hash, 'public'), 1, 'built again by the next selection');
    // A few expiring at once are taken out of it.
    for (const p of peers.slice(MAX_REMOVALS + 1, MAX_REMOVALS + 6)) await age(hash, 'l4', p);
    await announce(publicStore, { infoHash: hash, v4: seeder, seeder: true, numwant: 0 });
    assert.equal(await client.strlen(copyKey), (40 - MAX_REMOVALS - 6) * 6);
    assert.equal(await checkCopies(hash, 'public'), 1);
  });

  it('never reads a copy whose length disagrees with its set, and rebuilds it', async () => {
    const hash = randomBytes(20);
    const peers = Array.from({ length: 30 }, (_, i) => v4Addr(10, 5, i));
    const seeder = v4Addr(10, 6, 1);
    for (const p of peers) await announce(publicStore, { infoHash: hash, v4: p, numwant: 0 });
    await announce(publicStore, { infoHash: hash, v4: seeder, seeder: true });
    const copyKey = tagOf(hash) + 'l4' + PACKED_COPY_SUFFIX.public;
    const junk = Buffer.alloc(12, 0xee);
    await client.append(copyKey, junk);
    for (let round = 0; round < 5; round++) {
      const r = await announce(publicStore, { infoHash: hash, v4: seeder, seeder: true, numwant: 50 });
      assert.equal(r.peers4.length, 30 * 6);
      assert.ok(!r.peers4.includes(junk.subarray(0, 6)), 'nothing of the junk is answered');
    }
    assert.equal(await checkCopies(hash, 'public'), 1, 'rebuilt exact');
  });

  it("builds a copy with its set's TTL, which this announce may not have renewed", async () => {
    const hash = randomBytes(20);
    for (let i = 0; i < 10; i++) await announce(publicStore, { infoHash: hash, v4: v4Addr(10, 9, i), seeder: true, numwant: 0 });
    const seeders = tagOf(hash) + 's4';
    await client.expire(seeders, 5);
    // A leecher reads the seeders' copy (built now) but writes only the leechers' set.
    const r = await announce(publicStore, { infoHash: hash, v4: v4Addr(10, 9, 100), numwant: 50 });
    assert.equal(r.peers4.length, 10 * 6);
    const copyTtl = await client.pttl(seeders + PACKED_COPY_SUFFIX.public);
    assert.ok(copyTtl > 0 && copyTtl <= 5000, `the copy expires with its set (${copyTtl} ms), not a peer TTL later`);
  });

  it('keeps no copy of a set larger than its limit, and answers from the set', async () => {
    const hash = randomBytes(20);
    const fits = Math.floor(MAX_BYTES / 6);
    for (let i = 0; i < fits; i += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, fits - i) }, (_, k) =>
          announce(publicStore, { infoHash: hash, v4: v4Addr(11, (i + k) >> 8, (i + k) & 255), numwant: 0 }),
        ),
      );
    }
    const copyKey = tagOf(hash) + 'l4' + PACKED_COPY_SUFFIX.public;
    const seeder = v4Addr(12, 0, 1);
    await announce(publicStore, { infoHash: hash, v4: seeder, seeder: true, numwant: 50 });
    assert.equal(await client.strlen(copyKey), fits * 6, `${fits} peers: a copy of ${fits * 6} bytes`);
    await announce(publicStore, { infoHash: hash, v4: v4Addr(12, 0, 2), numwant: 0 });
    assert.equal(await client.exists(copyKey), 0, 'one more peer: the copy is dropped');
    const r = await announce(publicStore, { infoHash: hash, v4: seeder, seeder: true, numwant: 50 });
    assert.equal(r.peers4.length, 50 * 6, 'answered from the set');
    assert.equal(new Set(entries(r.peers4, 6)).size, 50);
    assert.equal(await client.exists(copyKey), 0, 'and no copy is built for it');
  });

  it('private mode keeps copies of its own (members with the user id), and none of a set with leftovers of public mode', async () => {
    const hash = randomBytes(20);
    let record = 0;
    const access = (userId: number) => ({ requireRegistered: false, requireAllowed: false, userId, uploaded: 0, downloaded: 0, announceId: `r${++record}` });
    const addresses = Array.from({ length: 101 }, (_, u) => v4Addr(10, 7, u));
    const peerIds = Array.from({ length: 101 }, () => randomBytes(20));
    const as = (u: number) => ({ v4: addresses[u]!, peerId: peerIds[u]!, access: access(u) });
    for (let u = 1; u <= 20; u++) await announce(privateStore, { infoHash: hash, ...as(u), seeder: u % 4 === 0, numwant: 0 });
    await announce(privateStore, { infoHash: hash, ...as(100), numwant: 50 });
    await announce(privateStore, { infoHash: hash, ...as(1), event: 'stopped' });
    await announce(privateStore, { infoHash: hash, ...as(2), event: 'completed' });
    const r = await announce(privateStore, { infoHash: hash, ...as(100), numwant: 50 });
    assert.equal(r.peers4.length, 19 * 6, "every other user's peer, addresses only");
    assert.equal(await checkCopies(hash, 'private', 4), 2, 'both IPv4 sets have a copy of 10-byte entries');
    assert.equal(await checkCopies(hash, 'public'), 0, 'and public mode none');
    // A public peer left in the set: the private copy cannot hold it, so there is none.
    await announce(publicStore, { infoHash: hash, v4: v4Addr(10, 8, 1), numwant: 0 });
    const mixed = await announce(privateStore, { infoHash: hash, ...as(100), numwant: 50 });
    assert.equal(mixed.peers4.length, 19 * 6, 'the leftover is not answered in private mode');
    assert.equal(await client.exists(tagOf(hash) + 'l4' + PACKED_COPY_SUFFIX.private), 0);
  });
});
