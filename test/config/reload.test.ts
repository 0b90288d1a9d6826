/**
 * Configuration reloads on a tracker booted in this process from a real file, through the management
 * API (POST /config/reload) and RunningTracker.reload(): what a reload applies (an interval, a budget,
 * a blocklist file), what it refuses without any change (an invalid file, a blocklist that does not
 * load, a kept restart key that no longer fits), and what it names as needing a restart.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { boot, type RunningTracker } from '../../src/boot.js';
import { ADMIN_TOKEN, adminClient, type AdminClient } from '../helpers/admin.js';
import { announcePath, decode, httpGet, randomHash, text } from '../helpers/http.js';
import { announce, binaryId, isAnnounceReply, WsClient } from '../helpers/ws.js';

const failure = (answer: Record<string, any>): string | undefined => (answer['failure reason'] === undefined ? undefined : text(answer['failure reason']));

/** The file's settings besides what a test changes: loopback listeners, no jitter (intervals are exact). */
function settings(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    http: { addr: '127.0.0.1:0' },
    udp: { addr: '', secret: 'test-secret-0123456789abcdef' },
    metrics: { addr: '127.0.0.1:0' },
    admin: { addr: '127.0.0.1:0', token: ADMIN_TOKEN },
    interval_jitter: 0,
    budget: { per_address: 0, per_subnet: 0 },
    ...extra,
  };
}

