/**
 * HTTPS and WSS on the tracker's listener with real self-signed certificates (openssl): announce, scrape,
 * WebTorrent, https_addr beside a plain addr, the handshake timeout, and certificates replaced on disk
 * (a file renamed over, a Kubernetes Secret's `..data` swap, SIGHUP) served without a restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { boot, type RunningTracker } from '../../../src/boot.js';
import { announcePath, decode, httpGet, peerList, randomHash, scrapePath } from '../../helpers/http.js';
import { metric } from '../../helpers/slow-client.js';
import { httpsGet, makeCertificate, servedFingerprint, type TestCertificate } from '../../helpers/tls.js';
import { startTrackerProcess } from '../../helpers/tracker.js';
import { waitUntil } from '../../helpers/wait.js';
import { announce, binaryId, isAnnounceReply, WsClient } from '../../helpers/ws.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-tls-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function bootTls(http: Record<string, unknown>): Promise<RunningTracker> {
  return boot({
    config: { http: { addr: '127.0.0.1:0', ...http }, udp: { addr: '' }, metrics: { addr: '127.0.0.1:0' } },
    env: {},
    logger: pino({ level: 'silent' }),
  });
}

/** Writes `content` next to `path` and renames it over (what certbot and most tools do). */
function replaceFile(path: string, content: Buffer): void {
  writeFileSync(path + '.new', content);
  renameSync(path + '.new', path);
}

describe('HTTPS and WSS on http.addr', () => {
  let running: RunningTracker;
  let pair: TestCertificate;
  let port: number;

  before(async () => {
    pair = makeCertificate(tempDir(), 'tracker');
    running = await bootTls({ tls: { cert: pair.certPath, key: pair.keyPath, handshake_timeout: 1 } });
    port = running.httpAddress.port;
  });
  after(() => running.close());

  it('answers an announce (the fast path) and a scrape over HTTPS, with the configured certificate', async () => {
    assert.equal(await servedFingerprint(port), pair.fingerprint);
    const infoHash = randomHash();
    await httpsGet(port, announcePath({ infoHash, port: 7001, left: 0 }), pair.cert);
    const reply = await httpsGet(port, announcePath({ infoHash, port: 7002 }), pair.cert);
    assert.equal(reply.status, 200);
    const body = decode(reply.body);
    assert.deepEqual(peerList(body.peers, 4), ['127.0.0.1:7001']);
    assert.equal(reply.headers['content-type'], 'text/plain');
    const scrape = decode((await httpsGet(port, scrapePath([infoHash]), pair.cert)).body);
    const files = Object.values(scrape.files as Record<string, { complete: number; incomplete: number }>);
    assert.deepEqual(
      files.map((f) => [f.complete, f.incomplete]),
      [[1, 1]],
    );
  });

  it('answers a WebTorrent announce over WSS', async () => {
    const client = await WsClient.open(`wss://127.0.0.1:${port}/announce`, {}, undefined, pair.cert);
    try {
      const hash = binaryId();
      const reply = await client.request(announce(hash, binaryId(), { left: 0, event: 'started' }), isAnnounceReply);
      assert.deepEqual([reply.info_hash, reply.complete, reply.incomplete], [hash, 1, 0]);
    } finally {
      client.ws.terminate();
    }
  });

  it('closes a connection that does not finish its handshake within handshake_timeout, and counts it', async () => {
    const before = await metric(running.metricsAddress!.port, 'tracker_http_connections_closed_total', 'reason="tls_handshake"');
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.on('close', () => resolve());
      setTimeout(() => reject(new Error('a silent connection was still open after 5 s')), 5000).unref();
    });
    assert.ok(performance.now() - started >= 900, 'not closed before the timeout');
    await waitUntil('the close is counted', async () => {
      const now = await metric(running.metricsAddress!.port, 'tracker_http_connections_closed_total', 'reason="tls_handshake"');
      return now === before + 1;
    });
  });

  it('refuses plain HTTP on the HTTPS listener without an answer in clear', async () => {
    await assert.rejects(httpGet('127.0.0.1', port, '/healthz'));
  });
});

