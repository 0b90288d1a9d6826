/**
 * Per-client announces and hot swarms after real traffic: two trackers on one real redis-server, each
 * with a one-second summary window; the management API and /stats of either answer for both.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { adminClient, ADMIN_TOKEN } from '../helpers/admin.js';
import { announcePath, httpGet, randomHash } from '../helpers/http.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { startTracker, type TestTracker } from '../helpers/tracker.js';
import { waitUntil } from '../helpers/wait.js';

const skip = redisMissing();
const WINDOW_MS = 2000;

/** Waits until just after a window boundary (windows roll at multiples of the window on the clock). */
async function windowStart(): Promise<number> {
  await waitUntil('the start of a window', () => Date.now() % WINDOW_MS > 100 && Date.now() % WINDOW_MS < 300, 5000, 5);
  return windowOf(Date.now());
}
const windowOf = (ms: number): number => Math.floor(ms / WINDOW_MS);
const peerId = (prefix: string): Buffer => Buffer.concat([Buffer.from(prefix, 'latin1'), randomBytes(20 - prefix.length)]);

describe('per-client and hot-swarm visibility across replicas (redis driver)', { skip: skip ?? false }, () => {
  let redis: RedisServer;
  let a: TestTracker;
  let b: TestTracker;
  const hot = randomHash();
  const warm = randomHash();

  before(async () => {
    redis = await startRedis();
    const config = {
      tracker: { driver: 'redis', params: { url: redis.url } },
      metrics: { addr: '127.0.0.1:0', hot_swarms: 16, hot_swarms_window: WINDOW_MS / 1000 },
      admin: { addr: '127.0.0.1:0', token: ADMIN_TOKEN },
    };
    [a, b] = await Promise.all([startTracker(config), startTracker(config)]);
    const window = await windowStart();
    // Within one window of each: 30 announces of `hot` through A and 30 through B, 20 of `warm` through
    // B, and 40 single announces of other swarms, spread over both.
    const announces: Array<Promise<unknown>> = [];
    for (let i = 0; i < 30; i++) {
      announces.push(a.get(announcePath({ infoHash: hot, peerId: peerId('-qB4650-'), port: 10000 + i })));
      announces.push(b.get(announcePath({ infoHash: hot, peerId: peerId('-TR4060-'), port: 11000 + i })));
    }
    for (let i = 0; i < 20; i++) announces.push(b.get(announcePath({ infoHash: warm, peerId: peerId('-qB4650-'), port: 12000 + i })));
    for (let i = 0; i < 40; i++) announces.push((i % 2 ? a : b).get(announcePath({ infoHash: randomHash(), peerId: peerId('XYZ'), port: 13000 + i })));
    const replies = (await Promise.all(announces)) as Array<{ status: number }>;
    assert.ok(replies.every((r) => r.status === 200));
    assert.equal(windowOf(Date.now()), window, 'the load fitted in one window');
  });
  after(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    await redis?.kill();
  });

  it('counts announces by client name, with "other" for unknown prefixes', async () => {
    const text = (await httpGet('127.0.0.1', a.metricsPort!, '/metrics')).body.toString();
    assert.match(text, /^tracker_announces_by_client_total\{client="qBittorrent"\} 30$/m);
    assert.match(text, /^tracker_announces_by_client_total\{client="other"\} 20$/m);
    assert.doesNotMatch(text, /client="Transmission"/, 'only clients seen here are listed');
    const stats = JSON.parse((await httpGet('127.0.0.1', b.metricsPort!, '/stats')).body.toString());
    assert.deepEqual(stats.announces_by_client, { Transmission: 30, qBittorrent: 20, other: 20 });
  });

  it("exports the redis driver's events: every announce counted once, by the path it took", async () => {
    const text = (await httpGet('127.0.0.1', a.metricsPort!, '/metrics')).body.toString();
    let total = 0;
    for (const event of ['announce_fast_lane', 'announce_fast_lane_fallback', 'announce_fast_lane_declined']) {
      const match = new RegExp(`^tracker_driver_events_total\\{driver="redis",event="${event}"\\} (\\d+)$`, 'm').exec(text);
      assert.ok(match, `${event} is exported`);
      total += Number(match[1]);
    }
    // A answered 30 announces of the hot swarm and 20 single ones.
    assert.equal(total, 50);
  });

  it('lists the hottest swarms of both replicas, merged, in the management API and /stats', async () => {
    const api = adminClient(a.adminPort!);
    let answer: any;
    await waitUntil(
      'both replicas published a window holding the announces',
      async () => {
        answer = (await api.get('/swarms/hot?limit=2')).json;
        return answer.replicas === 2 && answer.swarms[0]?.announces === 60;
      },
      10_000,
      100,
    );
    assert.equal(answer.partial, false);
    assert.equal(answer.window_seconds, 2);
    assert.deepEqual(
      answer.swarms.map((s: any) => [s.info_hash, s.announces, s.announces_per_second]),
      [
        [hot.toString('hex'), 60, 30],
        [warm.toString('hex'), 20, 10],
      ],
    );
    const stats = JSON.parse((await httpGet('127.0.0.1', b.metricsPort!, '/stats')).body.toString());
    assert.ok(stats.hot_swarms.swarms.length <= 10);
    // The windows roll on: by now it may be a newer, emptier one, but never another swarm on top.
    if (stats.hot_swarms.swarms.length > 0 && stats.hot_swarms.swarms[0].announces >= 20) {
      assert.ok([hot.toString('hex'), warm.toString('hex')].includes(stats.hot_swarms.swarms[0].info_hash));
    }
  });

  it('exports each replica its hottest swarms as a gauge per info_hash', async () => {
    // A fresh burst on A only, within one window, then that window's gauge.
    const window = await windowStart();
    await Promise.all(Array.from({ length: 15 }, (_, i) => a.get(announcePath({ infoHash: hot, peerId: peerId('-qB4650-'), port: 14000 + i }))));
    assert.equal(windowOf(Date.now()), window, 'the burst fitted in one window');
    let text = '';
    await waitUntil(
      'the burst in a finished window',
      async () => {
        text = (await httpGet('127.0.0.1', a.metricsPort!, '/metrics')).body.toString();
        return new RegExp(`tracker_hot_swarm_announces_per_second\\{info_hash="${hot.toString('hex')}"\\} 7.5$`, 'm').test(text);
      },
      10_000,
      100,
    );
    assert.ok((text.match(/^tracker_hot_swarm_announces_per_second\{/gm) ?? []).length <= 10);
  });

  it('answers 400 to a bad limit', async () => {
    const api = adminClient(a.adminPort!);
    for (const limit of ['0', '101', 'x', '-1']) assert.equal((await api.get(`/swarms/hot?limit=${limit}`)).status, 400, limit);
  });
});
