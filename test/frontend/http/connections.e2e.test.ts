/**
 * HTTP connection hygiene over real sockets on loopback (127.0.0.0/8 gives each test many source
 * addresses): slow heads and silent connections closed within the header timeout while announces carry
 * on, the per-address and total caps, keep-alive idle connections, malformed requests, and the cap on
 * requests in flight per forwarded address behind a trusted proxy.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { registerTrackerDriver } from '../../../src/store/registry.js';
import { MemoryStore } from '../../../src/store/memory/store.js';
import { announcePath, decode, httpGet, randomHash, text } from '../../helpers/http.js';
import { holdConnection, metric, type HeldConnection } from '../../helpers/slow-client.js';
import { startTracker, startTrackerProcess, type TestTracker } from '../../helpers/tracker.js';
import { waitUntil } from '../../helpers/wait.js';

const SLOW_HEAD = 'GET /announce?info_hash=';
const METRICS = { addr: '127.0.0.1:0' };

/** An announce from `localAddress` on a fresh connection: true when it got peers counts, not a failure. */
async function announceOk(t: TestTracker, localAddress = '127.0.0.1'): Promise<boolean> {
  const reply = await httpGet('127.0.0.1', t.port, announcePath({ infoHash: randomHash() }), {}, localAddress);
  const d = decode(reply.body);
  return reply.status === 200 && d['failure reason'] === undefined && d.incomplete === 1;
}