describe('https_addr beside a plain http.addr', () => {
  let running: RunningTracker;
  let pair: TestCertificate;

  before(async () => {
    pair = makeCertificate(tempDir(), 'tracker');
    running = await bootTls({ https_addr: '127.0.0.1:0', tls: { cert: pair.certPath, key: pair.keyPath } });
  });
  after(() => running.close());

  it('serves plain HTTP on addr and HTTPS and WSS on https_addr, one tracker behind both', async () => {
    const plain = running.httpAddress.port;
    const secure = running.httpsAddress!.port;
    assert.notEqual(plain, secure);
    const infoHash = randomHash();
    const first = await httpGet('127.0.0.1', plain, announcePath({ infoHash, port: 7001, left: 0 }));
    assert.equal(first.status, 200);
    const second = decode((await httpsGet(secure, announcePath({ infoHash, port: 7002 }), pair.cert)).body);
    assert.deepEqual(peerList(second.peers, 4), ['127.0.0.1:7001']);
    assert.equal(await servedFingerprint(secure), pair.fingerprint);
    const client = await WsClient.open(`wss://127.0.0.1:${secure}/announce`, {}, undefined, pair.cert);
    try {
      const reply = await client.request(announce(binaryId(), binaryId()), isAnnounceReply);
      assert.equal(reply.action, 'announce');
    } finally {
      client.ws.terminate();
    }
  });
});

describe('http.max_connections with https_addr', () => {
  it('counts the connections of both listeners together', async () => {
    const pair = makeCertificate(tempDir(), 'tracker');
    const running = await bootTls({ https_addr: '127.0.0.1:0', max_connections: 2, tls: { cert: pair.certPath, key: pair.keyPath } });
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const socket = connect(running.httpAddress.port, '127.0.0.1');
        sockets.push(socket);
        await new Promise((resolve) => socket.once('connect', resolve));
      }
      await waitUntil('both plain connections counted', async () => (await metric(running.metricsAddress!.port, 'tracker_http_connections_open')) === 2);
      await assert.rejects(servedFingerprint(running.httpsAddress!.port), 'the HTTPS listener is full too');
      assert.equal(await metric(running.metricsAddress!.port, 'tracker_http_connections_closed_total', 'reason="total_cap"'), 1);
    } finally {
      for (const socket of sockets) socket.destroy();
      await running.close();
    }
  });
});

