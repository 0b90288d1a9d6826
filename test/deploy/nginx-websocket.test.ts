/**
 * WebTorrent through the repository's nginx configuration: WebSocket upgrades pass, the tracker sees the
 * client's address (X-Forwarded-For from a trusted proxy) for its per-address cap, offers and answers
 * flow through nginx, and a socket outlives the 5 s read timeout of the HTTP location.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { httpGet } from '../helpers/http.js';
import { freePort } from '../helpers/redis.js';
import { toolMissing } from '../helpers/tools.js';
import { startTracker, type TestTracker } from '../helpers/tracker.js';
import { announce, binaryId, isAnnounceReply, isAnswer, isOffer, offers, WsClient } from '../helpers/ws.js';

const NGINX_CONF = fileURLToPath(new URL('../../../nginx/nginx.conf', import.meta.url));
const missing = toolMissing('nginx', 'nginx', [['nginx', ['-v']]]);

describe('WebTorrent through nginx', { skip: missing ?? false }, () => {
  let tracker: TestTracker;
  let nginx: ChildProcess;
  let port: number;
  const clients: WsClient[] = [];
  const open = async (from: string): Promise<WsClient> => {
    const client = await WsClient.open(`ws://127.0.0.1:${port}/announce`, {}, from);
    clients.push(client);
    return client;
  };

  before(async () => {
    tracker = await startTracker({ trusted_proxies: ['127.0.0.1/32'], webtorrent: { max_connections_per_ip: 1 } });
    const dir = mkdtempSync(join(tmpdir(), 'shoal-nginx-ws-'));
    port = await freePort();
    const conf = join(dir, 'nginx.conf');
    const shipped = readFileSync(NGINX_CONF, 'utf8');
    assert.match(shipped, /proxy_set_header Upgrade \$http_upgrade;/);
    writeFileSync(
      conf,
      shipped
        .replace(/server tracker:6969([^;]*);/, `server 127.0.0.1:${tracker.port}$1;`)
        .replace(/listen 80 reuseport;\s*listen \[::\]:80 reuseport;/, `listen 127.0.0.1:${port};`)
        .replace('worker_processes auto;', `worker_processes 1;\npid ${join(dir, 'nginx.pid')};\nerror_log ${join(dir, 'error.log')} warn;`),
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
    for (const c of clients) c.ws.terminate();
    nginx?.kill('SIGTERM');
    await tracker?.close();
  });

  it('upgrades, relays offers and answers, keeps sockets past the HTTP read timeout, and caps by client address', async () => {
    const a = await open('127.0.0.2');
    const b = await open('127.0.0.3');
    // One socket per address: the tracker sees 127.0.0.2 (from X-Forwarded-For), not nginx's 127.0.0.1.
    await assert.rejects(open('127.0.0.2'), /upgrade refused: 429/);
    const hash = binaryId();
    const [idA, idB] = [binaryId(), binaryId()];
    await a.request(announce(hash, idA), isAnnounceReply);
    await sleep(6000); // past the 5 s proxy_read_timeout of the HTTP location
    await b.request(announce(hash, idB, { offers: offers(1) }), isAnnounceReply);
    const offer = await a.next(isOffer);
    a.send({ action: 'announce', info_hash: hash, peer_id: idA, to_peer_id: idB, offer_id: offer.offer_id, answer: { type: 'answer', sdp: 'v=0' } });
    assert.equal((await b.next(isAnswer)).peer_id, idA);
  });

  it('still proxies plain HTTP on the same URLs', async () => {
    assert.equal((await httpGet('127.0.0.1', port, '/healthz', {}, '127.0.0.4')).status, 200);
  });
});