describe('HTTP connection hygiene', () => {
  const trackers: TestTracker[] = [];
  const start = async (config: Record<string, unknown>): Promise<TestTracker> => {
    const t = await startTracker({ metrics: METRICS, ...config });
    trackers.push(t);
    return t;
  };
  after(() => Promise.all(trackers.map((t) => t.close())));

  it('with the defaults, 250 slow-head and 20 silent connections are closed within the header timeout while announces succeed', async () => {
    const t = await start({});
    const headerTimeoutMs = 5000;
    const held: HeldConnection[] = [];
    // 25 source addresses, 10 connections each, every one dripping a byte a second into an unfinished head.
    for (let a = 0; a < 25; a++)
      for (let i = 0; i < 10; i++)
        held.push(await holdConnection({ host: '127.0.0.1', port: t.port, localAddress: `127.0.1.${10 + a}`, head: SLOW_HEAD, dripMs: 1000 }));
    const silent: HeldConnection[] = [];
    for (let i = 0; i < 20; i++) silent.push(await holdConnection({ host: '127.0.0.1', port: t.port, localAddress: '127.0.2.1', head: '', dripMs: 0 }));
    assert.equal(await metric(t.metricsPort!, 'tracker_http_connections_open'), 270, 'every connection is held at first');

    // Announces from another address while the slow connections are held: every one succeeds.
    let announces = 0;
    let failed = 0;
    const allClosed = Promise.all([...held, ...silent].map((c) => c.closed));
    let done = false;
    void allClosed.then(() => (done = true));
    while (!done) {
      if (!(await announceOk(t))) failed++;
      announces++;
      await sleep(100);
    }
    const slow = await Promise.all(held.map((c) => c.closed));
    const quiet = await Promise.all(silent.map((c) => c.closed));
    const slowestMs = Math.max(...slow.map((c) => c.heldMs), ...quiet.map((c) => c.heldMs));
    const soonestMs = Math.min(...slow.map((c) => c.heldMs), ...quiet.map((c) => c.heldMs));
    console.log(
      `# 250 slow-head + 20 silent connections held ${(soonestMs / 1000).toFixed(2)}-${(slowestMs / 1000).toFixed(2)} s; ${announces} announces meanwhile, ${failed} failed`,
    );
    assert.equal(failed, 0);
    assert.ok(announces >= 20, `${announces} announces`);
    // node checks heads on an interval (1 s here): closed between the timeout and the timeout + one check (+ slack for a busy machine).
    assert.ok(soonestMs >= headerTimeoutMs - 100, `closed early: ${soonestMs} ms`);
    assert.ok(slowestMs <= headerTimeoutMs + 2500, `held too long: ${slowestMs} ms`);
    // Each is told why.
    for (const c of [...slow, ...quiet]) assert.match(c.received.toString('latin1'), /^HTTP\/1\.1 408 /);
    assert.equal(await metric(t.metricsPort!, 'tracker_http_connections_closed_total', 'reason="timeout"'), 270);
    assert.equal(await metric(t.metricsPort!, 'tracker_http_connections_open'), 0);
  });

  it('caps open connections per client address: the next one is closed at once, other addresses are served', async () => {
    const t = await start({ http: { max_connections_per_address: 5, header_timeout: 30 } });
    const held: HeldConnection[] = [];
    for (let i = 0; i < 5; i++) held.push(await holdConnection({ host: '127.0.0.1', port: t.port, localAddress: '127.0.3.1', head: SLOW_HEAD, dripMs: 0 }));
    await waitUntil('5 connections counted', async () => (await metric(t.metricsPort!, 'tracker_http_connections_open')) === 5);
    const refused = await holdConnection({ host: '127.0.0.1', port: t.port, localAddress: '127.0.3.1', head: SLOW_HEAD, dripMs: 0 });
    const closed = await Promise.race([refused.closed, sleep(2000).then(() => null)]);
    assert.ok(closed, 'the sixth connection is closed');
    assert.ok(closed.heldMs < 1000, `closed after ${closed.heldMs} ms`);
    assert.equal(closed.received.length, 0, 'without an answer');
    await assert.rejects(
      httpGet('127.0.0.1', t.port, announcePath({ infoHash: randomHash() }), {}, '127.0.3.1'),
      'an announce from the capped address is refused',
    );
    assert.ok(await announceOk(t, '127.0.3.2'), 'another address is served');
    assert.equal(await metric(t.metricsPort!, 'tracker_http_connections_closed_total', 'reason="address_cap"'), 2);
    // One held connection goes: the address gets its place back.
    held[0]!.socket.destroy();
    await held[0]!.closed;
    await waitUntil('the slot is free', async () => (await metric(t.metricsPort!, 'tracker_http_connections_open')) === 4);
    assert.ok(await announceOk(t, '127.0.3.1'));
    for (const c of held) c.socket.destroy();
  });

  it('caps open connections in total: beyond it new connections are closed at once, and the log says so (the CLI, configured from the environment)', async () => {
    const t = await startTrackerProcess({
      TRACKER_HTTP_MAX_CONNECTIONS: '8',
      TRACKER_HTTP_HEADER_TIMEOUT: '30s',
      TRACKER_METRICS_ADDR: '127.0.0.1:0',
    });
    trackers.push(t);
    const startLine = await t.proc.waitForLine((l) => l.includes('"tracker started"'));
    const metricsAddress = (JSON.parse(startLine) as { metrics: string }).metrics;
    const metricsPort = Number(metricsAddress.slice(metricsAddress.lastIndexOf(':') + 1));
    const held: HeldConnection[] = [];
    for (let i = 0; i < 8; i++)
      held.push(await holdConnection({ host: '127.0.0.1', port: t.port, localAddress: `127.0.4.${i + 1}`, head: SLOW_HEAD, dripMs: 0 }));
    await waitUntil('8 connections counted', async () => (await metric(metricsPort, 'tracker_http_connections_open')) === 8);
    const refused: HeldConnection[] = [];
    for (let i = 0; i < 3; i++)
      refused.push(await holdConnection({ host: '127.0.0.1', port: t.port, localAddress: '127.0.4.100', head: SLOW_HEAD, dripMs: 0 }));
    for (const c of refused) {
      const closed = await Promise.race([c.closed, sleep(2000).then(() => null)]);
      assert.ok(closed && closed.heldMs < 1000 && closed.received.length === 0, 'connections beyond the cap are closed at once, unanswered');
    }
    // The metrics listener is another server: it still answers.
    assert.equal(await metric(metricsPort, 'tracker_http_connections_closed_total', 'reason="total_cap"'), 3);
    await t.proc.waitForLine((l) => l.includes('http.max_connections (8) reached'), 5000);
    assert.equal(t.proc.lines.filter((l) => l.includes('http.max_connections (8) reached')).length, 1, 'one warning, not one per connection');
    for (const c of held) c.socket.destroy();
    await Promise.all(held.map((c) => c.closed));
    await waitUntil('connections released', async () => (await metric(metricsPort, 'tracker_http_connections_open')) === 0);
    assert.equal(await metric(metricsPort, 'tracker_http_connections_closed_total', 'reason="malformed"'), 0, 'a client leaving mid-head is not malformed');
    assert.ok(await announceOk(t, '127.0.4.100'));
  });

  it('caps an IPv6 client by its /64 over ::1', async () => {
    const t = await start({ http: { max_connections_per_address: 2, header_timeout: 30 } });
    const held: HeldConnection[] = [];
    for (let i = 0; i < 2; i++) held.push(await holdConnection({ host: '::1', port: t.port, head: SLOW_HEAD, dripMs: 0 }));
    const refused = await holdConnection({ host: '::1', port: t.port, head: SLOW_HEAD, dripMs: 0 });
    const closed = await Promise.race([refused.closed, sleep(2000).then(() => null)]);
    assert.ok(closed && closed.heldMs < 1000 && closed.received.length === 0, 'the third connection from ::1 is closed at once');
    assert.ok(await announceOk(t, '127.0.0.1'), 'IPv4 clients are counted apart');
    for (const c of held) c.socket.destroy();
  });

  it('closes an idle keep-alive connection after keep_alive_timeout, counted as idle', async () => {
    const t = await start({ http: { keep_alive_timeout: 1 } });
    const c = await holdConnection({
      host: '127.0.0.1',
      port: t.port,
      localAddress: '127.0.5.1',
      head: `GET ${announcePath({ infoHash: randomHash() })} HTTP/1.1\r\nHost: x\r\n\r\n`,
      dripMs: 0,
    });
    const { heldMs, received } = await c.closed;
    assert.match(received.toString('latin1'), /^HTTP\/1\.1 200 /);
    // node adds a second to the keep-alive timeout (so that a client reusing the connection at the last moment wins the race).
    assert.ok(heldMs >= 900 && heldMs < 4000, `held ${heldMs} ms`);
    assert.equal(await metric(t.metricsPort!, 'tracker_http_connections_closed_total', 'reason="keep_alive_idle"'), 1);
    assert.equal(await metric(t.metricsPort!, 'tracker_http_connections_closed_total', 'reason="timeout"'), 0);
  });

  it('answers a malformed request with a tiny 400 and closes at once', async () => {
    const t = await start({});
    for (const garbage of [
      '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
      'BREW /pot HTCPCP/1.0\r\n\r\n',
    ]) {
      const c = await holdConnection({ host: '127.0.0.1', port: t.port, localAddress: '127.0.6.1', head: garbage, dripMs: 0 });
      const { heldMs, received } = await c.closed;
      assert.ok(heldMs < 1000, `held ${heldMs} ms`);
      assert.match(received.toString('latin1'), /^HTTP\/1\.1 400 Bad Request\r\n/);
      assert.ok(received.length < 100, `${received.length} bytes`);
    }
    assert.equal(await metric(t.metricsPort!, 'tracker_http_connections_closed_total', 'reason="malformed"'), 3);
    // A head over node's limit (16 KiB) gets node's own answer, 431, not 400.
    const big = await holdConnection({
      host: '127.0.0.1',
      port: t.port,
      localAddress: '127.0.6.1',
      head: `GET /announce HTTP/1.1\r\nHost: x\r\nX-Filler: ${'a'.repeat(20_000)}\r\n\r\n`,
      dripMs: 0,
    });
    assert.match((await big.closed).received.toString('latin1'), /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    assert.equal(await metric(t.metricsPort!, 'tracker_http_connections_closed_total', 'reason="malformed"'), 4);
    assert.ok(await announceOk(t));
  });

  it('the metrics listener (public by default) has the same timeouts and takes at most 64 connections', async () => {
    const t = await start({ http: { header_timeout: 1, request_timeout: 2 } });
    const slowHead = await holdConnection({ host: '127.0.0.1', port: t.metricsPort!, localAddress: '127.0.8.1', head: 'GET /metr', dripMs: 200 });
    const silent = await holdConnection({ host: '127.0.0.1', port: t.metricsPort!, localAddress: '127.0.8.1', head: '', dripMs: 0 });
    const slow = await slowHead.closed;
    assert.ok(slow.heldMs >= 900 && slow.heldMs < 2500, `slow head held ${slow.heldMs} ms`);
    assert.match(slow.received.toString('latin1'), /^HTTP\/1\.1 408 /);
    const quiet = await silent.closed;
    assert.ok(quiet.heldMs >= 900 && quiet.heldMs < 2500, `silent connection held ${quiet.heldMs} ms`);
    const held: HeldConnection[] = [];
    for (let i = 0; i < 64; i++)
      held.push(await holdConnection({ host: '127.0.0.1', port: t.metricsPort!, localAddress: `127.0.8.${2 + (i % 8)}`, head: 'GET /', dripMs: 100 }));
    const refused = await holdConnection({ host: '127.0.0.1', port: t.metricsPort!, localAddress: '127.0.8.20', head: 'GET /', dripMs: 0 });
    const closed = await Promise.race([refused.closed, sleep(800).then(() => null)]);
    assert.ok(closed && closed.heldMs < 500, 'the 65th connection is closed at once');
    for (const c of held) c.socket.destroy();
    await Promise.all(held.map((c) => c.closed));
    await waitUntil('the metrics listener answers again', async () => (await metric(t.metricsPort!, 'tracker_http_connections_open').catch(() => -1)) === 0);
  });

  it('behind a trusted proxy, caps requests in flight per forwarded address, not the proxy connections', async () => {
    // A memory store whose announces wait for a gate: requests stay in flight as long as the test wants.
    let release: () => void = () => {};
    let gate = new Promise<void>((resolve) => (release = resolve));
    registerTrackerDriver('gated-memory', {
      open(_params, ctx) {
        const inner = new MemoryStore({ peerTtlMs: ctx.peerTtl * 1000, reapIntervalMs: 250 });
        return Promise.resolve({
          catalogue: inner.catalogue,
          announce: async (request) => {
            await gate;
            return inner.announce(request);
          },
          scrape: (hashes) => inner.scrape(hashes),
          ready: () => inner.ready(),
          close: () => inner.close(),
        });
      },
    });
    const t = await start({ tracker: { driver: 'gated-memory' }, trusted_proxies: ['127.0.0.1/32'], http: { max_connections_per_address: 2 } });
    const forwarded = (ip: string) => httpGet('127.0.0.1', t.port, announcePath({ infoHash: randomHash() }), { 'X-Forwarded-For': ip });
    const inFlight = [forwarded('203.0.113.9'), forwarded('203.0.113.9'), forwarded('203.0.113.10')];
    await waitUntil('3 requests in flight', async () => (await metric(t.metricsPort!, 'tracker_http_connections_open')) >= 3);
    await sleep(100);
    // A third from the same forwarded address: refused at once with a failure reason.
    const refused = decode((await forwarded('203.0.113.9')).body);
    assert.match(text(refused['failure reason']), /too many requests in flight from your address/);
    assert.equal(await metric(t.metricsPort!, 'tracker_http_forwarded_refused_total'), 1);
    // The proxy's own address holds 4 connections (more than the cap of 2): none was refused.
    assert.equal(await metric(t.metricsPort!, 'tracker_http_connections_closed_total', 'reason="address_cap"'), 0);
    release();
    for (const reply of await Promise.all(inFlight)) assert.equal(decode(reply.body).incomplete, 1);
    gate = Promise.resolve();
    assert.equal(decode((await forwarded('203.0.113.9')).body).incomplete, 1, 'served again once its requests are answered');
  });
});