describe('certificates reloaded without a restart', () => {
  it('serves a certificate renamed over the old files, and keeps the old one when the new pair is bad', async () => {
    const dir = tempDir();
    const first = makeCertificate(dir, 'live');
    const running = await bootTls({ tls: { cert: first.certPath, key: first.keyPath } });
    const port = running.httpAddress.port;
    const metricsPort = running.metricsAddress!.port;
    try {
      assert.equal(await servedFingerprint(port), first.fingerprint);
      assert.equal(await metric(metricsPort, 'tracker_tls_certificate_expiry_timestamp_seconds'), first.notAfter);
      const second = makeCertificate(join(dir, 'next'), 'live');
      replaceFile(first.keyPath, second.key);
      replaceFile(first.certPath, second.cert);
      await waitUntil('the new certificate is served', async () => (await servedFingerprint(port)) === second.fingerprint);
      assert.equal(await metric(metricsPort, 'tracker_tls_reloads_total', 'outcome="ok"'), 1);
      assert.equal(await metric(metricsPort, 'tracker_tls_certificate_expiry_timestamp_seconds'), second.notAfter);

      // A certificate whose key is another one's: refused, the second pair stays.
      const other = makeCertificate(join(dir, 'other'), 'live');
      replaceFile(first.certPath, other.cert);
      await waitUntil('the bad pair is counted', async () => (await metric(metricsPort, 'tracker_tls_reloads_total', 'outcome="error"')) === 1);
      assert.equal(await servedFingerprint(port), second.fingerprint);
      // Garbage in place of the certificate: the same.
      replaceFile(first.certPath, Buffer.from('not a certificate\n'));
      await waitUntil('the garbage is counted', async () => (await metric(metricsPort, 'tracker_tls_reloads_total', 'outcome="error"')) === 2);
      assert.equal(await servedFingerprint(port), second.fingerprint);
      assert.equal(await metric(metricsPort, 'tracker_tls_certificate_expiry_timestamp_seconds'), second.notAfter);
      const https = await httpsGet(port, '/healthz', second.cert);
      assert.equal(https.body.toString(), 'ok\n');
    } finally {
      await running.close();
    }
  });

  it('follows a Kubernetes Secret mount: the `..data` symlink swapped to a new directory', async () => {
    // The layout the kubelet writes: tls.crt -> ..data/tls.crt, ..data -> ..TIMESTAMP/.
    const mount = tempDir();
    const writeVersion = (name: string, pair: TestCertificate): void => {
      mkdirSync(join(mount, name));
      writeFileSync(join(mount, name, 'tls.crt'), pair.cert);
      writeFileSync(join(mount, name, 'tls.key'), pair.key);
    };
    const first = makeCertificate(tempDir(), 'a');
    const second = makeCertificate(tempDir(), 'b');
    writeVersion('..2026_01_01_00_00_00.1', first);
    symlinkSync('..2026_01_01_00_00_00.1', join(mount, '..data'));
    symlinkSync('..data/tls.crt', join(mount, 'tls.crt'));
    symlinkSync('..data/tls.key', join(mount, 'tls.key'));
    const running = await bootTls({ tls: { cert: join(mount, 'tls.crt'), key: join(mount, 'tls.key') } });
    const port = running.httpAddress.port;
    try {
      assert.equal(await servedFingerprint(port), first.fingerprint);
      writeVersion('..2026_01_02_00_00_00.2', second);
      symlinkSync('..2026_01_02_00_00_00.2', join(mount, '..data_tmp'));
      renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
      rmSync(join(mount, '..2026_01_01_00_00_00.1'), { recursive: true });
      await waitUntil('the new certificate is served', async () => (await servedFingerprint(port)) === second.fingerprint);
    } finally {
      await running.close();
    }
  });

  it('reads the files again on SIGHUP (a change the directory watch does not see), and keeps running', async () => {
    // The configured paths are symlinks into another directory, and the files there are rewritten in
    // place: nothing changes in the watched directory, so only the signal can bring the new pair in.
    const linked = tempDir();
    const real = tempDir();
    const first = makeCertificate(real, 'real');
    const second = makeCertificate(tempDir(), 'next');
    symlinkSync(first.certPath, join(linked, 'tls.crt'));
    symlinkSync(first.keyPath, join(linked, 'tls.key'));
    const tracker = await startTrackerProcess({
      TRACKER_HTTP_ADDR: '127.0.0.1:0',
      TRACKER_HTTP_TLS_CERT: join(linked, 'tls.crt'),
      TRACKER_HTTP_TLS_KEY: join(linked, 'tls.key'),
      TRACKER_UDP_ADDR: '',
    });
    try {
      assert.equal(await servedFingerprint(tracker.port), first.fingerprint);
      writeFileSync(first.keyPath, second.key);
      writeFileSync(first.certPath, second.cert);
      // Longer than the watch's quiet time: had the watch seen this, the new pair would be served by now.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal(await servedFingerprint(tracker.port), first.fingerprint);
      tracker.proc.child.kill('SIGHUP');
      await waitUntil('the new certificate is served', async () => (await servedFingerprint(tracker.port)) === second.fingerprint);
      await tracker.proc.waitForLine((line) => line.includes('new certificate served'));
      assert.equal(tracker.proc.child.exitCode, null);
    } finally {
      await tracker.close();
    }
  });
});
