/** Prometheus metrics and the JSON /stats view, read over HTTP after real traffic. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { startAdminTracker, type AdminClient } from '../helpers/admin.js';
import { redisCli, redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { announcePath, httpGet, randomHash, scrapePath } from '../helpers/http.js';
import { startTracker, type TestTracker } from '../helpers/tracker.js';
import { announcePacket, udpConnect, udpRequest } from '../helpers/udp.js';

describe('metrics', () => {
  let t: TestTracker;
  const get = (path: string) => httpGet('127.0.0.1', t.metricsPort!, path);
  before(async () => {
    t = await startTracker({ metrics: { addr: '[::]:0' } });
    const hash = randomHash();
    for (let i = 0; i < 3; i++) await t.get(announcePath({ infoHash: hash, port: 7000 + i }));
    await t.get(announcePath({ infoHash: randomHash(), port: 7100 }), {}, '::1');
    await t.get('/announce?info_hash=short');
    await t.get(scrapePath([hash]));
    const connectionId = await udpConnect('127.0.0.1', t.udpPort);
    await udpRequest('127.0.0.1', t.udpPort, announcePacket({ connectionId, infoHash: hash, port: 7200 }));
    await udpRequest('127.0.0.1', t.udpPort, announcePacket({ connectionId: Buffer.alloc(8), infoHash: hash }));
  });
  after(() => t.close());

  it('counts requests by protocol, action, family and outcome', async () => {
    const reply = await get('/metrics');
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /text\/plain/);
    const text = reply.body.toString();
    const expect = [
      'tracker_requests_total{protocol="http",action="announce",family="4",outcome="ok"} 3',
      'tracker_requests_total{protocol="http",action="announce",family="6",outcome="ok"} 1',
      'tracker_requests_total{protocol="http",action="announce",family="4",outcome="client_error"} 1',
      'tracker_requests_total{protocol="http",action="scrape",family="4",outcome="ok"} 1',
      'tracker_requests_total{protocol="udp",action="connect",family="4",outcome="ok"} 1',
      'tracker_requests_total{protocol="udp",action="announce",family="4",outcome="ok"} 1',
      'tracker_requests_total{protocol="udp",action="announce",family="4",outcome="client_error"} 1',
      'tracker_request_duration_seconds_count{protocol="http",action="announce"} 5',
      'tracker_driver_duration_seconds_count{driver="memory",operation="announce"} 5',
      'tracker_driver_duration_seconds_count{driver="memory",operation="scrape"} 1',
      'tracker_swarms 2',
      'tracker_peers 5',
      'tracker_driver_ready 1',
    ];
    for (const line of expect) assert.ok(text.split('\n').includes(line), `missing (as a whole line): ${line}`);
    assert.match(text, /process_cpu_user_seconds_total \d/);
    assert.match(text, /nodejs_eventloop_lag_seconds \d/);
  });

  it('serves the same numbers as JSON on /stats, and 404 elsewhere', async () => {
    const stats = JSON.parse((await get('/stats')).body.toString());
    assert.equal(stats.driver, 'memory');
    assert.equal(stats.swarms, 2);
    assert.equal(stats.peers, 5);
    assert.equal(stats.requests.http_announce_ok, 4);
    assert.equal(stats.requests.udp_announce_client_error, 1);
    assert.ok(stats.uptime_seconds >= 0);
    assert.equal((await get('/nothing')).status, 404);
  });
});

describe('backend metrics', { skip: redisMissing() ?? false }, () => {
  let redis: RedisServer;
  let t: TestTracker & { admin: AdminClient };
  before(async () => {
    redis = await startRedis();
    t = await startAdminTracker({
      metrics: { addr: '[::]:0' },
      private_enabled: true,
      backend: { driver: 'redis-stream', params: { url: redis.url, stream: 'metrics:accounting', flush_interval: 50 } },
    });
  });
  after(async () => {
    await t?.close();
    await redis?.kill();
  });

  it('shows the accounting queue: records, depth, flushes, drops and waits', async () => {
    const hash = randomHash();
    await t.admin.put('/users/1', { passkey: 'metricspasskey01' });
    await t.admin.put(`/torrents/${hash.toString('hex')}`, { id: 1 });
    for (let i = 0; i < 4; i++) await t.get(announcePath({ infoHash: hash, port: 7300 + i, uploaded: i * 100 }, '/metricspasskey01'));
    await setTimeout(300); // a flush interval and then some
    const text = (await httpGet('127.0.0.1', t.metricsPort!, '/metrics')).body.toString();
    for (const line of [
      'tracker_backend_records_total{backend="redis-stream"} 4',
      'tracker_backend_queue_depth{backend="redis-stream"} 0',
      'tracker_backend_dropped_total{backend="redis-stream"} 0',
      'tracker_backend_blocked_total{backend="redis-stream"} 0',
      'tracker_backend_flushes_total{backend="redis-stream",outcome="error"} 0',
    ]) {
      assert.ok(text.split('\n').includes(line), `missing (as a whole line): ${line}`);
    }
    assert.match(text, /tracker_backend_flushes_total\{backend="redis-stream",outcome="ok"\} [1-4]\n/);
    assert.equal(await redisCli(redis.port, 'XLEN', 'metrics:accounting'), '4');
  });
});
