/**
 * Batched announces (src/store/redis/announce-batch.ts, lua/announce-batch.lua): the announces of one
 * turn share a script call per node. Each answer must be what the same announce sent alone gets, on
 * standalone Redis and on a Cluster whose batch spans the slots of several nodes; a failing announce
 * falls back alone and no announce of a batch is applied twice.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { redisDriver } from '../../../src/store/redis/driver.js';
import type { SwarmAnnounce, SwarmResult, TrackerStore } from '../../../src/store/driver.js';
import { redisMissing, startCluster, startRedis, type RedisCluster, type RedisServer } from '../../helpers/redis.js';

const logger = pino({ level: 'silent' });
const missing = redisMissing();
const PEER_TTL = 3600;

type Open = (batchMax: number, prefix: string) => Promise<TrackerStore>;

/** One turn's announces: several swarms, public and private (several users), every event, seeders and leechers. */
function turns(hashes: Buffer[], privateHashes: Buffer[]): SwarmAnnounce[][] {
  const rounds: SwarmAnnounce[][] = [];
  const events = ['started', 'none', 'completed', 'none', 'stopped'] as const;
  for (let round = 0; round < events.length; round++) {
    const turn: SwarmAnnounce[] = [];
    for (let peer = 0; peer < 6; peer++) {
      // Peers join in later rounds too, so that a batch changes a swarm's counts between its announces.
      if (peer > round + 2) continue;
      const event = peer % 2 === 0 ? events[round]! : events[Math.max(0, round - 1)]!;
      for (const [i, infoHash] of [...hashes, ...privateHashes].entries()) {
        const isPrivate = i >= hashes.length;
        const a: SwarmAnnounce = {
          infoHash,
          peerId: Buffer.alloc(20, 1 + peer),
          v4: Buffer.from([10, i, 0, peer + 1, 0x1a, 0xe1]),
          seeder: event === 'completed' || (peer === 5 && round > 3),
          event,
          numwant: 50,
          want4: true,
          want6: false,
          subnet4: 0,
          subnet6: 0,
          withPeerIds: false,
        };
        if (isPrivate) {
          a.access = {
            requireRegistered: true,
            requireAllowed: false,
            userId: 1 + (peer % 3),
            uploaded: 1000 * (round + 1) + peer,
            downloaded: 10 * (round + 1),
            announceId: `r${i}-${round}-${peer}`,
          };
        }
        turn.push(a);
      }
    }
    rounds.push(turn);
  }
  return rounds;
}

/** An answer with its peers as a sorted list (which peers, not their order, is what must agree). */
function comparable(result: SwarmResult | Error): unknown {
  if (result instanceof Error) return { error: result.message };
  const entries = (packed: Buffer, size: number) =>
    Array.from({ length: packed.length / size }, (_, i) => packed.subarray(i * size, (i + 1) * size).toString('hex')).sort();
  return { ...result, peers4: entries(result.peers4, 6), peers6: entries(result.peers6, 18) };
}

/** Every turn's announces sent together (one turn each), their answers in order. */
async function run(store: TrackerStore, rounds: SwarmAnnounce[][]): Promise<unknown[]> {
  const answers: unknown[] = [];
  for (const turn of rounds) {
    const results = await Promise.all(turn.map((a) => store.announce(a).catch((error: Error) => error)));
    answers.push(...results.map(comparable));
  }
  return answers;
}

const registered = (store: TrackerStore, hashes: Buffer[]) =>
  Promise.all(hashes.map((infoHash, i) => store.catalogue!.putTorrent({ infoHash, id: 100 + i, upMultiplier: 1, downMultiplier: 1, freeleech: false })));

/**
 * Batches until one turn's announces of many swarms go without a fallback: the lanes are connected and
 * the batch script is loaded on every node (a node's first batch answers NOSCRIPT and falls back).
 */
