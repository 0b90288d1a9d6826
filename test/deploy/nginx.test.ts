/**
 * The repository's nginx configuration, run by a real nginx in front of three tracker processes that
 * share one Redis: client addresses arrive through X-Forwarded-For, state is shared, and an untrusted
 * X-Forwarded-For sent straight to a tracker is ignored. Clients use distinct loopback addresses
 * (127.0.0.2, ...) so that their address differs from the proxy's (127.0.0.1).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { announcePath, decode, decodedKey, httpGet, peerList, randomHash, scrapePath } from '../helpers/http.js';
import { freePort, redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { nginxConfig } from '../helpers/nginx.js';
import { toolMissing } from '../helpers/tools.js';
import { startTrackerProcess, type TestTracker } from '../helpers/tracker.js';

const missing = toolMissing('nginx', 'nginx', [['nginx', ['-v']]]) ?? redisMissing();

describe('nginx in front of three trackers', { skip: missing ?? false }, () => {
  let redis: RedisServer;
  let trackers: TestTracker[];
  let nginx: ChildProcess;
  let port: number;
  const viaNginx = (path: string, from: string, headers: Record<string, string> = {}) => httpGet('127.0.0.1', port, path, headers, from);

  before(async () => {
    redis = await startRedis();
    const env = { TRACKER_TRACKER_DRIVER: 'redis', TRACKER_TRACKER_PARAMS: JSON.stringify({ url: redis.url }), TRACKER_TRUSTED_PROXIES: '127.0.0.1/32' };
    trackers = await Promise.all([0, 1, 2].map(() => startTrackerProcess(env)));
    const dir = mkdtempSync(join(tmpdir(), 'shoal-nginx-'));
    port = await freePort();
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      nginxConfig(
        trackers.map((t) => t.port),
        port,
        dir,
      ),
    );
    execFileSync('nginx', ['-t', '-q', '-p', dir, '-c', conf], { stdio: 'inherit' });
    nginx = spawn('nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] });
    for (let i = 0; i < 100; i++) {
      try {
        if ((await httpGet('127.0.0.1', port, '/healthz')).status === 200) break;
      } catch {
        await sleep(50);
      }
    }
  });
  after(async () => {
    nginx?.kill('SIGTERM');
    await Promise.all((trackers ?? []).map((t) => t.close()));
    await redis?.kill();
  });

  it('the trackers see the client address nginx passes on, not nginx', async () => {
    const hash = randomHash();
    await viaNginx(announcePath({ infoHash: hash, port: 7001, left: 0 }), '127.0.0.2');
    const d = decode((await viaNginx(announcePath({ infoHash: hash, port: 7002 }), '127.0.0.3')).body);
    assert.deepEqual(peerList(d.peers, 4), ['127.0.0.2:7001']);
  });

  it('a client cannot spoof its address through nginx', async () => {
    const hash = randomHash();
    await viaNginx(announcePath({ infoHash: hash, port: 7101 }), '127.0.0.6', { 'X-Forwarded-For': '203.0.113.66' });
    const d = decode((await viaNginx(announcePath({ infoHash: hash, port: 7102 }), '127.0.0.7')).body);
    assert.deepEqual(peerList(d.peers, 4), ['127.0.0.6:7101'], 'nginx appends the real address; the tracker takes it');
  });

  it('state is shared whichever replica nginx picks', async () => {
    const hash = randomHash();
    for (let i = 0; i < 12; i++) await viaNginx(announcePath({ infoHash: hash, port: 7200 + i }), '127.0.0.4');
    for (const t of trackers) {
      const s = decode((await t.get(scrapePath([hash]))).body);
      assert.equal(s.files[decodedKey(hash)].incomplete, 12);
    }
  });

  it('an untrusted X-Forwarded-For sent straight to a tracker is ignored', async () => {
    const hash = randomHash();
    await httpGet('127.0.0.1', trackers[0]!.port, announcePath({ infoHash: hash, port: 7301 }), { 'X-Forwarded-For': '198.51.100.9' }, '127.0.0.5');
    const d = decode((await trackers[1]!.get(announcePath({ infoHash: hash, port: 7302 }))).body);
    assert.deepEqual(peerList(d.peers, 4), ['127.0.0.5:7301']);
  });
});
