/**
 * A real WebTorrent transfer between two browser pages through two tracker replicas: headless Chromium
 * (Debian's `chromium`) runs WebTorrent's own browser bundle; the seeder page announces to replica A, the
 * leecher page to replica B only, both replicas share one Redis. The leecher finds the seeder only
 * through the offers and answers the replicas relay to each other, downloads a generated file of a few
 * MiB over WebRTC, and its SHA-256 must match.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { packedPackage, WEBTORRENT_VERSION } from '../helpers/npm-package.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { toolMissing } from '../helpers/tools.js';
import { startTrackerProcess, type ChildTracker, type TestTracker } from '../helpers/tracker.js';
import { httpGet } from '../helpers/http.js';
import { waitUntil } from '../helpers/wait.js';

const CHROMIUM = '/usr/bin/chromium';
const missing = redisMissing() ?? toolMissing('Chromium', 'chromium', [[CHROMIUM, ['--version']]]);
const FILE_SIZE = 3 * 1024 * 1024 + 12345;

/** Serves the bundle, the file to seed, and an empty page (ES modules need an http origin). */
function staticServer(bundle: Buffer, file: Buffer): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/webtorrent.min.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(bundle);
    } else if (req.url === '/data.bin') {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(file);
    } else {
      res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>shoal webtorrent test</title>');
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('a WebTorrent transfer between two browsers through two replicas', { skip: missing ?? false, timeout: 240_000 }, () => {
  let redis: RedisServer;
  let trackers: Array<TestTracker & { proc: ChildTracker }>;
  let browser: Browser;
  let web: Server;
  const file = randomBytes(FILE_SIZE);
  const sha256 = createHash('sha256').update(file).digest('hex');

  before(async () => {
    const bundle = readFileSync(join(await packedPackage('webtorrent', WEBTORRENT_VERSION), 'dist', 'webtorrent.min.js'));
    web = await staticServer(bundle, file);
    redis = await startRedis();
    const env = { TRACKER_TRACKER_DRIVER: 'redis', TRACKER_TRACKER_PARAMS: JSON.stringify({ url: redis.url }), TRACKER_METRICS_ADDR: '127.0.0.1:0' };
    trackers = await Promise.all([startTrackerProcess(env), startTrackerProcess(env)]);
    for (const t of trackers) await waitUntil('replica ready', async () => (await t.get('/readyz')).status === 200, 30_000, 50);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Each launch gets a fresh temporary profile. Host candidates as plain addresses: the two pages
      // connect over this machine's own interfaces, with no STUN server to reach.
      args: ['--no-sandbox', '--disable-features=WebRtcHideLocalIpsWithMdns', '--disable-dev-shm-usage'],
    });
  });

  after(async () => {
    await browser?.close();
    await Promise.all((trackers ?? []).map((t) => t.close()));
    await redis?.kill();
    web?.close();
  });

  it('the leecher on replica B downloads the file the seeder on replica A seeds, and its SHA-256 matches', async () => {
    const [a, b] = trackers as [TestTracker & { proc: ChildTracker }, TestTracker & { proc: ChildTracker }];
    const origin = `http://127.0.0.1:${(web.address() as AddressInfo).port}/`;
    const seeder = await browser.newPage();
    const leecher = await browser.newPage();
    const logs: string[] = [];
    for (const [name, page] of [
      ['seeder', seeder],
      ['leecher', leecher],
    ] as const) {
      page.on('console', (m) => logs.push(`${name}: ${m.text()}`));
      page.on('pageerror', (e) => logs.push(`${name} error: ${e.message}`));
      await page.goto(origin);
    }

    const infoHash: string = await seeder.evaluate(async (trackerUrl: string) => {
      const bundleUrl: string = '/webtorrent.min.js';
      const { default: WebTorrent } = await import(bundleUrl);
      const client = new WebTorrent({ tracker: { webTorrentConfig: { iceServers: [] } }, dht: false, lsd: false, utp: false });
      const data = new Uint8Array(await (await fetch('/data.bin')).arrayBuffer());
      (globalThis as any).client = client;
      return new Promise<string>((resolve, reject) => {
        client.on('error', (e: Error) => reject(e));
        client.seed(new File([data], 'data.bin'), { announce: [trackerUrl], name: 'data.bin' }, (torrent: any) => resolve(torrent.infoHash));
      });
    }, `ws://127.0.0.1:${a.port}/`);
    assert.match(infoHash, /^[0-9a-f]{40}$/);

    const downloaded = leecher.evaluate(
      async ({ trackerUrl, hash }: { trackerUrl: string; hash: string }) => {
        const bundleUrl: string = '/webtorrent.min.js';
        const { default: WebTorrent } = await import(bundleUrl);
        const client = new WebTorrent({ tracker: { webTorrentConfig: { iceServers: [] } }, dht: false, lsd: false, utp: false });
        // No tracker in the magnet link: the leecher knows replica B only.
        const magnet = `magnet:?xt=urn:btih:${hash}&dn=data.bin`;
        return new Promise<{ sha256: string; length: number }>((resolve, reject) => {
          client.on('error', (e: Error) => reject(e));
          client.add(magnet, { announce: [trackerUrl] }, (torrent: any) => {
            torrent.on('done', async () => {
              const bytes = await torrent.files[0].arrayBuffer();
              const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
              resolve({ sha256: [...digest].map((x) => x.toString(16).padStart(2, '0')).join(''), length: bytes.byteLength });
            });
          });
        });
      },
      { trackerUrl: `ws://127.0.0.1:${b.port}/`, hash: infoHash },
    );
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no download within 120 s; page logs:\n${logs.join('\n')}`)), 120_000));
    const result = await Promise.race([downloaded, timeout]);
    assert.equal(result.length, FILE_SIZE);
    assert.equal(result.sha256, sha256);
    // The pages met only through the replicas: B relayed the leecher's offer to A, A the seeder's answer to B.
    const relayed = async (t: TestTracker & { proc: ChildTracker }, kind: string): Promise<number> => {
      const metrics = (JSON.parse(t.proc.lines.find((l) => l.includes('"tracker started"'))!) as { metrics: string }).metrics;
      const text = (await httpGet('127.0.0.1', Number(metrics.slice(metrics.lastIndexOf(':') + 1)), '/metrics')).body.toString();
      return Number(new RegExp(`tracker_ws_relayed_total\\{kind="${kind}",route="remote"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    };
    assert.ok((await relayed(b, 'offer')) >= 1, 'offers went from B to A');
    assert.ok((await relayed(a, 'answer')) >= 1, 'answers went from A to B');
  });
});