async function warm(store: TrackerStore): Promise<void> {
  const hashes = Array.from({ length: 24 }, () => randomBytes(20));
  for (let round = 0; round < 50; round++) {
    const before = store.events!();
    await Promise.all(
      hashes.map((infoHash, k) =>
        store.announce({
          infoHash,
          peerId: Buffer.alloc(20, 9),
          v4: Buffer.from([10, 9, 9, k, 0, 1]),
          seeder: false,
          event: 'none',
          numwant: 5,
          want4: true,
          want6: false,
          subnet4: 0,
          subnet6: 0,
          withPeerIds: false,
        }),
      ),
    );
    const events = store.events!();
    if (events.announce_batched! - before.announce_batched! === hashes.length && events.announce_fast_lane_fallback === before.announce_fast_lane_fallback)
      return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the batches kept falling back');
}

function sameAnswersAsSingles(open: () => Open): void {
  it('a batch of announces of several swarms and users in one turn gives the answers of the same announces sent alone', async () => {
    const hashes = Array.from({ length: 4 }, () => randomBytes(20));
    const privateHashes = Array.from({ length: 3 }, () => randomBytes(20));
    const rounds = turns(hashes, privateHashes);
    const singles = await open()(1, `s${randomBytes(3).toString('hex')}:`);
    const batched = await open()(32, `b${randomBytes(3).toString('hex')}:`);
    try {
      await warm(batched);
      await registered(singles, privateHashes);
      await registered(batched, privateHashes);
      const before = batched.events!();
      const expected = await run(singles, rounds);
      const got = await run(batched, rounds);
      const events = batched.events!();
      assert.ok(
        events.announce_batched! - before.announce_batched! >= rounds.flat().length - rounds.length,
        `announces went in batches: ${JSON.stringify(events)}`,
      );
      assert.equal(events.announce_fast_lane_fallback, before.announce_fast_lane_fallback, 'no batch fell back');
      assert.equal(singles.events!().announce_batch_calls, undefined, 'batch_max 1 sends no batch');
      assert.deepEqual(got, expected);
      // The answers say something: snatches counted, private totals known, peers returned.
      const flat = got as Array<{ snatched?: boolean; previous?: unknown; peers4?: string[] }>;
      assert.ok(flat.some((r) => r.snatched === true));
      assert.ok(flat.some((r) => r.previous !== null && r.previous !== undefined));
      assert.ok(flat.some((r) => (r.peers4?.length ?? 0) >= 3));
    } finally {
      await singles.close();
      await batched.close();
    }
  });
}

describe('batched announces', { skip: missing ?? false }, () => {
  describe('standalone', () => {
    let server: RedisServer;
    before(async () => {
      server = await startRedis();
    });
    after(() => server.kill());
    const open = (): Open => (batchMax, prefix) =>
      redisDriver.open({ url: server.url, prefix, batch_max: batchMax, command_timeout: 5000 }, { peerTtl: PEER_TTL, logger });
    sameAnswersAsSingles(open);

    it('a batch leaves the same keys, TTLs and peers as the same announces sent alone (stale peers and totals expired, sets emptied and made again)', async () => {
      const singles = await open()(1, `ts${randomBytes(3).toString('hex')}:`);
      const batched = await open()(32, `tb${randomBytes(3).toString('hex')}:`);
      const redis = new Redis(server.url);
      const publicHash = randomBytes(20);
      const privateHash = randomBytes(20);
      const user = (id: number) => {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(id);
        return b;
      };
      // Stale state written as an earlier run would have left it (last seen at second 1): more stale
      // totals than one call sweeps, stale peers in both swarms.
      const seed = async (store: TrackerStore) => {
        const prefix = (store as unknown as { params: { prefix: string } }).params.prefix;
        const tag = (h: Buffer) => `${prefix}{${h.toString('hex')}}:`;
        const p = tag(privateHash);
        const stale = Array.from({ length: 70 }, (_, i) => Buffer.concat([user(7), Buffer.alloc(20, i + 1)]));
        for (const field of stale) {
          await redis.hset(`${p}p`, field, '5:5#old##0#old#1#0:0#0#0');
          await redis.zadd(`${p}pa`, 1, field);
        }
        await redis.hset(`${p}p`, user(7), String(stale.length));
        await redis.zadd(`${p}l4`, '1', Buffer.concat([Buffer.from([10, 7, 7, 7, 0, 1]), user(7)]));
        await redis.zadd(`${tag(publicHash)}l4`, '1', Buffer.from([10, 7, 7, 7, 0, 1]));
        return prefix;
      };
      const announce = (infoHash: Buffer, peer: number, event: SwarmAnnounce['event']): SwarmAnnounce => {
        const a: SwarmAnnounce = {
          infoHash,
          peerId: Buffer.alloc(20, 100 + peer),
          v4: Buffer.from([10, 2, 2, peer, 0, 1]),
          seeder: event === 'completed',
          event,
          numwant: 50,
          want4: true,
          want6: false,
          subnet4: 0,
          subnet6: 0,
          withPeerIds: false,
        };
        if (infoHash === privateHash) {
          a.access = { requireRegistered: false, requireAllowed: false, userId: 1, uploaded: 10 * peer, downloaded: peer, announceId: `t-${peer}-${event}` };
        }
        return a;
      };
      // One turn: two peers come (the first two calls sweep the stale totals) and go (the sets and the
      // totals hash are deleted), then others come (the keys are made again, and need their TTLs
      // again), one completes.
      const turn = [publicHash, privateHash].flatMap((h) => [
        announce(h, 1, 'started'),
        announce(h, 2, 'started'),
        announce(h, 1, 'stopped'),
        announce(h, 2, 'stopped'),
        announce(h, 3, 'started'),
        announce(h, 4, 'started'),
        announce(h, 4, 'completed'),
      ]);
      /** Every key of the store: its name (less the prefix), its TTL class, its members or fields. */
      const state = async (prefix: string) => {
        const names = [
          ...(await redis.keys(`${prefix}{${publicHash.toString('hex')}}*`)),
          ...(await redis.keys(`${prefix}{${privateHash.toString('hex')}}*`)),
        ].sort();
        const out: Record<string, unknown> = {};
        for (const name of names) {
          const ttl = await redis.ttl(name);
          // Both runs set the same TTLs a moment apart: the same within a second or two.
          const ttlClass = ttl < 0 ? ttl : ttl > PEER_TTL - 5 && ttl <= PEER_TTL + 1 ? 'peer ttl' : ttl;
          const type = await redis.type(name);
          let content: unknown = null;
          if (type === 'zset') content = (await redis.zrangeBuffer(name, '0', '-1')).map((m) => m.toString('hex')).sort();
          if (type === 'hash') content = (await redis.hkeysBuffer(name)).map((m) => m.toString('hex')).sort();
          out[name.slice(prefix.length)] = { ttlClass, type, content };
        }
        return out;
      };
      try {
        await warm(batched);
        const singlesPrefix = await seed(singles);
        const batchedPrefix = await seed(batched);
        const before = batched.events!();
        for (const a of turn) await singles.announce(a);
        await Promise.all(turn.map((a) => batched.announce(a)));
        const events = batched.events!();
        assert.equal(events.announce_batched! - before.announce_batched!, turn.length, 'the whole turn went in a batch');
        const expected = await state(singlesPrefix);
        const got = await state(batchedPrefix);
        assert.deepEqual(got, expected);
        // The comparison says something: the keys made again have their TTLs, the stale are gone.
        const p = `{${privateHash.toString('hex')}}:`;
        assert.equal((expected[`${p}p`] as { ttlClass: unknown }).ttlClass, 'peer ttl');
        assert.equal((expected[`${p}l4`] as { ttlClass: unknown }).ttlClass, 'peer ttl');
        assert.deepEqual((expected[`${p}pa`] as { content: string[] }).content.length, 2, 'the stale totals all swept');
      } finally {
        redis.disconnect();
        await singles.close();
        await batched.close();
      }
    });

    it('an announce failing inside a batch falls back alone; the others are applied once (no snatch counted twice)', async () => {
      const store = await open()(32, `f${randomBytes(3).toString('hex')}:`);
      const redis = new Redis(server.url);
      try {
        await warm(store);
        const good = randomBytes(20);
        const broken = randomBytes(20);
        // A key of the wrong type: that announce's commands fail (WRONGTYPE), alone or in a batch.
        await redis.set(`${(store as unknown as { params: { prefix: string } }).params.prefix}{${broken.toString('hex')}}:l4`, 'x');
        const announce = (infoHash: Buffer, peer: number, event: SwarmAnnounce['event']): SwarmAnnounce => ({
          infoHash,
          peerId: Buffer.alloc(20, peer),
          v4: Buffer.from([10, 1, 1, peer, 0, 1]),
          seeder: event === 'completed',
          event,
          numwant: 50,
          want4: true,
          want6: false,
          subnet4: 0,
          subnet6: 0,
          withPeerIds: false,
        });
        await store.announce(announce(good, 1, 'started'));
        await store.announce(announce(good, 2, 'started'));
        const before = store.events!();
        const results = await Promise.all([
          store.announce(announce(good, 1, 'completed')),
          store.announce(announce(broken, 3, 'started')).catch((error: Error) => error),
          store.announce(announce(good, 2, 'completed')),
        ]);
        const events = store.events!();
        assert.equal(events.announce_batch_calls! - before.announce_batch_calls!, 1, 'one batch');
        assert.equal(events.announce_fast_lane_fallback! - before.announce_fast_lane_fallback!, 1, 'only the broken announce fell back');
        assert.ok(results[1] instanceof Error && /WRONGTYPE/.test(results[1].message), 'the broken announce fails as it would alone');
        const [first, , second] = results as [SwarmResult, Error, SwarmResult];
        assert.equal(first.snatched, true);
        assert.equal(second.snatched, true);
        assert.equal(second.downloaded, 2, 'each completion counted once');
        assert.equal((await store.scrape([good]))[0]!.downloaded, 2);
      } finally {
        redis.disconnect();
        await store.close();
      }
    });

    it('a batch refused as a whole (NOSCRIPT) falls back announce by announce, each applied once', async () => {
      const store = await open()(32, `n${randomBytes(3).toString('hex')}:`);
      const redis = new Redis(server.url);
      try {
        await warm(store);
        const hash = randomBytes(20);
        await registered(store, [hash]);
        await redis.script('FLUSH');
        const before = store.events!();
        const results = await Promise.all(
          [1, 2, 3].map((peer) =>
            store.announce({
              infoHash: hash,
              peerId: Buffer.alloc(20, peer),
              v4: Buffer.from([10, 2, 2, peer, 0, 1]),
              seeder: true,
              event: 'completed',
              numwant: 50,
              want4: true,
              want6: false,
              subnet4: 0,
              subnet6: 0,
              withPeerIds: false,
              access: { requireRegistered: true, requireAllowed: false, userId: peer, uploaded: 500, downloaded: 7, announceId: `n${peer}` },
            }),
          ),
        );
        const events = store.events!();
        assert.equal(events.announce_fast_lane_fallback! - before.announce_fast_lane_fallback!, 3, 'the whole batch fell back');
        assert.deepEqual(
          results.map((r) => [r.snatched, r.previous]),
          [
            [true, null],
            [true, null],
            [true, null],
          ],
        );
        assert.equal((await store.scrape([hash]))[0]!.downloaded, 3, 'each snatch counted once');
      } finally {
        redis.disconnect();
        await store.close();
      }
    });
  });

  describe('Cluster of 3 masters and 3 replicas', () => {
    let cluster: RedisCluster;
    before(async () => {
      cluster = await startCluster();
    });
    after(() => cluster.stop());
    const open = (): Open => (batchMax, prefix) =>
      redisDriver.open({ cluster: cluster.addresses, prefix, batch_max: batchMax, command_timeout: 5000 }, { peerTtl: PEER_TTL, logger });
    sameAnswersAsSingles(open);

    it("one turn's announces of swarms on every master go in one batch per master", async () => {
      const store = await open()(32, `k${randomBytes(3).toString('hex')}:`);
      try {
        await warm(store);
        const hashes = Array.from({ length: 30 }, () => randomBytes(20));
        const before = store.events!();
        const results = await Promise.all(
          hashes.map((infoHash, k) =>
            store.announce({
              infoHash,
              peerId: Buffer.alloc(20, 3),
              v4: Buffer.from([10, 3, 3, k, 0, 1]),
              seeder: false,
              event: 'started',
              numwant: 5,
              want4: true,
              want6: false,
              subnet4: 0,
              subnet6: 0,
              withPeerIds: false,
            }),
          ),
        );
        const events = store.events!();
        assert.deepEqual(
          results.map((r) => r.incomplete),
          hashes.map(() => 1),
        );
        assert.equal(events.announce_fast_lane_fallback, before.announce_fast_lane_fallback, 'no CROSSSLOT, no fallback');
        assert.equal(events.announce_batch_calls! - before.announce_batch_calls!, 3, 'one call per master');
        assert.equal(events.announce_batched! - before.announce_batched!, 30);
      } finally {
        await store.close();
      }
    });
  });
});
