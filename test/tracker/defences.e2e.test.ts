/**
 * Request budgets, min interval enforcement and admission control, end to end over real sockets from
 * loopback addresses, on both drivers (Redis a real redis-server, out of memory for real).
 */
import { Redis } from 'ioredis';
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { announcePath, decode, httpGet, peerList, randomHash, randomPeerId, scrapePath } from '../helpers/http.js';
import { LoopbackClient, metricValue, udpFrom } from '../helpers/loopback-clients.js';
import { redisCli, redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { startTracker, type TestTracker } from '../helpers/tracker.js';
import { announcePacket, connectPacket, readAnnounceReply, readError } from '../helpers/udp.js';

const metricsOf = async (t: TestTracker): Promise<string> => (await httpGet('127.0.0.1', t.metricsPort!, '/metrics')).body.toString();

/** Waits, if need be, until at least `needMs` remain of the current budget window. */
async function freshWindow(windowSeconds: number, needMs: number): Promise<void> {
  const left = windowSeconds * 1000 - (Date.now() % (windowSeconds * 1000));
  if (left < needMs) await sleep(left + 50);
}

async function scrapeCounts(t: TestTracker, hash: Buffer, from = '127.0.0.1'): Promise<{ complete: number; incomplete: number }> {
  const reply = await httpGet('127.0.0.1', t.port, scrapePath([hash]), {}, from);
  const files = decode(reply.body).files as Record<string, { complete: number; incomplete: number }>;
  const counts = Object.values(files)[0]!;
  return { complete: counts.complete, incomplete: counts.incomplete };
}

describe('request budgets, one process', () => {
  let t: TestTracker;
  before(async () => {
    t = await startTracker({ budget: { window: 60, per_address: 5, per_subnet: 1000 }, metrics: { addr: '[::]:0' } });
  });
  after(() => t.close());

  it('refuses an HTTP address over budget with a failure reason that changes nothing, announces and scrapes alike', async () => {
    await freshWindow(60, 10_000);
    const client = new LoopbackClient('127.5.0.2', t.port);
    for (let i = 0; i < 5; i++) {
      const ok = await client.get(announcePath({ infoHash: randomHash(), event: 'started' }));
      assert.equal(ok.failureReason, undefined, `announce ${i + 1} of 5`);
    }
    const refusedHash = randomHash();
    const refused = await client.get(announcePath({ infoHash: refusedHash, event: 'started' }));
    assert.equal(refused.failureReason, 'too many requests from your address: slow down and retry later');
    const refusedScrape = await client.get(scrapePath([refusedHash]));
    assert.match(refusedScrape.failureReason ?? '', /too many requests from your address/);
    client.close();
    // Another address of the same /24 has its own budget, and sees that the refused announce stored nothing.
    assert.deepEqual(await scrapeCounts(t, refusedHash, '127.5.0.3'), { complete: 0, incomplete: 0 });
  });

  it('refuses a UDP address over budget with an error packet', async () => {
    await freshWindow(60, 10_000);
    const connect = await udpFrom('127.6.0.2', t.udpPort, connectPacket(42));
    const connectionId = connect!.subarray(8, 16);
    for (let i = 0; i < 5; i++) {
      const reply = await udpFrom('127.6.0.2', t.udpPort, announcePacket({ connectionId, infoHash: randomHash() }));
      assert.equal(readAnnounceReply(reply!).interval > 0, true);
    }
    const refused = await udpFrom('127.6.0.2', t.udpPort, announcePacket({ connectionId, infoHash: randomHash() }));
    assert.equal(readError(refused!), 'too many requests from your address: slow down and retry later');
  });

  it('counts refusals by protocol and action, and the addresses over budget', async () => {
    const text = await metricsOf(t);
    assert.equal(metricValue(text, 'tracker_budget_refusals_total', { protocol: 'http', action: 'announce', scope: 'address' }), 1);
    assert.equal(metricValue(text, 'tracker_budget_refusals_total', { protocol: 'http', action: 'scrape', scope: 'address' }), 1);
    assert.equal(metricValue(text, 'tracker_budget_refusals_total', { protocol: 'udp', action: 'announce', scope: 'address' }), 1);
    assert.equal(metricValue(text, 'tracker_budget_over', { scope: 'address' }), 2);
    assert.equal(metricValue(text, 'tracker_budget_over', { scope: 'subnet' }), 0);
  });
});

describe('request budgets per subnet, behind a trusted proxy', () => {
  it('counts the forwarded address, and holds a /24 to its budget across its addresses', async () => {
    const t = await startTracker({ budget: { window: 60, per_address: 100, per_subnet: 6 }, trusted_proxies: ['127.0.0.1/32'] });
    try {
      await freshWindow(60, 10_000);
      const outcomes: string[] = [];
      for (let i = 0; i < 10; i++) {
        const reply = await t.get(announcePath({ infoHash: randomHash(), event: 'started' }), { 'X-Forwarded-For': `198.51.100.${i + 1}` });
        outcomes.push(String(decode(reply.body)['failure reason'] ? Buffer.from(decode(reply.body)['failure reason'] as Uint8Array) : 'ok'));
      }
      assert.deepEqual(outcomes.slice(0, 6), Array(6).fill('ok'));
      assert.deepEqual(outcomes.slice(6), Array(4).fill('too many requests from your network: slow down and retry later'));
      const other = await t.get(announcePath({ infoHash: randomHash(), event: 'started' }), { 'X-Forwarded-For': '203.0.113.7' });
      assert.equal(decode(other.body)['failure reason'], undefined, 'another /24');
    } finally {
      await t.close();
    }
  });
});

/** The shared min interval checks, for either driver. */
function minIntervalSuite(
  name: string,
  trackerParams: () => Record<string, unknown>,
  lastSeen: (t: TestTracker, hash: Buffer, port: number) => Promise<string>,
): void {
  describe(`min interval enforcement, ${name} driver`, () => {
    const base = { announce_interval: 60, interval_jitter: 0, min_announce_interval: 5, peer_ttl: 120 };

    it('answers an announce without an event sooner than min interval, with counts, and writes nothing; later ones are written', async () => {
      const t = await startTracker({ ...base, tracker: trackerParams(), metrics: { addr: '[::]:0' } });
      try {
        const hash = randomHash();
        const first = decode((await t.get(announcePath({ infoHash: hash, port: 7001, event: 'started', peerId: Buffer.from('-AA0001-aaaaaaaaaaaa') }))).body);
        assert.equal(first.incomplete, 1);
        const seenAfterFirst = await lastSeen(t, hash, 7001);
        await sleep(1200);
        const early = decode((await t.get(announcePath({ infoHash: hash, port: 7001, peerId: Buffer.from('-BB0002-bbbbbbbbbbbb') }))).body);
        assert.equal(early['failure reason'], undefined);
        assert.equal(early.incomplete, 1, 'counts are answered');
        assert.equal(await lastSeen(t, hash, 7001), seenAfterFirst, 'the peer was not written again');
        const text = await metricsOf(t);
        assert.equal(metricValue(text, 'tracker_min_interval_total', { outcome: 'answered' }), 1);
        await sleep(4000);
        const later = decode((await t.get(announcePath({ infoHash: hash, port: 7001, peerId: Buffer.from('-BB0002-bbbbbbbbbbbb') }))).body);
        assert.equal(later['failure reason'], undefined);
        assert.notEqual(await lastSeen(t, hash, 7001), seenAfterFirst, 'min interval passed: written');
      } finally {
        await t.close();
      }
    });

    it('refuses it under "refuse"; started, completed and stopped always pass', async () => {
      const t = await startTracker({ ...base, min_interval_enforcement: 'refuse', tracker: trackerParams() });
      try {
        const hash = randomHash();
        const peerId = randomPeerId();
        assert.equal(decode((await t.get(announcePath({ infoHash: hash, port: 7002, peerId, event: 'started' }))).body).incomplete, 1);
        const early = decode((await t.get(announcePath({ infoHash: hash, port: 7002, peerId }))).body);
        assert.equal(
          Buffer.from(early['failure reason'] as Uint8Array).toString(),
          'announcing too often: wait min interval between announces without an event',
        );
        const again = decode((await t.get(announcePath({ infoHash: hash, port: 7002, peerId, event: 'started' }))).body);
        assert.equal(again['failure reason'], undefined);
        const completed = decode((await t.get(announcePath({ infoHash: hash, port: 7002, peerId, event: 'completed', left: 0 }))).body);
        assert.deepEqual([completed['failure reason'], completed.complete, completed.downloaded], [undefined, 1, 1]);
        const stopped = decode((await t.get(announcePath({ infoHash: hash, port: 7002, peerId, event: 'stopped', left: 0 }))).body);
        assert.deepEqual([stopped['failure reason'], stopped.complete], [undefined, 0]);
      } finally {
        await t.close();
      }
    });

    it('writes a change of state (leecher to seeder without an event) however soon', async () => {
      const t = await startTracker({ ...base, tracker: trackerParams() });
      try {
        const hash = randomHash();
        await t.get(announcePath({ infoHash: hash, port: 7003, event: 'started' }));
        const seeding = decode((await t.get(announcePath({ infoHash: hash, port: 7003, left: 0 }))).body);
        assert.deepEqual([seeding.complete, seeding.incomplete], [1, 0]);
      } finally {
        await t.close();
      }
    });
  });
}

/** Memory: the last-seen state shows as the peer id other peers get (a non-compact answer). */
minIntervalSuite(
  'memory',
  () => ({ driver: 'memory' }),
  async (t, hash) => {
    const reply = decode((await t.get(announcePath({ infoHash: hash, port: 7999, compact: 0, event: 'started' }))).body);
    await t.get(announcePath({ infoHash: hash, port: 7999, event: 'stopped' }));
    const peers = reply.peers as Array<{ port: number; 'peer id': Uint8Array }>;
    return Buffer.from(peers.find((p) => p.port !== 7999)!['peer id']).toString();
  },
);

/** A loopback peer's member in a swarm's IPv4 sets: its compact address. */
const member4 = (port: number): Buffer => Buffer.from([127, 0, 0, 1, port >> 8, port & 255]);

describe('with Redis', { skip: redisMissing() ?? false }, () => {
  let redis: RedisServer;
  let client: Redis;
  before(async () => {
    redis = await startRedis();
    client = new Redis(redis.port, '127.0.0.1');
  });
  after(async () => {
    client.disconnect();
    await redis.kill();
  });

  /** Redis: the peer's score (last announce, whole seconds) in its leechers set. */
  minIntervalSuite(
    'redis',
    () => ({ driver: 'redis', params: { url: redis.url, prefix: 'mi:' } }),
    async (_t, hash, port) => String(await client.zscore(`mi:{${hash.toString('hex')}}:l4`, member4(port))),
  );
});

describe('admission control, memory driver', () => {
  it('answers new peers beyond max_peers without storing them, with a warning; known peers keep announcing', async () => {
    const t = await startTracker({ tracker: { driver: 'memory', params: { max_peers: 3 } }, min_interval_enforcement: 'off', metrics: { addr: '[::]:0' } });
    try {
      const hash = randomHash();
      for (let port = 7001; port <= 7003; port++)
        assert.equal(decode((await t.get(announcePath({ infoHash: hash, port, event: 'started' }))).body)['warning message'], undefined);
      const turnedAway = decode((await t.get(announcePath({ infoHash: hash, port: 7004, event: 'started' }))).body);
      assert.equal(turnedAway['failure reason'], undefined);
      assert.equal(
        Buffer.from(turnedAway['warning message'] as Uint8Array).toString(),
        'the tracker holds as many peers as it may: you got peers but were not added to the swarm',
      );
      assert.equal(peerList(turnedAway.peers as Uint8Array, 4).length, 3, 'it still gets peers');
      assert.deepEqual(await scrapeCounts(t, hash), { complete: 0, incomplete: 3 });
      const known = decode((await t.get(announcePath({ infoHash: hash, port: 7001 }))).body);
      assert.deepEqual([known['failure reason'], known['warning message'], known.incomplete], [undefined, undefined, 3]);
      // Another swarm: the limit is the process's.
      const elsewhere = decode((await t.get(announcePath({ infoHash: randomHash(), port: 7005, event: 'started' }))).body);
      assert.ok(elsewhere['warning message']);
      // Room again once a peer leaves.
      await t.get(announcePath({ infoHash: hash, port: 7002, event: 'stopped' }));
      assert.equal(decode((await t.get(announcePath({ infoHash: hash, port: 7004, event: 'started' }))).body)['warning message'], undefined);
      assert.equal(metricValue(await metricsOf(t), 'tracker_admission_refused_total', { reason: 'peer_limit' }), 2);
    } finally {
      await t.close();
    }
  });
});

describe('admission control, redis driver', { skip: redisMissing() ?? false }, () => {
  let redis: RedisServer;
  let client: Redis;
  before(async () => {
    redis = await startRedis({ args: ['--maxmemory-policy', 'noeviction'] });
    client = new Redis(redis.port, '127.0.0.1');
  });
  after(async () => {
    client.disconnect();
    await redis.kill();
  });

  it('answers new peers beyond max_swarm_peers without storing them; other swarms and known peers carry on', async () => {
    const t = await startTracker({
      tracker: { driver: 'redis', params: { url: redis.url, prefix: 'cap:', max_swarm_peers: 3 } },
      min_interval_enforcement: 'off',
      metrics: { addr: '[::]:0' },
    });
    try {
      const hash = randomHash();
      for (let port = 7001; port <= 7003; port++)
        assert.equal(decode((await t.get(announcePath({ infoHash: hash, port, event: 'started' }))).body)['warning message'], undefined);
      const turnedAway = decode((await t.get(announcePath({ infoHash: hash, port: 7004, event: 'completed', left: 0 }))).body);
      assert.equal(
        Buffer.from(turnedAway['warning message'] as Uint8Array).toString(),
        'this swarm holds as many peers as it may: you got peers but were not added to it',
      );
      assert.equal(peerList(turnedAway.peers as Uint8Array, 4).length, 3);
      assert.equal(turnedAway.downloaded, 0, 'a peer not stored counts no snatch');
      assert.equal(await redisCli(redis.port, 'ZCARD', `cap:{${hash.toString('hex')}}:l4`), '3');
      const known = decode((await t.get(announcePath({ infoHash: hash, port: 7003, left: 0 }))).body);
      assert.deepEqual([known['warning message'], known.complete, known.incomplete], [undefined, 1, 2]);
      assert.equal(decode((await t.get(announcePath({ infoHash: randomHash(), port: 7005, event: 'started' }))).body)['warning message'], undefined);
      assert.equal(metricValue(await metricsOf(t), 'tracker_admission_refused_total', { reason: 'swarm_limit' }), 1);
    } finally {
      await t.close();
    }
  });

  it('turns Redis OOM (maxmemory, noeviction) into a degraded mode: new peers answered but not stored, known ones refreshed, no errors', async () => {
    const t = await startTracker({
      tracker: { driver: 'redis', params: { url: redis.url, prefix: 'oom:' } },
      min_interval_enforcement: 'off',
      metrics: { addr: '[::]:0' },
    });
    try {
      const hash = randomHash();
      const setKey = `oom:{${hash.toString('hex')}}:l4`;
      for (let port = 7001; port <= 7020; port++) await t.get(announcePath({ infoHash: hash, port, event: 'started' }));
      assert.equal(await redisCli(redis.port, 'ZCARD', setKey), '20');
      // A small maxmemory, then a filler that takes Redis past it: every write script is refused from now on.
      const used = Number(/used_memory:(\d+)/.exec(await redisCli(redis.port, 'INFO', 'memory'))![1]);
      await redisCli(redis.port, 'CONFIG', 'SET', 'maxmemory', String(used + 512 * 1024));
      await redisCli(redis.port, 'SETRANGE', 'oom-filler', String(1024 * 1024), 'x');
      await assert.rejects(client.set('probe', '1'), /^ReplyError: OOM/, 'Redis refuses writes now');
      const before = Number(await client.zscore(setKey, member4(7001)));
      await sleep(1100);

      const outcomes = [];
      for (let port = 7100; port < 7150; port++) outcomes.push(decode((await t.get(announcePath({ infoHash: hash, port, event: 'started' }))).body));
      for (const o of outcomes) {
        assert.equal(o['failure reason'], undefined);
        assert.equal(
          Buffer.from(o['warning message'] as Uint8Array).toString(),
          'the tracker is out of storage: you got peers but were not added to the swarm',
        );
        assert.equal(o.incomplete, 20);
      }
      const known = decode((await t.get(announcePath({ infoHash: hash, port: 7001 }))).body);
      assert.deepEqual([known['failure reason'], known['warning message'], known.incomplete], [undefined, undefined, 20]);
      const refreshed = Number(await client.zscore(setKey, member4(7001)));
      assert.ok(refreshed > before, 'a known peer is refreshed in degraded mode');
      assert.equal(await redisCli(redis.port, 'ZCARD', setKey), '20', 'no new peer stored');
      const text = await metricsOf(t);
      assert.equal(metricValue(text, 'tracker_admission_refused_total', { reason: 'out_of_memory' }), 50);
      assert.equal(metricValue(text, 'tracker_requests_total', { outcome: 'server_error' }), 0, 'no error storm');

      // Room again: the store leaves degraded mode by itself within a second.
      await redisCli(redis.port, 'DEL', 'oom-filler');
      await redisCli(redis.port, 'CONFIG', 'SET', 'maxmemory', '0');
      await sleep(1100);
      const stored = decode((await t.get(announcePath({ infoHash: hash, port: 7200, event: 'started' }))).body);
      assert.deepEqual([stored['warning message'], stored.incomplete], [undefined, 21]);
    } finally {
      await t.close();
    }
  });
});