describe('configuration reload (in process, from a file)', () => {
  let dir: string;
  let file: string;
  let running: RunningTracker;
  let api: AdminClient;
  let listFile: string;

  const write = (extra: Record<string, unknown> = {}): Promise<void> => writeFile(file, JSON.stringify(settings(extra)));
  const announceFrom = async (from = '127.0.0.1', extra?: string): Promise<Record<string, any>> =>
    decode((await httpGet('127.0.0.1', running.httpAddress.port, announcePath({ infoHash: randomHash(), port: 7001, extra }), {}, from)).body);
  const metric = async (outcome: string): Promise<number> => {
    const body = (await httpGet('127.0.0.1', running.metricsAddress!.port, '/metrics')).body.toString();
    const match = new RegExp(`^tracker_config_reloads_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(body);
    assert.ok(match, `no tracker_config_reloads_total{outcome="${outcome}"} in /metrics`);
    return Number(match[1]);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-reload-'));
    file = join(dir, 'shoal.json');
    listFile = join(dir, 'bad.txt');
    await writeFile(listFile, '127.0.0.2/32\n');
    await write();
    running = await boot({ config: file, env: {}, logger: pino({ level: 'silent' }) });
    api = adminClient(running.adminAddress!.port);
  });
  after(async () => {
    await running.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    // Every test starts from the file as boot() read it.
    await write();
    assert.equal((await api.send('POST', '/config/reload')).status, 200);
  });

  it('applies a changed interval, budget and blocklist file, and answers which keys changed', async () => {
    assert.equal((await announceFrom()).interval, 1800);
    assert.equal(failure(await announceFrom('127.0.0.2')), undefined);
    const applied = await metric('applied');
    await write({ announce_interval: 600, min_announce_interval: 300, budget: { per_address: 2, per_subnet: 0 }, blocklist: { files: [listFile] } });
    const reply = await api.send('POST', '/config/reload');
    assert.equal(reply.status, 200, reply.body.toString());
    assert.equal(reply.json.outcome, 'applied');
    assert.deepEqual(reply.json.changed.sort(), ['announce_interval', 'blocklist.files', 'budget.per_address', 'min_announce_interval']);
    assert.deepEqual(reply.json.restart, []);
    assert.ok(reply.json.unchanged > 50, `unchanged: ${reply.json.unchanged}`);
    assert.equal(running.config.announce_interval, 600);
    const answer = await announceFrom('127.0.0.3');
    assert.equal(answer.interval, 600);
    assert.equal(answer['min interval'], 300);
    // The budget: two requests per address per window, the third refused.
    assert.equal(failure(await announceFrom('127.0.0.3')), undefined);
    assert.equal(failure(await announceFrom('127.0.0.3')), 'too many requests from your address: slow down and retry later');
    // The list: the file's address is refused now.
    assert.equal(failure(await announceFrom('127.0.0.2')), 'your address is blocked on this tracker (bad.txt)');
    assert.equal(await metric('applied'), applied + 1);
  });

  it('refuses an invalid file with every error and changes nothing', async () => {
    const invalid = await metric('invalid');
    await write({ announce_interval: 'soon', max_numwant: 5000, budget: { per_address: 2, per_subnet: 0 } });
    const reply = await api.send('POST', '/config/reload');
    assert.equal(reply.status, 422, reply.body.toString());
    assert.equal(reply.json.outcome, 'invalid');
    assert.deepEqual(reply.json.errors.map((e: { key: string }) => e.key).sort(), ['announce_interval', 'max_numwant']);
    assert.deepEqual(reply.json.changed, []);
    // The budget of the same file is not applied: nothing is.
    for (let i = 0; i < 4; i++) assert.equal(failure(await announceFrom('127.0.0.4')), undefined);
    assert.equal((await announceFrom()).interval, 1800);
    assert.equal(await metric('invalid'), invalid + 1);
    // Not JSON at all: refused the same way.
    await writeFile(file, '{"announce_interval": 600');
    const broken = await api.send('POST', '/config/reload');
    assert.equal(broken.status, 422);
    assert.match(broken.json.errors[0].reason, /not valid JSON/);
    assert.equal(running.config.announce_interval, 1800);
  });

  it('refuses the whole reload when a blocklist file does not load, the interval of the same file included', async () => {
    await write({ announce_interval: 1200, blocklist: { files: [join(dir, 'missing.txt')] } });
    const reply = await api.send('POST', '/config/reload');
    assert.equal(reply.status, 422, reply.body.toString());
    assert.equal(reply.json.errors[0].key, 'blocklist.files');
    assert.match(reply.json.errors[0].reason, /missing\.txt/);
    assert.equal((await announceFrom()).interval, 1800);
    assert.equal(running.config.announce_interval, 1800);
  });

  it('names the keys that need a restart, keeps their old value and applies the others', async () => {
    const restartNeeded = await metric('restart_needed');
    await write({ announce_interval: 900, http: { addr: '127.0.0.1:0', max_query_length: 256 }, tracker: { params: { reap_interval: 5 } } });
    const reply = await api.send('POST', '/config/reload');
    assert.equal(reply.status, 200, reply.body.toString());
    assert.equal(reply.json.outcome, 'restart_needed');
    assert.deepEqual(reply.json.restart.sort(), ['http.max_query_length', 'tracker.params']);
    assert.deepEqual(reply.json.changed, ['announce_interval']);
    assert.equal(running.config.http.max_query_length, 8192, 'the old value stays in force');
    // A query of 300 bytes, over the new limit and under the old: still served.
    const answer = await announceFrom('127.0.0.1', `pad=${'x'.repeat(300)}`);
    assert.equal(failure(answer), undefined);
    assert.equal(answer.interval, 900);
    assert.equal(await metric('restart_needed'), restartNeeded + 1);
  });

  it('refuses a file whose new values do not fit the restart keys kept as they are', async () => {
    // peer_ttl needs a restart: kept at 3600, it no longer exceeds the new interval.
    await write({ announce_interval: 7200, min_announce_interval: 900, peer_ttl: 86400 });
    const reply = await api.send('POST', '/config/reload');
    assert.equal(reply.status, 422, reply.body.toString());
    assert.equal(reply.json.errors[0].key, 'peer_ttl');
    assert.match(reply.json.errors[0].reason, /kept as they are until a restart/);
    assert.equal(running.config.announce_interval, 1800);
  });

  it('applies a log level to the logger and to its children', async () => {
    const reply = await api.send('POST', '/config/reload');
    assert.equal(reply.json.outcome, 'unchanged');
    await write({ log: { level: 'warn' } });
    assert.deepEqual((await api.send('POST', '/config/reload')).json.changed, ['log.level']);
    assert.equal(running.logger.level, 'warn');
    const child = running.logger.child({ probe: true });
    await write({ log: { level: 'error' } });
    await api.send('POST', '/config/reload');
    assert.deepEqual([running.logger.level, child.level], ['error', 'error']);
  });

  it('applies the WebTorrent announce interval and allowed origins to new sockets and answers', async () => {
    const url = `ws://127.0.0.1:${running.httpAddress.port}/announce`;
    const before = await WsClient.open(url, { origin: 'https://elsewhere.example' });
    const reply = await before.request(announce(binaryId(), binaryId()), isAnnounceReply);
    assert.equal(reply.interval, 120);
    await write({ webtorrent: { announce_interval: 60, origins: ['https://site.example'] } });
    const reloaded = await api.send('POST', '/config/reload');
    assert.deepEqual(reloaded.json.changed.sort(), ['webtorrent.announce_interval', 'webtorrent.origins']);
    // The open socket is answered with the new interval; a new one from another origin is refused.
    assert.equal((await before.request(announce(binaryId(), binaryId()), isAnnounceReply)).interval, 60);
    await assert.rejects(WsClient.open(url, { origin: 'https://elsewhere.example' }), /upgrade refused: 403/);
    const allowed = await WsClient.open(url, { origin: 'https://site.example' });
    assert.equal((await allowed.request(announce(binaryId(), binaryId()), isAnnounceReply)).interval, 60);
    await Promise.all([before.close(), allowed.close()]);
  });

  it('applies trusted_proxies: a forwarded address is believed once its proxy is trusted', async () => {
    const seen = async (): Promise<string> => {
      const path = announcePath({ infoHash: randomHash(), port: 7001 });
      const answer = decode((await httpGet('127.0.0.1', running.httpAddress.port, path, { 'x-forwarded-for': '10.1.2.3' })).body);
      return Buffer.from(answer['external ip']).join('.');
    };
    assert.equal(await seen(), '127.0.0.1');
    await write({ trusted_proxies: ['127.0.0.1/32'] });
    assert.deepEqual((await api.send('POST', '/config/reload')).json.changed, ['trusted_proxies']);
    assert.equal(await seen(), '10.1.2.3');
  });

  it('turns the full scrape on and off', async () => {
    const fullScrape = async (): Promise<Record<string, any>> => decode((await httpGet('127.0.0.1', running.httpAddress.port, '/scrape')).body);
    assert.match(failure(await fullScrape()) ?? '', /full scrape is not allowed/);
    await write({ allow_full_scrape: true, full_scrape_interval: 10 });
    const reply = await api.send('POST', '/config/reload');
    assert.deepEqual(reply.json.changed.sort(), ['allow_full_scrape', 'full_scrape_interval']);
    const answer = await fullScrape();
    assert.equal(failure(answer), undefined);
    assert.ok(answer.files !== undefined, 'a full scrape answers with files');
    await write();
    await api.send('POST', '/config/reload');
    assert.match(failure(await fullScrape()) ?? '', /full scrape is not allowed/);
  });

  it('answers unchanged when nothing changed, and 400 on a bad all parameter', async () => {
    const reply = await api.send('POST', '/config/reload?all=false');
    assert.deepEqual([reply.status, reply.json.outcome, reply.json.changed, reply.json.restart], [200, 'unchanged', [], []]);
    assert.equal((await api.send('POST', '/config/reload?all=yes')).status, 400);
    // On the memory driver, all=true reloads this process and says nothing was published.
    const all = await api.send('POST', '/config/reload?all=true');
    assert.deepEqual([all.status, all.json.published], [200, false]);
    assert.equal((await adminClient(running.adminAddress!.port, 'wrong-token-0123456789').send('POST', '/config/reload')).status, 401);
  });
});
